/**
 * berthd --userns-remap default: container root is the berthremap user's subordinate range on the host. The fixed
 * `berthremap` user (and its /etc/subuid, /etc/subgid lines) is made on first use and left, as docker's dockremap.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { TestDaemon, type RunResult } from '../helpers/daemon';

const d = new TestDaemon('userns', ['--userns-remap', 'default']);
let bindDir = '';
let start = 0;

before(async () => {
  await d.start();
  d.importBusybox();
  const line = fs.readFileSync('/etc/subuid', 'utf8').split('\n').find((l) => l.startsWith('berthremap:'));
  assert.ok(line, 'berthd made the berthremap range');
  start = Number(line.split(':')[1]);
  bindDir = fs.mkdtempSync('/var/tmp/berth-userns-bind-');
  fs.chmodSync(bindDir, 0o777); // container root is an unprivileged host uid
});
after(async () => {
  await d.stop();
  if (bindDir) fs.rmSync(bindDir, { recursive: true, force: true });
});

function ok(r: RunResult): string {
  assert.equal(r.status, 0, `exit ${r.status}: ${r.stderr}`);
  return r.stdout;
}

const mapOf = (out: string): string[] => out.trim().split(/\s+/);

function get(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: '/index.html' }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve(body));
    }).on('error', reject);
  });
}

describe('userns-remap', () => {
  it('container root is uid 0 inside, mapped to the remap range', () => {
    assert.equal(ok(d.berth(['run', '--rm', 'busybox', 'id', '-u'])), '0\n');
    assert.deepEqual(mapOf(ok(d.docker(['run', '--rm', 'busybox', 'cat', '/proc/self/uid_map']))), ['0', String(start), '65536']);
    // the image's files (shifted copies of the layers) belong to container root
    assert.equal(ok(d.berth(['run', '--rm', 'busybox', 'stat', '-c', '%u:%g', '/bin/busybox'])), '0:0\n');
  });

  it('every layer of a multi-layer image gets its own shifted copy, with modes kept', () => {
    const ctx = fs.mkdtempSync('/var/tmp/berth-userns-ctx-');
    try {
      fs.writeFileSync(path.join(ctx, 'Dockerfile'), 'FROM busybox\nCOPY --chmod=4755 tool /usr/local/bin/tool\n');
      fs.writeFileSync(path.join(ctx, 'tool'), 'x');
      ok(d.berth(['build', '-q', '-t', 'bb2', ctx]));
    } finally {
      fs.rmSync(ctx, { recursive: true, force: true });
    }
    const out = ok(d.berth(['run', '--rm', 'bb2', 'stat', '-c', '%u:%g %a', '/usr/local/bin/tool', '/bin/busybox']));
    assert.equal(out, '0:0 4755\n0:0 755\n');
    const copies = fs.readdirSync(path.join(d.dataRoot, 'image/layers-remap', `${start}.${start}`));
    assert.equal(copies.filter((n) => /^[0-9a-f]{64}$/.test(n)).length, 2);
  });

  it('files it writes to a bind-mounted host dir and a new volume belong to the remapped root on the host', () => {
    ok(d.berth(['run', '--rm', '-v', `${bindDir}:/b`, '-v', 'unvol:/data', 'busybox', 'sh', '-c', 'touch /b/f /data/g && echo x >> /etc/hosts']));
    const st = fs.statSync(path.join(bindDir, 'f'));
    assert.deepEqual([st.uid, st.gid], [start, start]);
    const vol = fs.statSync(path.join(d.dataRoot, 'volumes/unvol/_data/g'));
    assert.equal(vol.uid, start);
    ok(d.berth(['volume', 'rm', 'unvol']));
  });

  it('--userns=host opts out (identity map); a bad mode and --privileged without it are refused', () => {
    assert.deepEqual(mapOf(ok(d.docker(['run', '--rm', '--userns=host', 'busybox', 'cat', '/proc/self/uid_map']))), ['0', '0', '4294967295']);
    const bad = d.berth(['run', '--rm', '--userns=private', 'busybox', 'true']);
    assert.equal(bad.status, 125);
    assert.match(bad.stderr, /--userns: invalid USER mode/);
    const priv = d.berth(['run', '--rm', '--privileged', 'busybox', 'true']);
    assert.equal(priv.status, 125);
    assert.match(priv.stderr, /privileged mode is incompatible with user namespaces/);
  });

  it('the default bridge network, -p to a port below 1024 and exec work in a remapped container', async () => {
    ok(d.berth(['run', '-d', '--name', 'web', '-p', '127.0.0.1::80', 'busybox', 'sh', '-c', 'mkdir /w && echo hello > /w/index.html && exec httpd -f -p 80 -h /w']));
    const port = Number(ok(d.berth(['port', 'web', '80'])).trim().split(':').pop());
    let body = '';
    for (let i = 0; i < 50 && body !== 'hello\n'; i++) {
      body = await get(port).catch(() => '');
      if (body !== 'hello\n') await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(body, 'hello\n');
    assert.match(ok(d.berth(['exec', 'web', 'ip', '-4', 'addr', 'show', 'eth0'])), /inet 10\.250\./);
    assert.deepEqual(mapOf(ok(d.berth(['exec', 'web', 'cat', '/proc/self/uid_map']))), ['0', String(start), '65536']);
    assert.equal(ok(d.berth(['exec', 'web', 'id', '-u'])), '0\n');
    ok(d.berth(['rm', '-f', 'web']));
  });
});
