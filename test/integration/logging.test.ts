/** Log drivers and rotation (`--log-opt max-size=, max-file=`, `--log-driver none`) against a real berthd and conmon. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
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

/** GET a logs URL of the daemon; the reply's frames as [stream, payload] (stream 1 = stdout, 2 = stderr). */
function logFrames(query: string): Promise<[number, string][]> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath: d.socket, path: `/containers/big/logs?${query}`, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        if (res.statusCode !== 200) return reject(new Error(`${res.statusCode}: ${body}`));
        const frames: [number, string][] = [];
        for (let at = 0; at < body.length; ) {
          const len = body.readUInt32BE(at + 4);
          frames.push([body[at], body.subarray(at + 8, at + 8 + len).toString()]);
          at += 8 + len;
        }
        resolve(frames);
      });
    });
    req.on('error', reject);
    req.end();
  });
}

describe('logs --tail on a large rotated log', () => {
  before(() => {
    // 200k lines on both streams, a line longer than conmon's buffer (split into partial records) and an unfinished last line
    const r = d.berth(['run', '-d', '--name', 'big', '--log-opt', 'max-size=3m', '--log-opt', 'max-file=3', 'busybox', 'sh', '-c',
      'i=0; while [ $i -lt 100000 ]; do echo out $i; echo err $i >&2; i=$((i+1)); done; ' +
      "head -c 20000 /dev/zero | tr '\\0' x; echo; printf 'no newline at end'"]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(d.berth(['wait', 'big'], { timeout: 300_000 }).stdout, '0\n');
  });
  after(() => d.berth(['rm', '-f', 'big']));

  it('answers the last N frames of the forward reading, per stream selection, across rotated files', async () => {
    const id = d.berth(['inspect', '-f', '{{.Id}}', 'big']).stdout.trim();
    const files = fs.readdirSync(path.join(d.dataRoot, 'containers', id)).filter((f) => /^ctr\.log\.\d+$/.test(f));
    assert.ok(files.length >= 1, 'rotated files exist');
    for (const streams of ['stdout=1&stderr=1', 'stdout=1', 'stderr=1']) {
      for (const ts of ['', '&timestamps=1']) {
        const all = await logFrames(streams + ts);
        assert.ok(all.length > 1000, `${all.length} frames`);
        for (const tail of [1, 100, 30_000, all.length + 5]) {
          const got = await logFrames(`${streams}${ts}&tail=${tail}`);
          assert.deepEqual(got, all.slice(-tail), `${streams}${ts}&tail=${tail}`);
          assert.deepEqual(await logFrames(`${streams}${ts}&tail=${tail}&follow=1`), got, 'follow of an exited container');
        }
      }
    }
  });

  it('gives the same through berth logs and docker logs', async () => {
    const last = (await logFrames('stdout=1&stderr=1')).slice(-100);
    const want = (s: number) => last.filter(([f]) => f === s).map(([, t]) => t).join('');
    assert.ok(want(1).endsWith('no newline at end'));
    for (const cli of [d.berth.bind(d), d.docker.bind(d)]) {
      const r = cli(['logs', '--tail', '100', 'big']);
      assert.equal(r.stdout, want(1));
      assert.equal(r.stderr, want(2));
    }
    const [stream, text] = (await logFrames('stdout=1&stderr=1&timestamps=1')).at(-1)!;
    assert.equal(stream, 1);
    assert.equal(d.docker(['logs', '-t', '--tail', '1', 'big']).stdout, text);
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
