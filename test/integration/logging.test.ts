/** Log drivers and rotation (`--log-opt max-size=, max-file=`, `--log-driver none`) against a real berthd and conmon. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { TestDaemon } from '../helpers/daemon';

const d = new TestDaemon('logging');

before(async () => {
  await d.start();
  d.importBusybox();
});
after(() => d.stop());

const lines = (n: number, from = 1) => Array.from({ length: n }, (_, i) => `line ${from + i}`).join('\n') + '\n';

describe('log rotation', () => {
  it('keeps at most max-file files of about max-size and reads across them', () => {
    const r = d.berth(['run', '--name', 'rot', '--log-opt', 'max-size=10k', '--log-opt', 'max-file=3', 'busybox',
      'sh', '-c', 'i=1; while [ $i -le 2000 ]; do echo line $i; i=$((i+1)); done']);
    assert.equal(r.status, 0, r.stderr);
    const id = d.berth(['inspect', '-f', '{{.Id}}', 'rot']).stdout.trim();
    const dir = path.join(d.dataRoot, 'containers', id);
    const files = fs.readdirSync(dir).filter((f) => /^ctr\.log(\.\d+)?$/.test(f));
    assert.ok(files.length >= 2 && files.length <= 3, `files: ${files}`);
    for (const f of files) assert.ok(fs.statSync(path.join(dir, f)).size <= 10_000, `${f} is ${fs.statSync(path.join(dir, f)).size} bytes`);
    assert.equal(d.berth(['logs', '--tail', '5', 'rot']).stdout, lines(5, 1996));
    assert.equal(d.docker(['logs', '--tail', '5', 'rot']).stdout, lines(5, 1996));
    const all = d.berth(['logs', 'rot']).stdout.split('\n').filter(Boolean);
    assert.equal(all.at(-1), 'line 2000');
    assert.ok(all.length < 2000 && all.length > 200, `${all.length} lines kept`);
    assert.equal(d.berth(['inspect', '-f', '{{json .HostConfig.LogConfig}}', 'rot']).stdout.trim(),
      '{"Type":"json-file","Config":{"max-file":"3","max-size":"10k"}}');
    d.berth(['rm', 'rot']);
  });

  it('follows the log across a rotation', async () => {
    d.berth(['run', '-d', '--name', 'rotf', '--log-opt', 'max-size=2k', '--log-opt', 'max-file=2', 'busybox',
      'sh', '-c', 'sleep 1; i=1; while [ $i -le 300 ]; do echo line $i; i=$((i+1)); usleep 10000; done']);
    const r = d.berth(['logs', '-f', 'rotf'], { timeout: 30_000 });
    assert.equal(r.stdout, lines(300));
    d.berth(['rm', '-f', 'rotf']);
  });
});

describe('log driver none', () => {
  it('writes no log and logs answers docker error', () => {
    assert.equal(d.berth(['run', '--name', 'nolog', '--log-driver', 'none', 'busybox', 'echo', 'hi']).stdout, 'hi\n');
    const id = d.berth(['inspect', '-f', '{{.Id}}', 'nolog']).stdout.trim();
    assert.ok(!fs.existsSync(path.join(d.dataRoot, 'containers', id, 'ctr.log')));
    const r = d.berth(['logs', 'nolog']);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /configured logging driver does not support reading/);
    const dr = d.docker(['logs', 'nolog']);
    assert.match(dr.stderr, /configured logging driver does not support reading/);
    d.berth(['rm', 'nolog']);
  });

  it('refuses an unknown driver or option', () => {
    assert.match(d.berth(['create', '--log-driver', 'nosuch', 'busybox']).stderr, /no log driver named 'nosuch'/);
    assert.match(d.berth(['create', '--log-opt', 'bogus=1', 'busybox']).stderr, /unknown log opt 'bogus'/);
  });
});
