import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import * as zlib from 'node:zlib';
import { LayerStore } from '../../src/store/layers';
import { getxattr } from '../../src/native';
import { makeTar, type FixtureEntry } from '../helpers/tarfixture';

function tmpRoot(t: { after(fn: () => void): void }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-layers-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const sha = (b: Buffer): string => `sha256:${crypto.createHash('sha256').update(b).digest('hex')}`;

test('unpack: plain, gzip and zstd give the diffID of the uncompressed tar; a layer is stored once', async (t) => {
  const store = new LayerStore(tmpRoot(t));
  const tar = await makeTar([{ name: 'etc/', type: 'directory' }, { name: 'etc/hello', data: 'hi\n' }, { name: 'bin/sh', type: 'symlink', linkname: '/bin/busybox' }]);
  const plain = await store.unpack(Readable.from([tar]));
  assert.equal(plain.diffId, sha(tar));
  assert.equal(plain.size, tar.length);
  assert.equal(fs.readFileSync(path.join(store.path(plain.diffId), 'etc/hello'), 'utf8'), 'hi\n');
  assert.equal(fs.readlinkSync(path.join(store.path(plain.diffId), 'bin/sh')), '/bin/busybox');
  const gz = await store.unpack(Readable.from([zlib.gzipSync(tar)]));
  assert.equal(gz.diffId, plain.diffId);
  const zst = spawnSync('zstd', ['-q', '-c'], { input: tar });
  if (zst.status === 0) assert.equal((await store.unpack(Readable.from([zst.stdout]))).diffId, plain.diffId);
  assert.deepEqual(store.list(), [plain.diffId]);
  assert.deepEqual(fs.readdirSync(store.dir), [plain.diffId.slice(7)], 'no temp dirs left');
});

test('unpack: a diffID that differs from the expected one is refused and leaves nothing', async (t) => {
  const store = new LayerStore(tmpRoot(t));
  const tar = await makeTar([{ name: 'a', data: 'x' }]);
  await assert.rejects(store.unpack(Readable.from([tar]), { expectedDiffId: `sha256:${'0'.repeat(64)}` }), /diffID mismatch/);
  assert.deepEqual(fs.readdirSync(store.dir), []);
});

const evil: Record<string, FixtureEntry[]> = {
  'absolute name': [{ name: '/etc/evil', data: 'x' }],
  'dot-dot component': [{ name: 'a/../../evil', data: 'x' }],
  'leading dot-dot': [{ name: '../evil', data: 'x' }],
  'hardlink to an absolute path': [{ name: 'h', type: 'link', linkname: '/etc/passwd' }],
  'hardlink escaping': [{ name: 'h', type: 'link', linkname: '../../etc/passwd' }],
  'hardlink through a symlink': [
    { name: 's', type: 'symlink', linkname: '/etc' },
    { name: 'h', type: 'link', linkname: 's/passwd' },
  ],
  'write through an absolute symlink': [
    { name: 's', type: 'symlink', linkname: '/tmp' },
    { name: 's/evil', data: 'x' },
  ],
  'write through a relative symlink': [
    { name: 'd/', type: 'directory' },
    { name: 'd/s', type: 'symlink', linkname: '..' },
    { name: 'd/s/evil', data: 'x' },
  ],
  'relative symlink climbing above the root': [{ name: 'a/s', type: 'symlink', linkname: '../../../etc' }],
};

for (const [kind, entries] of Object.entries(evil)) {
  test(`unpack refuses a tar with ${kind}, writing nothing anywhere`, async (t) => {
    const root = tmpRoot(t);
    const store = new LayerStore(path.join(root, 'store'));
    // Put the store deep enough that an escape would land inside `root`, where we can see it.
    const before = execFileSync('find', [root]).toString();
    const tar = await makeTar([{ name: 'ok', data: 'fine' }, ...entries]);
    await assert.rejects(store.unpack(Readable.from([tar])), (e: Error) => /refusing layer/.test(e.message));
    assert.equal(execFileSync('find', [root]).toString(), before);
    assert.ok(!fs.existsSync('/etc/evil') && !fs.existsSync('/tmp/evil'));
  });
}

test('unpack refuses a truncated tar', async (t) => {
  const store = new LayerStore(tmpRoot(t));
  const tar = await makeTar([{ name: 'a', data: Buffer.alloc(5000, 1) }]);
  await assert.rejects(store.unpack(Readable.from([tar.subarray(0, 2048)])), /invalid tar|tar:/);
  assert.deepEqual(fs.readdirSync(store.dir), []);
});

test('whiteouts: three layers mounted as overlay show the merged view docker would', async (t) => {
  const root = tmpRoot(t);
  const store = new LayerStore(path.join(root, 'store'));
  const l1 = await store.unpack(Readable.from([await makeTar([
    { name: 'a/', type: 'directory' }, { name: 'a/file1', data: '1' }, { name: 'a/file2', data: '2' },
    { name: 'd/', type: 'directory' }, { name: 'd/x', data: 'x' }, { name: 'd/y', data: 'y' },
  ])]));
  const l2 = await store.unpack(Readable.from([await makeTar([{ name: 'a/', type: 'directory' }, { name: 'a/.wh.file1', data: '' }])]));
  const l3 = await store.unpack(Readable.from([await makeTar([
    { name: 'd/', type: 'directory' }, { name: 'd/.wh..wh..opq', data: '' }, { name: 'd/z', data: 'z' },
  ])]));
  const wh = fs.lstatSync(path.join(store.path(l2.diffId), 'a/file1'));
  assert.ok(wh.isCharacterDevice() && wh.rdev === 0, 'whiteout is a 0/0 char device');
  assert.equal(getxattr(path.join(store.path(l3.diffId), 'd'), 'trusted.overlay.opaque')?.toString(), 'y');
  assert.ok(!fs.existsSync(path.join(store.path(l3.diffId), 'd/.wh..wh..opq')));

  const [upper, work, merged] = ['upper', 'work', 'merged'].map((d) => path.join(root, d));
  for (const d of [upper, work, merged]) fs.mkdirSync(d);
  const lower = [l3, l2, l1].map((l) => store.path(l.diffId)).join(':');
  execFileSync('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${lower},upperdir=${upper},workdir=${work}`, merged]);
  try {
    assert.deepEqual(fs.readdirSync(path.join(merged, 'a')).sort(), ['file2']);
    assert.deepEqual(fs.readdirSync(path.join(merged, 'd')).sort(), ['z']);
  } finally {
    execFileSync('umount', [merged]);
  }
});
