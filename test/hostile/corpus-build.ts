/** Hostile Dockerfiles and build contexts, sent as `POST /build` (docker's legacy builder protocol). */
import * as crypto from 'node:crypto';
import * as zlib from 'node:zlib';
import { rawTar, tar } from './craft';
import type { Ctx, HostileInput } from './harness';
import type { FixtureEntry } from '../helpers/tarfixture';

type Text = string | Buffer | ((c: Ctx) => string);
const context = (dockerfile: Text, more: (c: Ctx) => FixtureEntry[] = () => []) => (c: Ctx) =>
  tar([{ name: 'Dockerfile', data: typeof dockerfile === 'function' ? dockerfile(c) : dockerfile }, ...more(c)]);

const df = (name: string, dockerfile: Text, expect: HostileInput['expect'] = 'refused', extra: Partial<HostileInput> & { query?: string; more?: (c: Ctx) => FixtureEntry[] } = {}): HostileInput => ({
  name: `build: ${name}`,
  expect,
  status: extra.status,
  message: extra.message,
  payload: { kind: 'build', context: context(dockerfile, extra.more), query: extra.query },
});

const ctxOnly = (name: string, build: (c: Ctx) => Promise<Buffer> | Buffer, expect: HostileInput['expect'] = 'refused', query?: string): HostileInput => ({
  name: `build: ${name}`,
  expect,
  payload: { kind: 'build', context: build, query },
});

/** Each level doubles the value ten times over: 10 levels would be 10^10 characters if expanded naively. */
const argBomb = ['FROM busybox', 'ARG a0=xxxxxxxxxx', ...Array.from({ length: 10 }, (_, i) => `ARG a${i + 1}=${`$a${i}`.repeat(10)}`), 'LABEL x=$a10'].join('\n');

export const buildInputs: HostileInput[] = [
  df('empty Dockerfile', '', 'refused', { status: 400 }),
  df('only comments', '# nothing\n# here\n', 'refused', { status: 400 }),
  df('no FROM first', 'RUN true\n', 'refused', { status: 400 }),
  df('unknown instruction', 'FROM busybox\nFROBNICATE now\n', 'refused', { status: 400, message: /unknown instruction/i }),
  df('NUL bytes in the Dockerfile', Buffer.from('FROM busybox\0\nRUN\0true\n'), 'refused'),
  df('invalid UTF-8', Buffer.from([0x46, 0x52, 0x4f, 0x4d, 0x20, 0xff, 0xfe, 0x0a]), 'refused'),
  df('a 10 MB single line', `FROM busybox\nLABEL a="${'x'.repeat(10 << 20)}"\n`, 'safe'),
  df('line continuation at the end of the file', 'FROM busybox\nRUN echo \\', 'safe'),
  df('ARG expansion bomb', argBomb, 'safe'),
  df('FROM with an invalid reference', 'FROM ../../etc:passwd\n', 'refused', { status: 400 }),
  df('FROM an image that does not exist here', 'FROM nosuchimage-hostile:1\n', 'refused'),
  df('FROM with a stage name that is a path', 'FROM busybox AS ../../x\n', 'refused'),
  df('COPY from ../', 'FROM busybox\nCOPY ../../../../etc/passwd /x\n', 'refused'),
  df('COPY from an absolute host path', 'FROM busybox\nCOPY /etc/shadow /x\n', 'refused'),
  df('COPY to a destination climbing out of the rootfs', (c) => `FROM busybox\nCOPY f /${c.up}pwned\n`, 'accepted', { more: () => [{ name: 'f', data: 'x' }] }),
  df('COPY to the canary\'s absolute path (stays in the image)', (c) => `FROM busybox\nCOPY f ${c.canary}/pwned\n`, 'accepted', { more: () => [{ name: 'f', data: 'x' }] }),
  df('COPY --from a stage that does not exist', 'FROM busybox\nCOPY --from=nowhere /x /x\n', 'refused'),
  df('COPY --chown to uid 2^40', 'FROM busybox\nCOPY --chown=1099511627776:1 f /f\n', 'refused', { more: () => [{ name: 'f', data: 'x' }] }),
  df('COPY --chmod=99999', 'FROM busybox\nCOPY --chmod=99999 f /f\n', 'refused', { more: () => [{ name: 'f', data: 'x' }] }),
  df('ADD file:// URL of a host file', 'FROM busybox\nADD file:///etc/shadow /x\n', 'refused'),
  df('EXPOSE port 99999999', 'FROM busybox\nEXPOSE 99999999\n', 'refused'),
  df('EXPOSE a range of a million ports', 'FROM busybox\nEXPOSE 1-1000000\n', 'refused'),
  df('HEALTHCHECK with a negative interval', 'FROM busybox\nHEALTHCHECK --interval=-1s CMD true\n', 'refused'),
  df('ONBUILD ONBUILD', 'FROM busybox\nONBUILD ONBUILD RUN true\n', 'refused'),
  df('ONBUILD FROM', 'FROM busybox\nONBUILD FROM busybox\n', 'refused'),
  df('SHELL that is not JSON', 'FROM busybox\nSHELL /bin/sh -c\n', 'refused'),
  df('unknown flag on COPY', 'FROM busybox\nCOPY --evil=1 f /f\n', 'refused', { more: () => [{ name: 'f', data: 'x' }] }),
  df('dockerfile query climbing out', 'FROM busybox\n', 'refused', { query: 'dockerfile=../../../../etc/passwd', status: 400 }),
  df('dockerfile query that is a host path', 'FROM busybox\n', 'refused', { query: 'dockerfile=/etc/shadow' }),
  df('target stage that does not exist', 'FROM busybox AS a\n', 'refused', { query: 'target=nowhere' }),
  df('buildargs that are not JSON', 'FROM busybox\n', 'refused', { query: 'buildargs=%7B', status: 400 }),
  df('labels that are a JSON array', 'FROM busybox\n', 'refused', { query: 'labels=%5B1%5D', status: 400 }),
  df('remote context URL', 'FROM busybox\n', 'refused', { query: 'remote=http%3A%2F%2F127.0.0.1%3A1%2Fx', status: 400 }),
  df('the Dockerfile is a symlink to a host secret', 'FROM busybox\n', 'refused', { query: 'dockerfile=evil', more: (c) => [{ name: 'evil', type: 'symlink', linkname: `${c.canary}/secret` }] }),
  df('COPY of a context symlink to a host secret, then printed', 'FROM busybox\nCOPY link /x\nRUN cat /x\n', 'safe', { more: (c) => [{ name: 'link', type: 'symlink', linkname: `${c.canary}/secret` }] }),
  df('COPY of a context symlink climbing out', 'FROM busybox\nCOPY link /x\n', 'safe', { more: (c) => [{ name: 'link', type: 'symlink', linkname: `${c.up}secret` }] }),
  df('.dockerignore that is a symlink to a host secret', 'FROM busybox\n', 'safe', { more: (c) => [{ name: '.dockerignore', type: 'symlink', linkname: `${c.canary}/secret` }] }),
  ctxOnly('context entry named ../', (c) => tar([{ name: 'Dockerfile', data: 'FROM busybox\n' }, { name: `${c.up}pwned`, data: 'x' }])),
  // docker joins an absolute name to the context dir (chrootarchive.Untar): it stays inside, and the build goes on
  ctxOnly('context entry with an absolute name', (c) => tar([{ name: 'Dockerfile', data: 'FROM busybox\n' }, { name: `${c.canary}/pwned`, data: 'x' }]), 'safe'),
  ctxOnly('context symlink, then an entry through it', (c) => tar([{ name: 'Dockerfile', data: 'FROM busybox\n' }, { name: 'esc', type: 'symlink', linkname: c.canary }, { name: 'esc/pwned', data: 'x' }])),
  ctxOnly('context hardlink to a host file', (c) => tar([{ name: 'Dockerfile', data: 'FROM busybox\n' }, { name: 'hl', type: 'link', linkname: `${c.canary}/secret` }])),
  ctxOnly('context pax path escaping', (c) => rawTar([{ name: 'Dockerfile', data: 'FROM busybox\n' }, { name: 'PaxHeader', flag: 'x', pax: { path: `${c.up}pwned` } }, { name: 'harmless', data: 'x' }])),
  ctxOnly('context that is random bytes', () => crypto.randomBytes(5000)),
  ctxOnly('context that is a truncated gzip', async () => zlib.gzipSync(await tar([{ name: 'Dockerfile', data: 'FROM busybox\n'.repeat(500) }])).subarray(0, 60)),
  ctxOnly('context without a Dockerfile', () => tar([{ name: 'other', data: 'x' }])),
  ctxOnly('context with a device node', () => tar([{ name: 'Dockerfile', data: 'FROM busybox\nCOPY . /c\n' }, { name: 'dev', type: 'character-device', header: { devmajor: 1, devminor: 3 } }]), 'safe'),
];
