import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bytesSize, ellipsis, goFormatG, goQuote, humanDuration, humanSize, humanSizeWithPrecision, ramInBytes, rfc3339NanoFixed, truncateId } from '../../src/common/units';
import { tabwrite } from '../../src/cli/format/tabwriter';
import { ContainerContext, displayablePorts, PS_HEADER, psFormat } from '../../src/cli/format/containers';
import { IMAGES_HEADER, imageRows, imagesFormat } from '../../src/cli/format/images';
import { FormatError, renderList } from '../../src/cli/format/formatter';
import { eventLine } from '../../src/cli/commands/system';
import type { ContainerSummary } from '../../src/client/types';

const S = 1000;
const MIN = 60 * S;
const H = 60 * MIN;
const DAY = 24 * H;

test('HumanDuration matches go-units at every boundary', () => {
  const cases: [number, string][] = [
    [0, 'Less than a second'], [999, 'Less than a second'], [S, '1 second'], [59 * S, '59 seconds'],
    [60 * S, 'About a minute'], [119 * S, 'About a minute'], [2 * MIN, '2 minutes'], [59 * MIN, '59 minutes'],
    [60 * MIN, 'About an hour'], [89 * MIN, 'About an hour'], [90 * MIN, '2 hours'], [47 * H, '47 hours'],
    [48 * H, '2 days'], [13 * DAY, '13 days'], [14 * DAY, '2 weeks'], [59 * DAY, '8 weeks'], [60 * DAY, '2 months'],
    [729 * DAY, '24 months'], [730 * DAY, '2 years'], [3 * 365 * DAY, '3 years'],
  ];
  for (const [ms, want] of cases) assert.equal(humanDuration(ms), want, `${ms} ms`);
});

test('HumanSize / BytesSize and Go %g', () => {
  assert.equal(humanSizeWithPrecision(4261234, 3), '4.26MB');
  assert.equal(humanSizeWithPrecision(0, 3), '0B');
  assert.equal(humanSizeWithPrecision(999, 3), '999B');
  assert.equal(humanSizeWithPrecision(1000, 3), '1kB');
  assert.equal(humanSizeWithPrecision(1_500_000_000, 3), '1.5GB');
  assert.equal(humanSizeWithPrecision(999_999, 3), '1e+03kB'); // go-units' own quirk, kept
  assert.equal(humanSizeWithPrecision(123_456_789, 3), '123MB');
  assert.equal(humanSize(1234), '1.234kB');
  assert.equal(humanSize(0), '0B');
  assert.equal(bytesSize(8335417344), '7.763GiB');
  assert.equal(bytesSize(1024), '1KiB');
  assert.equal(goFormatG(0.0001234, 3), '0.000123');
  assert.equal(goFormatG(0.00001234, 3), '1.23e-05');
  assert.equal(goFormatG(100, 3), '100');
});

test('RAMInBytes, TruncateID, Ellipsis, strconv.Quote', () => {
  assert.equal(ramInBytes('512m'), 512 * 1024 ** 2);
  assert.equal(ramInBytes('1.5g'), 1.5 * 1024 ** 3);
  assert.equal(ramInBytes('100'), 100);
  assert.equal(ramInBytes('2 KiB'), 2048);
  assert.throws(() => ramInBytes('12q'), /invalid size: '12q'/);
  assert.equal(truncateId('sha256:49d72ef82d31aa41c0e4f4b8c1cbe1e86c3e1e8fb7a9c1a0aa1b5c3f4d2e1f00'), '49d72ef82d31');
  assert.equal(truncateId('abc'), 'abc');
  assert.equal(ellipsis('httpd -f -p 5000 -h /app', 20), 'httpd -f -p 5000 -h…');
  assert.equal(ellipsis('short', 20), 'short');
  assert.equal(goQuote('a "b"\n\x01é'), '"a \\"b\\"\\n\\x01é"');
});

test('tabwriter aligns like Go text/tabwriter (minwidth 10, padding 3)', () => {
  assert.equal(tabwrite('A\tBB\tC\nxxxxxxxxxxxx\ty\tz\n'),
    'A              BB        C\n' +
    'xxxxxxxxxxxx   y         z\n');
  // a line without tabs ends the column block: the lines after it are aligned on their own
  assert.equal(tabwrite('aaaaaaaaaaaaaaaa\tb\nplain\nc\td\n'), 'aaaaaaaaaaaaaaaa   b\nplain\nc         d\n');
  // cells are measured in characters, not bytes
  assert.equal(tabwrite('é…\tx\n'), 'é…' + ' '.repeat(8) + 'x\n'); // 2 characters, 5 bytes
  assert.equal(tabwrite('PID\tCMD\n1\tsh\n', { minwidth: 20, padding: 3 }), `${'PID'.padEnd(20)}CMD\n${'1'.padEnd(20)}sh\n`);
});

test('DisplayablePorts groups ranges and lists v4/v6 bindings like docker ps', () => {
  assert.equal(displayablePorts([
    { IP: '0.0.0.0', PrivatePort: 5000, PublicPort: 5000, Type: 'tcp' },
    { IP: '::', PrivatePort: 5000, PublicPort: 5000, Type: 'tcp' },
  ]), '0.0.0.0:5000->5000/tcp, :::5000->5000/tcp');
  assert.equal(displayablePorts([
    { PrivatePort: 81, Type: 'tcp' }, { PrivatePort: 80, Type: 'tcp' }, { PrivatePort: 82, Type: 'tcp' }, { PrivatePort: 53, Type: 'udp' },
  ]), '53/udp, 80-82/tcp');
  assert.equal(displayablePorts([{ IP: '127.0.0.1', PrivatePort: 80, PublicPort: 8080, Type: 'tcp' }]), '127.0.0.1:8080->80/tcp');
  assert.equal(displayablePorts([]), '');
});

const NOW = 1_700_000_000_000;
const web: ContainerSummary = {
  Id: '4d7f3a8e2c1b9f0e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f5e',
  Names: ['/web'],
  Image: 'busybox',
  ImageID: 'sha256:49d72ef82d31aa41c0e4f4b8c1cbe1e86c3e1e8fb7a9c1a0aa1b5c3f4d2e1f00',
  Command: 'httpd -f -p 5000 -h /app',
  Created: NOW / 1000 - 125,
  Ports: [{ IP: '0.0.0.0', PrivatePort: 5000, PublicPort: 5000, Type: 'tcp' }, { IP: '::', PrivatePort: 5000, PublicPort: 5000, Type: 'tcp' }],
  Labels: { app: 'web' },
  State: 'running',
  Status: 'Up 2 minutes',
};
const done: ContainerSummary = {
  ...web, Id: 'f'.repeat(64), Names: ['/old'], Command: 'echo hi', Ports: [], Labels: {}, State: 'exited',
  Status: 'Exited (0) 3 seconds ago', Created: NOW / 1000 - 3 * 86400,
};

test('docker ps default table', () => {
  const rows = [web, done].map((c) => new ContainerContext(c, true, NOW));
  assert.equal(renderList(psFormat('', false, false), rows, PS_HEADER),
    'CONTAINER ID   IMAGE     COMMAND                  CREATED         STATUS                     PORTS                                       NAMES\n' +
    '4d7f3a8e2c1b   busybox   "httpd -f -p 5000 -h…"   2 minutes ago   Up 2 minutes               0.0.0.0:5000->5000/tcp, :::5000->5000/tcp   web\n' +
    'ffffffffffff   busybox   "echo hi"                3 days ago      Exited (0) 3 seconds ago                                               old\n');
});

test('docker ps -q, --no-trunc, custom table and plain templates, json', () => {
  const rows = [new ContainerContext(web, true, NOW)];
  assert.equal(renderList(psFormat('', true, false), rows, PS_HEADER), '4d7f3a8e2c1b\n');
  assert.equal(renderList('{{.ID}}', [new ContainerContext(web, false, NOW)], PS_HEADER), web.Id + '\n');
  assert.equal(renderList('{{.Command}}', [new ContainerContext(web, false, NOW)], PS_HEADER), '"httpd -f -p 5000 -h /app"\n');
  assert.equal(renderList('table {{.Names}}\\t{{.Label "app"}}', rows, PS_HEADER), 'NAMES     APP\nweb       web\n');
  assert.equal(renderList('{{.Names}}: {{.Status}}', rows, PS_HEADER), 'web: Up 2 minutes\n');
  const json = JSON.parse(renderList('json', rows, PS_HEADER));
  assert.equal(json.Names, 'web');
  assert.equal(json.RunningFor, '2 minutes ago');
  assert.equal(json.Ports, '0.0.0.0:5000->5000/tcp, :::5000->5000/tcp');
  assert.throws(() => renderList('{{.Nope}}', rows, PS_HEADER), (e: Error) =>
    e instanceof FormatError && e.message.startsWith('template parsing error: template: :1:2: executing "" at <.Nope>: can\'t evaluate field Nope'));
  assert.throws(() => renderList('{{.ID', rows, PS_HEADER), /template parsing error: template: :1: unclosed action/);
});

test('docker images table, tags per row, dangling and digests', () => {
  const images = [
    { Id: 'sha256:49d72ef82d31aa41c0e4f4b8c1cbe1e86c3e1e8fb7a9c1a0aa1b5c3f4d2e1f00', RepoTags: ['busybox:latest', '127.0.0.1:5000/busybox:v1'],
      RepoDigests: ['busybox@sha256:' + 'a'.repeat(64)], Created: NOW / 1000 - 14 * 86400, Size: 4261234 },
    { Id: 'sha256:' + 'b'.repeat(64), RepoTags: [], RepoDigests: [], Created: NOW / 1000 - 3600, Size: 123_456_789 },
  ];
  const rows = imageRows(images, { trunc: true, digests: false }, NOW);
  assert.equal(renderList(imagesFormat('', false, false), rows, IMAGES_HEADER),
    'REPOSITORY               TAG       IMAGE ID       CREATED             SIZE\n' +
    'busybox                  latest    49d72ef82d31   2 weeks ago         4.26MB\n' +
    '127.0.0.1:5000/busybox   v1        49d72ef82d31   2 weeks ago         4.26MB\n' +
    '<none>                   <none>    bbbbbbbbbbbb   About an hour ago   123MB\n',
  );
});

test('images --digests and --no-trunc', () => {
  const img = { Id: 'sha256:' + 'c'.repeat(64), RepoTags: ['app:v1'], RepoDigests: ['app@sha256:' + 'd'.repeat(64)], Created: NOW / 1000, Size: 1000 };
  const [row] = imageRows([img], { trunc: false, digests: true }, NOW);
  assert.equal(row.Digest, 'sha256:' + 'd'.repeat(64));
  assert.equal(row.ID, img.Id);
  assert.equal(row.CreatedSince, 'Less than a second ago');
  const digestOnly = imageRows([{ ...img, RepoTags: [] }], { trunc: true, digests: false }, NOW);
  assert.deepEqual(digestOnly.map((r) => [r.Repository, r.Tag]), [['app', '<none>']]);
});

test('events lines as docker prettyPrintEvent', () => {
  assert.equal(eventLine({ Type: 'container', Action: 'start', Actor: { ID: 'abc', Attributes: { name: 'web', image: 'busybox' } } },
    1700000000123456789n).replace(/^\S+/, 'T'), 'T container start abc (image=busybox, name=web)\n');
  assert.match(rfc3339NanoFixed(1700000000123456789n), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.123456789(Z|[+-]\d\d:\d\d)$/);
});
