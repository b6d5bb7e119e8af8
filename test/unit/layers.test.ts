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
import { parseDaemonArgs } from '../../src/daemon/config';
import { DEFAULT_LIMITS } from '../../src/store/compression';
import { makeTar, paxBody, rawEntry, rawTar, type FixtureEntry } from '../helpers/tarfixture';

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

/**
 * Header tricks where a reader that is not GNU tar would see other names than GNU tar writes. Each tar first makes
 * `s`, a symlink to the directory `outside` (absolute targets are allowed: they resolve inside the container), then
 * tries to make GNU tar write `s/evil`, i.e. outside/evil.
 */
const tricks: Record<string, (outside: string) => Buffer[]> = {
  'a pax global header setting path': () => [rawEntry({ typeflag: 'g', name: 'pax_global_header' }, paxBody([['path', 's/evil']])), rawEntry({ typeflag: '0', name: 'ok' }, 'x')],
  'an old GNU names entry (typeflag N)': () => [rawEntry({ typeflag: 'N', name: 's/evil', magic: 'gnu' }, 'x'), rawEntry({ typeflag: '0', name: 'ok' }, 'x')],
  'two pax headers for one entry': () => [
    rawEntry({ typeflag: 'x', name: 'PaxHeader/ok' }, paxBody([['path', 's/evil']])),
    rawEntry({ typeflag: 'x', name: 'PaxHeader/ok' }, paxBody([['mtime', '1']])),
    rawEntry({ typeflag: '0', name: 'ok' }, 'x'),
  ],
  'a pax path with a NUL byte': (outside) => [
    rawEntry({ typeflag: 'x', name: 'PaxHeader/t' }, paxBody([['path', 't\0x']])),
    rawEntry({ typeflag: '2', name: 't', linkname: outside }),
    rawEntry({ typeflag: '0', name: 't/evil' }, 'x'),
  ],
  'names that only differ in invalid UTF-8': (outside) => [
    rawEntry({ typeflag: '2', name: Buffer.from('u\xff', 'latin1'), linkname: outside }),
    rawEntry({ typeflag: '5', name: Buffer.from('u\xfe', 'latin1') }),
    rawEntry({ typeflag: '0', name: Buffer.concat([Buffer.from('u\xff', 'latin1'), Buffer.from('/evil')]) }, 'x'),
  ],
  'GNU.sparse.name renaming the entry': () => [
    rawEntry({ typeflag: 'x', name: 'PaxHeader/ok' }, paxBody([['GNU.sparse.major', '1'], ['GNU.sparse.minor', '0'], ['GNU.sparse.name', 's/evil'], ['GNU.sparse.realsize', '1']])),
    rawEntry({ typeflag: '0', name: 'ok' }, Buffer.concat([Buffer.from('0\n'), Buffer.alloc(510), Buffer.from('x')])),
  ],
  'a malformed pax record before the path': () => [rawEntry({ typeflag: 'x', name: 'PaxHeader/ok' }, Buffer.concat([Buffer.from('9 bogus\n'), paxBody([['path', 's/evil']])])), rawEntry({ typeflag: '0', name: 'ok' }, 'x')],
  'a GNU long name through the symlink': () => [rawEntry({ typeflag: 'L', name: '././@LongLink', magic: 'gnu' }, 's/evil\0'), rawEntry({ typeflag: '0', name: 'ok', magic: 'gnu' }, 'x')],
  'a pax path through the symlink': () => [rawEntry({ typeflag: 'x', name: 'PaxHeader/ok' }, paxBody([['path', 's/evil']])), rawEntry({ typeflag: '0', name: 'ok' }, 'x')],
  'a ustar prefix through the symlink': () => [rawEntry({ typeflag: '0', name: 'evil', prefix: 's' }, 'x')],
  'a file, then a symlink of the same name, then a file through it': (outside) => [
    rawEntry({ typeflag: '0', name: 'f' }, 'x'),
    rawEntry({ typeflag: '2', name: 'f', linkname: outside }),
    rawEntry({ typeflag: '0', name: 'f/evil' }, 'x'),
  ],
  'a hardlink whose pax linkpath goes through the symlink': () => [
    rawEntry({ typeflag: 'x', name: 'PaxHeader/h' }, paxBody([['linkpath', 's/evil']])),
    rawEntry({ typeflag: '1', name: 'h', linkname: 'ok' }),
  ],
};

for (const [kind, make] of Object.entries(tricks)) {
  test(`unpack refuses ${kind}, and GNU tar writes nothing outside`, async (t) => {
    const root = tmpRoot(t);
    const outside = path.join(root, 'outside');
    fs.mkdirSync(outside);
    fs.writeFileSync(path.join(outside, 'evil'), 'original');
    const store = new LayerStore(path.join(root, 'store'));
    const tar = rawTar(rawEntry({ typeflag: '2', name: 's', linkname: outside }), ...make(outside));
    await assert.rejects(store.unpack(Readable.from([tar])), /refusing layer/);
    assert.deepEqual(fs.readdirSync(outside), ['evil']);
    assert.equal(fs.readFileSync(path.join(outside, 'evil'), 'utf8'), 'original');
    assert.deepEqual(fs.readdirSync(store.dir), [], 'nothing left in the store');
  });
}

test('unpack keeps a git-archive pax global comment and the longest names GNU tar and pax write', async (t) => {
  const store = new LayerStore(tmpRoot(t));
  const long = `${'d'.repeat(120)}/${'f'.repeat(120)}`;
  const tar = rawTar(
    rawEntry({ typeflag: 'g', name: 'pax_global_header' }, paxBody([['comment', 'e3b0c44298fc1c149afbf4c8996fb924']])),
    rawEntry({ typeflag: 'L', name: '././@LongLink', magic: 'gnu' }, `${'d'.repeat(120)}/\0`),
    rawEntry({ typeflag: '5', name: 'd', magic: 'gnu' }),
    rawEntry({ typeflag: 'x', name: 'PaxHeader/f' }, paxBody([['path', long], ['mtime', '1.5']])),
    rawEntry({ typeflag: '0', name: 'f' }, 'hi'),
    rawEntry({ typeflag: '5', name: 'pre/', prefix: 'x' }),
  );
  const l = await store.unpack(Readable.from([tar]));
  assert.equal(fs.readFileSync(path.join(store.path(l.diffId), long), 'utf8'), 'hi');
  assert.ok(fs.statSync(path.join(store.path(l.diffId), 'x/pre')).isDirectory());
});

test('unpack restores user.* xattrs and security.capability, never trusted.* or other security.* ones', async (t) => {
  const store = new LayerStore(tmpRoot(t));
  // VFS_CAP_REVISION_2 with cap_setuid (bit 7: a byte that is not UTF-8 on its own) and cap_net_raw permitted
  const cap = Buffer.from([0x00, 0x00, 0x00, 0x02, 0x80, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
  const tar = rawTar(
    rawEntry({ typeflag: 'x', name: 'PaxHeader/d' }, paxBody([['SCHILY.xattr.trusted.overlay.opaque', 'y'], ['SCHILY.xattr.user.keep', 'yes']])),
    rawEntry({ typeflag: '5', name: 'd/' }),
    rawEntry({ typeflag: 'x', name: 'PaxHeader/d/ping' }, paxBody([['SCHILY.xattr.security.capability', cap], ['SCHILY.xattr.trusted.evil', '1'], ['SCHILY.xattr.security.ima', Buffer.from([3, 2, 1])]])),
    rawEntry({ typeflag: '0', name: 'd/ping', mode: 0o755 }, 'x'),
  );
  const l = await store.unpack(Readable.from([tar]));
  const dir = store.path(l.diffId);
  assert.equal(getxattr(path.join(dir, 'd'), 'user.keep')?.toString(), 'yes');
  assert.equal(getxattr(path.join(dir, 'd'), 'trusted.overlay.opaque'), undefined, 'a layer cannot make a directory opaque by xattr');
  assert.deepEqual(getxattr(path.join(dir, 'd/ping'), 'security.capability'), cap);
  assert.equal(getxattr(path.join(dir, 'd/ping'), 'trusted.evil'), undefined);
  assert.equal(getxattr(path.join(dir, 'd/ping'), 'security.ima'), undefined);
});

test('a gzip bomb stops at the size limit with a clear error and leaves nothing on disk', async (t) => {
  const store = new LayerStore(tmpRoot(t), { ...DEFAULT_LIMITS, maxSize: 32 << 20 });
  const header = rawEntry({ typeflag: '0', name: 'zeros', size: 1 << 30 }).subarray(0, 512);
  // 1 GiB of zeros after one header, gzipped as it is read: about 1 MiB compressed
  async function* bomb(): AsyncGenerator<Buffer> {
    const gz = zlib.createGzip({ level: 1 });
    const out: Buffer[] = [];
    gz.on('data', (c: Buffer) => out.push(c));
    const zeros = Buffer.alloc(1 << 20);
    gz.write(header);
    for (let i = 0; i < 1024; i++) {
      await new Promise<void>((r) => gz.write(zeros, () => r()));
      yield* out.splice(0);
    }
    await new Promise<void>((r) => gz.end(() => r()));
    yield* out.splice(0);
  }
  await assert.rejects(store.unpack(Readable.from(bomb())), /decompressed data exceeds the limit of 32MiB \(max-layer-size\)/);
  assert.deepEqual(fs.readdirSync(store.dir), []);
});

test('a zstd or gzip stream expanding more than max-layer-ratio times is refused', async (t) => {
  const store = new LayerStore(tmpRoot(t), { maxSize: DEFAULT_LIMITS.maxSize, maxRatio: 100 });
  const tar = Buffer.concat([rawEntry({ typeflag: '0', name: 'zeros', size: 300 << 20 }).subarray(0, 512), Buffer.alloc(300 << 20), Buffer.alloc(1024)]);
  const gz = zlib.gzipSync(tar, { level: 1 });
  await assert.rejects(store.unpack(Readable.from([gz])), /likely decompression bomb: \d+ compressed bytes expanded to more than 100 times as many \(max-layer-ratio\)/);
  assert.deepEqual(fs.readdirSync(store.dir), []);
});

test('berthd --max-layer-size and --max-layer-ratio: defaults, sizes as docker writes them, bad values refused', () => {
  const cfg = (args: string[]) => parseDaemonArgs(args) as Exclude<ReturnType<typeof parseDaemonArgs>, string>;
  assert.deepEqual(cfg([]).layerLimits, DEFAULT_LIMITS);
  assert.deepEqual(cfg(['--max-layer-size', '20g', '--max-layer-ratio', '50']).layerLimits, { maxSize: 20 * 2 ** 30, maxRatio: 50 });
  assert.throws(() => parseDaemonArgs(['--max-layer-size', 'lots']), /invalid --max-layer-size "lots": a size such as 20g/);
  assert.throws(() => parseDaemonArgs(['--max-layer-ratio', '0']), /invalid --max-layer-ratio "0"/);
});

test('an image holding the same layer twice mounts (overlayfs refuses a lower dir named twice with ELOOP)', { skip: process.getuid?.() !== 0 && 'mounts: run as root' }, () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-lowers-'));
  const merged = path.join(root, 'merged');
  try {
    const store = new LayerStore(root);
    const [a, b] = ['a', 'b'].map((c) => `sha256:${c.repeat(64)}`);
    for (const [d, file] of [[a, 'from-a'], [b, 'from-b']]) {
      fs.mkdirSync(store.path(d), { recursive: true });
      fs.writeFileSync(path.join(store.path(d), 'f'), file);
    }
    const lowers = store.lowerDirs([a, b, a]);
    assert.deepEqual(lowers, [store.path(a), store.path(b)]);
    for (const d of ['upper', 'work', 'merged']) fs.mkdirSync(path.join(root, d));
    execFileSync('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${lowers.join(':')},upperdir=${root}/upper,workdir=${root}/work`, merged]);
    try {
      assert.equal(fs.readFileSync(path.join(merged, 'f'), 'utf8'), 'from-a');
    } finally {
      execFileSync('umount', [merged]);
    }
    const twice = spawnSync('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${[store.path(a), store.path(b), store.path(a)].join(':')},upperdir=${root}/upper,workdir=${root}/work`, merged]);
    if (twice.status === 0) execFileSync('umount', [merged]);
    assert.notEqual(twice.status, 0, 'the kernel accepted a lower dir named twice: the dedupe would not be needed');
  } finally {
    spawnSync('umount', [merged]);
    fs.rmSync(root, { recursive: true, force: true });
  }
});
