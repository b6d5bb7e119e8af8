/** Pure pieces of crash safety: flock and the data-root lock, the trash, reading netavark's port rules back. */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DataRootBusy, lockDataRoot } from '../../src/daemon/lock';
import { flock, LOCK_EX, LOCK_SH, LOCK_UN } from '../../src/native';
import { parsePortRules, splitRule } from '../../src/network/iptables';
import { Trash } from '../../src/store/trash';

function tmp(t: { after(fn: () => void): void }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-crash-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('flock: a second open file description cannot take an exclusive lock; unlock or close releases it', (t) => {
  const file = path.join(tmp(t), 'f');
  fs.writeFileSync(file, '');
  const a = fs.openSync(file, 'r');
  const b = fs.openSync(file, 'r');
  try {
    flock(a, LOCK_EX);
    assert.throws(() => flock(b, LOCK_EX), { code: 'EAGAIN', syscall: 'flock' });
    assert.throws(() => flock(b, LOCK_SH), { code: 'EAGAIN' });
    flock(a, LOCK_UN);
    flock(b, LOCK_SH);
    assert.throws(() => flock(a, 99), RangeError);
  } finally {
    fs.closeSync(a);
    fs.closeSync(b);
  }
});

test('lockDataRoot: the holder writes its pid; a second taker gets DataRootBusy naming it; the lock dies with the fd', (t) => {
  const root = tmp(t);
  const fd = lockDataRoot(root);
  assert.equal(fs.readFileSync(path.join(root, 'berthd.lock'), 'utf8'), `${process.pid}\n`);
  assert.throws(() => lockDataRoot(root), (e: Error) => e instanceof DataRootBusy && e.message.includes(`(pid ${process.pid})`) && e.message.includes(root));
  fs.closeSync(fd);
  fs.closeSync(lockDataRoot(root));
});

test('trash: discard takes the object out of its name and deletes it; empty() finishes what a crash left', (t) => {
  const root = tmp(t);
  const trash = new Trash(path.join(root, 'trash'));
  const obj = path.join(root, 'containers', 'abc');
  fs.mkdirSync(path.join(obj, 'upper/d'), { recursive: true });
  fs.writeFileSync(path.join(obj, 'container.json'), '{}');
  trash.discard(obj, 'container', 'abc');
  assert.ok(!fs.existsSync(obj));
  assert.deepEqual(trash.list(), []);
  trash.discard(obj, 'container', 'abc'); // already gone: nothing to do

  fs.mkdirSync(path.join(root, 'trash', 'volume-v-1/_data'), { recursive: true });
  fs.writeFileSync(path.join(root, 'trash', 'image-x-2'), '');
  assert.equal(trash.empty(), 2);
  assert.deepEqual(trash.list(), []);
});

test('trash: an entry that cannot be deleted stays in the trash (the object is gone all the same) until it can', (t) => {
  const root = tmp(t);
  const trash = new Trash(path.join(root, 'trash'));
  const obj = path.join(root, 'volumes', 'v');
  fs.mkdirSync(obj, { recursive: true });
  const stuck = path.join(obj, 'stuck');
  fs.writeFileSync(stuck, 'x');
  if (spawnSync('chattr', ['+i', stuck]).status !== 0) return t.skip('no chattr +i on this filesystem');
  try {
    trash.discard(obj, 'volume', 'v');
    assert.ok(!fs.existsSync(obj));
    assert.equal(trash.list().length, 1);
    assert.equal(trash.empty(), 0);
  } finally {
    for (const n of trash.list()) spawnSync('chattr', ['-i', path.join(trash.dir, n, 'stuck')]);
  }
  assert.equal(trash.empty(), 1);
});

test('iptables: -S lines split like the shell; netavark port rules found by their comment', () => {
  assert.deepEqual(splitRule('-A X -m comment --comment "a \\"b\\" c" -j Y'), ['-A', 'X', '-m', 'comment', '--comment', 'a "b" c', '-j', 'Y']);
  const net = 'a'.repeat(64);
  const ctr = 'b'.repeat(64);
  const text = [
    '-N NETAVARK-HOSTPORT-DNAT',
    '-A PREROUTING -m addrtype --dst-type LOCAL -j NETAVARK-HOSTPORT-DNAT',
    `-A NETAVARK-HOSTPORT-DNAT -p tcp -m tcp --dport 8080 -m comment --comment "dnat name: ${net} id: ${ctr}" -j NETAVARK-DN-1D8721804F16F`,
    '-A NETAVARK-HOSTPORT-MASQ -m comment --comment "netavark portfw masq mark" -m mark --mark 0x2000/0x2000 -j MASQUERADE',
  ].join('\n');
  assert.deepEqual(parsePortRules(text, 'ip6tables'), [{
    tool: 'ip6tables', chain: 'NETAVARK-HOSTPORT-DNAT', network: net, container: ctr,
    spec: ['NETAVARK-HOSTPORT-DNAT', '-p', 'tcp', '-m', 'tcp', '--dport', '8080', '-m', 'comment', '--comment', `dnat name: ${net} id: ${ctr}`, '-j', 'NETAVARK-DN-1D8721804F16F'],
  }]);
});
