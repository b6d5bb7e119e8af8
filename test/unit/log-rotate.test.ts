/** Log driver options, rotation steps and reading across rotated files. */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { humanSize, logFiles, logPolicy, resolveLogConfig, rotateIfReplaced } from '../../src/engine/containers/log-rotate';
import { readLogs } from '../../src/engine/containers/logs';
import { parseDaemonArgs } from '../../src/daemon/config';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-logrot-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('log config', () => {
  it('reads sizes as docker json-file (decimal)', () => {
    assert.equal(humanSize('10k'), 10_000);
    assert.equal(humanSize('1.5MB'), 1_500_000);
    assert.throws(() => humanSize('ten'), /invalid max-size: ten/);
  });

  it('applies daemon defaults to json-file logs only, container options winning', () => {
    assert.deepEqual(resolveLogConfig({ Type: '', Config: { 'max-file': '2' } }, { 'max-size': '1m', 'max-file': '5' }),
      { Type: 'json-file', Config: { 'max-file': '2', 'max-size': '1m' } });
    assert.deepEqual(resolveLogConfig({ Type: 'none' }, { 'max-size': '1m' }), { Type: 'none', Config: {} });
  });

  it('refuses what docker refuses', () => {
    assert.throws(() => logPolicy({ Type: 'syslog' }), /no log driver named 'syslog'/);
    assert.throws(() => logPolicy({ Config: { 'max-file': '3' } }), /max-file can only be used with max-size/);
    assert.throws(() => logPolicy({ Config: { 'max-size': '1k', 'max-file': '0' } }), /max-file cannot be less than 1/);
    assert.throws(() => logPolicy({ Type: 'none', Config: { 'max-size': '1k' } }), /unknown log opt 'max-size' for none/);
    assert.deepEqual(logPolicy({ Type: 'none' }), { enabled: false, maxFile: 1 });
  });

  it('parses berthd --log-opt', () => {
    const cfg = parseDaemonArgs(['--log-opt', 'max-size=10m', '--log-opt', 'max-file=3']);
    assert.ok(typeof cfg === 'object');
    assert.deepEqual(cfg.logOpts, { 'max-size': '10m', 'max-file': '3' });
    assert.throws(() => parseDaemonArgs(['--log-opt', 'max-size']), /invalid --log-opt "max-size"/);
    assert.throws(() => parseDaemonArgs(['--log-opt', 'max-size=huge']), /invalid --log-opt: invalid max-size: huge/);
  });
});

describe('rotation', () => {
  const line = (n: number) => `2026-11-28T01:00:00.${String(n).padStart(9, '0')}+00:00 stdout F line ${n}\n`;
  /** What conmon does past --log-size-max: a new file renamed over the log. */
  const conmonReplaces = (log: string, text: string) => {
    fs.writeFileSync(`${log}.tmp`, text);
    fs.renameSync(`${log}.tmp`, log);
  };

  it('shifts replaced files up to max-file and reads them in order', () => {
    const log = path.join(tmp, 'ctr.log');
    fs.writeFileSync(log, line(1));
    rotateIfReplaced(log, 3);
    rotateIfReplaced(log, 3); // idempotent
    for (let n = 2; n <= 5; n++) {
      conmonReplaces(log, line(n));
      rotateIfReplaced(log, 3);
    }
    assert.deepEqual(logFiles(log).map((f) => path.basename(f)), ['ctr.log.2', 'ctr.log.1', 'ctr.log']);
    const texts = (tail?: number) => {
      const out: string[] = [];
      readLogs(log, { stdout: true, stderr: true, tail }, (r) => out.push(r.data.toString()));
      return out;
    };
    assert.deepEqual(texts(), ['line 3\n', 'line 4\n', 'line 5\n']);
    assert.deepEqual(texts(2), ['line 4\n', 'line 5\n']);
  });
});
