import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import * as zlib from 'node:zlib';
import * as tarStream from 'tar-stream';
import { diffTar, entryHeader, gzipStream, tarBytes } from '../../src/store/diff';
import { LayerStore } from '../../src/store/layers';
import { getxattr, setxattr } from '../../src/native';

function tmpRoot(t: { after(fn: () => void): void }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-diff-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function collect(r: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of r) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

interface Listed { name: string; type: string; mode: number; uid: number; mtime: number; linkname: string | null; pax?: Record<string, string>; body: Buffer }

async function list(tar: Buffer): Promise<Listed[]> {
  const out: Listed[] = [];
  const ex = tarStream.extract();
  ex.on('entry', (h, body, next) => {
    const parts: Buffer[] = [];
    body.on('data', (c: unknown) => void parts.push(c as Buffer));
    body.on('end', () => {
      out.push({ name: h.name, type: h.type as string, mode: h.mode as number, uid: h.uid as number, mtime: (h.mtime as Date).getTime() / 1000, linkname: h.linkname ?? null, pax: h.pax as Record<string, string> | undefined, body: Buffer.concat(parts) });
      next();
    });
  });
  await new Promise<void>((resolve, reject) => {
    ex.on('finish', resolve);
    ex.on('error', reject);
    ex.end(tar);
  });
  return out;
}

const sha = (b: Buffer): string => crypto.createHash('sha256').update(b).digest('hex');
// VFS_CAP_REVISION_2 with CAP_NET_BIND_SERVICE permitted: the kernel validates security.capability values.
const CAP = Buffer.from([0x01, 0x00, 0x00, 0x02, 0x00, 0x04, 0x00, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);

test('overlay upper dir -> OCI whiteouts, xattrs, hardlinks; unpacked back to overlay form', async (t) => {
  const root = tmpRoot(t);
  const [lower, upper, work, merged] = ['lower', 'upper', 'work', 'merged'].map((d) => path.join(root, d));
  for (const d of [upper, work, merged]) fs.mkdirSync(d);
  fs.mkdirSync(path.join(lower, 'a'), { recursive: true });
  fs.writeFileSync(path.join(lower, 'a/gone'), 'x');
  fs.writeFileSync(path.join(lower, 'a/kept'), 'y');
  fs.mkdirSync(path.join(lower, 'd'));
  fs.writeFileSync(path.join(lower, 'd/old'), 'z');
  execFileSync('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${lower},upperdir=${upper},workdir=${work}`, merged]);
  try {
    fs.rmSync(path.join(merged, 'a/gone'));
    fs.rmSync(path.join(merged, 'd'), { recursive: true });
    fs.mkdirSync(path.join(merged, 'd'));
    fs.writeFileSync(path.join(merged, 'd/new'), 'n');
    fs.writeFileSync(path.join(merged, 'cap'), 'bin');
    setxattr(path.join(merged, 'cap'), 'security.capability', CAP);
    fs.writeFileSync(path.join(merged, 'h1'), 'same');
    fs.linkSync(path.join(merged, 'h1'), path.join(merged, 'h2'));
    fs.symlinkSync('/target', path.join(merged, 'sl'));
  } finally {
    execFileSync('umount', [merged]);
  }
  const tar = await collect(diffTar(upper));
  const entries = await list(tar);
  const names = entries.map((e) => e.name);
  assert.deepEqual(names, ['a/', 'a/.wh.gone', 'cap', 'd/', 'd/.wh..wh..opq', 'd/new', 'h1', 'h2', 'sl']);
  assert.equal(entries.find((e) => e.name === 'h2')?.type, 'link');
  assert.equal(entries.find((e) => e.name === 'h2')?.linkname, 'h1');
  assert.equal(entries.find((e) => e.name === 'sl')?.linkname, '/target');
  const cap = entries.find((e) => e.name === 'cap');
  assert.ok(cap?.pax?.['SCHILY.xattr.security.capability'] !== undefined, 'capability xattr kept');
  assert.ok(!names.some((n) => n.includes('overlay')), 'no overlay bookkeeping in the layer');
  // GNU tar agrees with the format, and keeps the binary xattr byte for byte.
  const listing = spawnSync('tar', ['-tvf', '-'], { input: tar });
  assert.equal(listing.status, 0, listing.stderr.toString());

  const store = new LayerStore(path.join(root, 'store'));
  const info = await store.unpack(Readable.from([tar]));
  assert.equal(info.diffId, `sha256:${sha(tar)}`);
  const dir = store.path(info.diffId);
  const wh = fs.lstatSync(path.join(dir, 'a/gone'));
  assert.ok(wh.isCharacterDevice() && wh.rdev === 0, 'whiteout back as a 0/0 char device');
  assert.equal(getxattr(path.join(dir, 'd'), 'trusted.overlay.opaque')?.toString(), 'y');
  assert.deepEqual(getxattr(path.join(dir, 'cap'), 'security.capability'), CAP);
  assert.equal(fs.statSync(path.join(dir, 'h1')).ino, fs.statSync(path.join(dir, 'h2')).ino);
});

test('same tree, same bytes; SOURCE_DATE_EPOCH clamps mtimes so trees made at different times match', async (t) => {
  const root = tmpRoot(t);
  const make = (name: string, when: number): string => {
    const d = path.join(root, name);
    fs.mkdirSync(path.join(d, 'sub'), { recursive: true });
    fs.writeFileSync(path.join(d, 'sub/b'), 'bee');
    fs.writeFileSync(path.join(d, 'a'), 'a'.repeat(1000));
    for (const p of ['sub/b', 'a', 'sub']) fs.utimesSync(path.join(d, p), when, when);
    return d;
  };
  const one = make('one', 2_000_000_000);
  const two = make('two', 2_000_000_500);
  const first = sha(await collect(diffTar(one)));
  assert.equal(sha(await collect(diffTar(one))), first, 'deterministic');
  assert.notEqual(sha(await collect(diffTar(two))), first, 'mtimes count without an epoch');
  const epoch = 1_700_000_000;
  const a = await collect(diffTar(one, { epoch }));
  assert.equal(sha(await collect(diffTar(two, { epoch }))), sha(a));
  assert.ok((await list(a)).every((e) => e.mtime === epoch));
  // gzip output is deterministic too, whichever compressor is used.
  const gz1 = await collect(gzipStream(Readable.from([a])));
  const gz2 = await collect(gzipStream(Readable.from([a])));
  assert.equal(sha(gz1), sha(gz2));
  assert.deepEqual(zlib.gunzipSync(gz1), a);
  assert.deepEqual(zlib.gunzipSync(await collect(gzipStream(Readable.from([a]), { useNative: true }))), a);
});

test('long names, non-ASCII names and long link targets go through pax records', async () => {
  const long = `${'d'.repeat(120)}/${'f'.repeat(120)}`;
  const entries = [
    { name: long, type: 'file' as const, mode: 0o644, uid: 0, gid: 0, mtime: 0, size: 3, source: Buffer.from('abc') },
    { name: 'ünï', type: 'symlink' as const, mode: 0o777, uid: 70000000, gid: 0, mtime: 0, linkname: 'x'.repeat(150) },
  ];
  const tar = await collect(Readable.from(tarBytes(entries)));
  const got = await list(tar);
  assert.deepEqual(got.map((e) => e.name), [long, 'ünï']);
  assert.equal(got[0].body.toString(), 'abc');
  assert.equal(got[1].linkname, 'x'.repeat(150));
  const gnu = spawnSync('tar', ['--numeric-owner', '-tvf', '-'], { input: tar });
  assert.match(gnu.stdout.toString(), /70000000\/0 .* ünï -> x{150}/, 'a big uid via pax (GNU tar)');
  assert.equal(entryHeader(entries[0]).length % 512, 0);
});
