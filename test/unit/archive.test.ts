import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import * as zlib from 'node:zlib';
import * as tarStream from 'tar-stream';
import { ImageService } from '../../src/image/service';
import { makeTar, type FixtureEntry } from '../helpers/tarfixture';

const sha = (b: Buffer | string): string => `sha256:${crypto.createHash('sha256').update(b).digest('hex')}`;

function service(t: { after(fn: () => void): void }): { root: string; svc: ImageService } {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-archive-'));
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  return { root, svc: new ImageService(root, () => undefined) };
}

async function saved(svc: ImageService, refs: string[]): Promise<Buffer> {
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (c: Buffer) => chunks.push(c));
  await svc.save(refs, out);
  return Buffer.concat(chunks);
}

async function entries(tar: Buffer): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  for await (const e of Readable.from([tar]).pipe(tarStream.extract() as never) as AsyncIterable<Readable & { header: tarStream.Header }>) {
    const parts: Buffer[] = [];
    for await (const c of e as AsyncIterable<Buffer>) parts.push(c);
    files.set(e.header.name, Buffer.concat(parts));
  }
  return files;
}

/** Nothing of a refused load may remain: no blob, no layer, no temp, no record. */
function assertEmpty(root: string): void {
  for (const d of ['content/blobs/sha256', 'content/ingest', 'layers']) assert.deepEqual(fs.readdirSync(path.join(root, d)), [], d);
  assert.deepEqual(fs.readdirSync(path.join(root, 'images')).filter((n) => n !== 'repositories.json'), []);
}

const rootfs = (): Promise<Buffer> => makeTar([{ name: 'bin/', type: 'directory' }, { name: 'bin/busybox', data: 'bb' }, { name: 'bin/sh', type: 'symlink', linkname: 'busybox' }]);

test('import -> save -> load round trip keeps the image id, tags and files; archive has both formats', async (t) => {
  const a = service(t);
  const id = await a.svc.importTar(Readable.from([zlib.gzipSync(await rootfs())]), { repo: 'busybox', changes: ['CMD ["sh"]'] });
  a.svc.tag('busybox', 'busybox', '1.36');
  const tar = await saved(a.svc, ['busybox']);
  const files = await entries(tar);
  for (const n of ['manifest.json', 'index.json', 'oci-layout', 'repositories', `blobs/sha256/${id.slice(7)}`]) assert.ok(files.has(n), n);
  const manifest = JSON.parse(files.get('manifest.json')!.toString()) as { Config: string; RepoTags: string[]; Layers: string[] }[];
  assert.deepEqual(manifest[0].RepoTags.sort(), ['busybox:1.36', 'busybox:latest']);
  const layer = files.get(manifest[0].Layers[0])!;
  assert.equal(sha(layer), a.svc.config(id).rootfs.diff_ids[0], 'layers are saved uncompressed, named by diffID');
  const index = JSON.parse(files.get('index.json')!.toString()) as { manifests: { digest: string; annotations: Record<string, string> }[] };
  assert.equal(index.manifests.length, 2);
  assert.equal(sha(files.get(`blobs/sha256/${index.manifests[0].digest.slice(7)}`)!), index.manifests[0].digest);

  const b = service(t);
  const msgs = await b.svc.load(Readable.from([tar]));
  assert.deepEqual(msgs.sort(), ['Loaded image: busybox:1.36', 'Loaded image: busybox:latest']);
  assert.equal(b.svc.get('busybox:1.36').id, id);
  assert.equal(fs.readlinkSync(path.join(b.svc.layerDirs(id)[0], 'bin/sh')), 'busybox');
  assert.deepEqual(b.svc.config(id), a.svc.config(id));
  // loading again changes nothing
  assert.deepEqual((await b.svc.load(Readable.from([tar]))).sort(), msgs.sort());

  // by id: untagged
  const c = service(t);
  assert.deepEqual(await c.svc.load(Readable.from([await saved(a.svc, [id.slice(7, 19)])])), [`Loaded image ID: ${id}`]);
  // OCI layout alone (Docker 25+ archives read by an OCI-only tool): drop manifest.json
  const d = service(t);
  const ociOnly = [...files].filter(([n]) => n !== 'manifest.json' && n !== 'repositories').map(([name, data]): FixtureEntry => (data.length || !name.endsWith('/') ? { name, data } : { name, type: 'directory' }));
  assert.deepEqual((await d.svc.load(Readable.from([await makeTar(ociOnly)]))).sort(), msgs.sort());
});

test('load: the older per-layer-directory docker-archive form, with a symlinked duplicate layer', async (t) => {
  const { svc } = service(t);
  const layer = await rootfs();
  const cfg = JSON.stringify({ architecture: 'amd64', os: 'linux', config: { Cmd: ['sh'] }, rootfs: { type: 'layers', diff_ids: [sha(layer), sha(layer)] } });
  const archive = await makeTar([
    { name: 'l1/', type: 'directory' },
    { name: 'l1/VERSION', data: '1.0' },
    { name: 'l1/layer.tar', data: layer },
    { name: 'l2/', type: 'directory' },
    { name: 'l2/layer.tar', type: 'symlink', linkname: '../l1/layer.tar' },
    { name: `${sha(cfg).slice(7)}.json`, data: cfg },
    { name: 'manifest.json', data: JSON.stringify([{ Config: `${sha(cfg).slice(7)}.json`, RepoTags: ['old:v1'], Layers: ['l1/layer.tar', 'l2/layer.tar'] }]) },
  ]);
  assert.deepEqual(await svc.load(Readable.from([archive])), ['Loaded image: old:v1']);
  assert.equal(svc.get('old:v1').id, sha(cfg));
});

const layerOk = rootfs;
const cases: [string, () => Promise<Buffer>, RegExp][] = [
  ['not an archive of images', () => makeTar([{ name: 'hello', data: 'x' }]), /neither manifest.json nor index.json/],
  ['not a tar at all', async () => Buffer.from('definitely not a tar file, just some text'.repeat(20)), /invalid archive/],
  ['a layer whose diffID differs from the config', async () => {
    const cfg = JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [`sha256:${'1'.repeat(64)}`] } });
    return makeTar([{ name: 'c.json', data: cfg }, { name: 'l.tar', data: await layerOk() }, { name: 'manifest.json', data: JSON.stringify([{ Config: 'c.json', RepoTags: ['x:1'], Layers: ['l.tar'] }]) }]);
  }, /diffID mismatch/],
  ['a missing layer file', async () => {
    const cfg = JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [sha(await layerOk())] } });
    return makeTar([{ name: 'c.json', data: cfg }, { name: 'manifest.json', data: JSON.stringify([{ Config: 'c.json', RepoTags: ['x:1'], Layers: ['nope.tar'] }]) }]);
  }, /nope.tar is missing from the archive/],
  ['a malicious layer', async () => {
    const evil = await makeTar([{ name: '../../evil', data: 'x' }]);
    const cfg = JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [sha(evil)] } });
    return makeTar([{ name: 'c.json', data: cfg }, { name: 'l.tar', data: evil }, { name: 'manifest.json', data: JSON.stringify([{ Config: 'c.json', RepoTags: ['x:1'], Layers: ['l.tar'] }]) }]);
  }, /refusing layer/],
  ['an archive entry climbing out', () => makeTar([{ name: '../manifest.json', data: '[]' }]), /".." path component/],
  ['a bad tag', async () => {
    const l = await layerOk();
    const cfg = JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [sha(l)] } });
    return makeTar([{ name: 'c.json', data: cfg }, { name: 'l.tar', data: l }, { name: 'manifest.json', data: JSON.stringify([{ Config: 'c.json', RepoTags: ['Bad:1'], Layers: ['l.tar'] }]) }]);
  }, /must be lowercase/],
];

for (const [what, make, reason] of cases) {
  test(`load refuses ${what} and leaves nothing behind`, async (t) => {
    const { root, svc } = service(t);
    await assert.rejects(svc.load(Readable.from([await make()])), (e: Error & { status?: number }) => reason.test(e.message) && e.status === 400);
    assertEmpty(root);
  });
}

test('a refused load keeps what existing images use', async (t) => {
  const { root, svc } = service(t);
  const id = await svc.importTar(Readable.from([await layerOk()]), { repo: 'keep' });
  const l = await layerOk();
  const cfg = JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [sha(l), `sha256:${'2'.repeat(64)}`] } });
  const bad = await makeTar([{ name: 'c.json', data: cfg }, { name: 'l.tar', data: l }, { name: 'manifest.json', data: JSON.stringify([{ Config: 'c.json', RepoTags: ['x:1'], Layers: ['l.tar', 'l.tar'] }]) }]);
  await assert.rejects(svc.load(Readable.from([bad])), /diffID mismatch/);
  assert.ok(fs.existsSync(path.join(svc.layerDirs(id)[0], 'bin/busybox')));
  assert.equal(fs.readdirSync(path.join(root, 'content/ingest')).length, 0);
});
