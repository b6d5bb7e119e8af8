import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import * as bcrypt from 'bcryptjs';
import { Htpasswd } from '../../src/registry/server/auth';
import { garbageCollect, startRegistry, type RegistryOptions } from '../../src/registry/server';

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
const DOCKER_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  json(): any;
}

interface Reg {
  url: string;
  root: string;
  req(method: string, p: string, opts?: { headers?: Record<string, string | number>; body?: string | Buffer }): Promise<Reply>;
}

type T = { after(fn: () => unknown): void };

const sha256 = (b: string | Buffer): string => `sha256:${crypto.createHash('sha256').update(b).digest('hex')}`;

function request(url: string, method: string, p: string, opts: { headers?: Record<string, string | number>; body?: string | Buffer } = {}): Promise<Reply> {
  const u = new URL(url);
  const mod = u.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const headers = { ...(opts.body !== undefined && { 'Content-Length': Buffer.byteLength(opts.body) }), ...opts.headers };
    const r = mod.request({ host: u.hostname, port: u.port, method, path: p, headers, rejectUnauthorized: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json: () => JSON.parse(body.toString('utf8')) });
      });
    });
    r.on('error', reject);
    r.end(opts.body);
  });
}

async function start(t: T, opts: Partial<RegistryOptions> = {}): Promise<Reg> {
  const root = opts.root ?? fs.mkdtempSync(path.join(os.tmpdir(), 'berth-registry-'));
  const reg = await startRegistry({ host: '127.0.0.1', port: 0, ...opts, root });
  t.after(async () => {
    await reg.close();
    fs.rmSync(root, { recursive: true, force: true });
  });
  return { url: reg.url, root, req: (m, p, o) => request(reg.url, m, p, o) };
}

function errorCode(r: Reply): string {
  const body = r.json() as { errors: { code: string; message: string }[] };
  assert.equal(body.errors.length, 1);
  assert.equal(typeof body.errors[0].message, 'string');
  return body.errors[0].code;
}

async function pushBlob(reg: Reg, repo: string, data: string | Buffer): Promise<{ digest: string; size: number }> {
  const digest = sha256(data);
  const r = await reg.req('POST', `/v2/${repo}/blobs/uploads/?digest=${digest}`, { body: data, headers: { 'Content-Type': 'application/octet-stream' } });
  assert.equal(r.status, 201, r.body.toString());
  return { digest, size: Buffer.byteLength(data) };
}

/** Push a config and one layer and return an OCI manifest (not yet pushed) naming them. */
async function imageManifest(reg: Reg, repo: string, layer = 'layer-bytes', extra: Record<string, unknown> = {}): Promise<string> {
  const config = await pushBlob(reg, repo, JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, layer }));
  const l = await pushBlob(reg, repo, layer);
  return JSON.stringify({
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', ...l }],
    ...extra,
  });
}

const putManifest = (reg: Reg, repo: string, ref: string, body: string, type = OCI_MANIFEST): Promise<Reply> =>
  reg.req('PUT', `/v2/${repo}/manifests/${ref}`, { body, headers: { 'Content-Type': type } });

/** Every regular file under dir, relative. */
function filesUnder(dir: string): string[] {
  return (fs.readdirSync(dir, { recursive: true }) as string[]).filter((f) => fs.statSync(path.join(dir, f)).isFile()).sort();
}

test('base endpoint answers {} with the API version header; unknown paths are 404', async (t) => {
  const reg = await start(t);
  const r = await reg.req('GET', '/v2/');
  assert.equal(r.status, 200);
  assert.deepEqual(r.json(), {});
  assert.equal(r.headers['docker-distribution-api-version'], 'registry/2.0');
  assert.equal((await reg.req('GET', '/v3/')).status, 404);
  const m = await reg.req('DELETE', '/v2/');
  assert.equal(m.status, 405);
  assert.equal(errorCode(m), 'UNSUPPORTED');
});

test('monolithic blob upload, HEAD/GET with ranges, repository scoping', async (t) => {
  const reg = await start(t);
  const data = Buffer.from('0123456789abcdef');
  const { digest } = await pushBlob(reg, 'lib/app', data);
  const head = await reg.req('HEAD', `/v2/lib/app/blobs/${digest}`);
  assert.equal(head.status, 200);
  assert.equal(head.headers['content-length'], '16');
  assert.equal(head.headers['docker-content-digest'], digest);
  assert.equal(head.body.length, 0);
  const get = await reg.req('GET', `/v2/lib/app/blobs/${digest}`);
  assert.deepEqual(get.body, data);
  const part = await reg.req('GET', `/v2/lib/app/blobs/${digest}`, { headers: { Range: 'bytes=2-5' } });
  assert.equal(part.status, 206);
  assert.equal(part.headers['content-range'], 'bytes 2-5/16');
  assert.equal(part.body.toString(), '2345');
  const suffix = await reg.req('GET', `/v2/lib/app/blobs/${digest}`, { headers: { Range: 'bytes=-3' } });
  assert.equal(suffix.body.toString(), 'def');
  const open = await reg.req('GET', `/v2/lib/app/blobs/${digest}`, { headers: { Range: 'bytes=14-' } });
  assert.equal(open.body.toString(), 'ef');
  const bad = await reg.req('GET', `/v2/lib/app/blobs/${digest}`, { headers: { Range: 'bytes=16-20' } });
  assert.equal(bad.status, 416);
  assert.equal(bad.headers['content-range'], 'bytes */16');
  // Another repository does not see it.
  const other = await reg.req('GET', `/v2/other/blobs/${digest}`);
  assert.equal(other.status, 404);
  assert.equal(errorCode(other), 'BLOB_UNKNOWN');
  // sha512 digests work too.
  const d512 = `sha512:${crypto.createHash('sha512').update(data).digest('hex')}`;
  assert.equal((await reg.req('POST', `/v2/lib/app/blobs/uploads/?digest=${d512}`, { body: data })).status, 201);
  assert.equal((await reg.req('HEAD', `/v2/lib/app/blobs/${d512}`)).status, 200);
  // Blob DELETE unlinks it from the repository.
  assert.equal((await reg.req('DELETE', `/v2/lib/app/blobs/${digest}`)).status, 202);
  assert.equal((await reg.req('HEAD', `/v2/lib/app/blobs/${digest}`)).status, 404);
  assert.equal(errorCode(await reg.req('DELETE', `/v2/lib/app/blobs/${digest}`)), 'BLOB_UNKNOWN');
});

test('a wrong digest is 400 DIGEST_INVALID and stores nothing; malformed digests are refused', async (t) => {
  const reg = await start(t);
  const r = await reg.req('POST', `/v2/app/blobs/uploads/?digest=${sha256('other')}`, { body: 'payload' });
  assert.equal(r.status, 400);
  assert.equal(errorCode(r), 'DIGEST_INVALID');
  assert.deepEqual(filesUnder(path.join(reg.root, 'blobs')), []);
  assert.deepEqual(fs.readdirSync(path.join(reg.root, 'uploads')), []);
  for (const d of ['sha256:abc', 'md5:0123', `sha256:${'A'.repeat(64)}`, 'nocolon']) {
    const bad = await reg.req('POST', `/v2/app/blobs/uploads/?digest=${d}`, { body: 'x' });
    assert.equal(bad.status, 400, d);
    assert.equal(errorCode(bad), 'DIGEST_INVALID');
  }
  assert.equal(errorCode(await reg.req('GET', '/v2/app/blobs/sha256:1234')), 'DIGEST_INVALID');
});

test('chunked upload: PATCH with Content-Range, status, 416 on gaps and replays, PUT with a last chunk', async (t) => {
  const reg = await start(t);
  const start0 = await reg.req('POST', '/v2/app/blobs/uploads/');
  assert.equal(start0.status, 202);
  const loc = start0.headers.location!;
  assert.match(loc, /^\/v2\/app\/blobs\/uploads\/[0-9a-f-]{36}$/);
  assert.equal(start0.headers['docker-upload-uuid'], loc.split('/').pop());
  const p1 = await reg.req('PATCH', loc, { body: 'hello', headers: { 'Content-Range': '0-4', 'Content-Type': 'application/octet-stream' } });
  assert.equal(p1.status, 202);
  assert.equal(p1.headers.range, '0-4');
  const gap = await reg.req('PATCH', loc, { body: 'xx', headers: { 'Content-Range': '7-8' } });
  assert.equal(gap.status, 416);
  assert.equal(errorCode(gap), 'RANGE_INVALID');
  const replay = await reg.req('PATCH', loc, { body: 'hello', headers: { 'Content-Range': '0-4' } });
  assert.equal(replay.status, 416);
  const short = await reg.req('PATCH', loc, { body: 'ab', headers: { 'Content-Range': '5-9' } });
  assert.equal(short.status, 400, 'a chunk shorter than its Content-Range is refused');
  const status = await reg.req('GET', loc);
  assert.equal(status.status, 204);
  assert.equal(status.headers.range, '0-4', 'refused chunks left nothing behind');
  const p2 = await reg.req('PATCH', loc, { body: ', ' }); // streamed chunk without Content-Range
  assert.equal(p2.headers.range, '0-6');
  const digest = sha256('hello, world');
  const put = await reg.req('PUT', `${loc}?digest=${digest}`, { body: 'world', headers: { 'Content-Range': '7-11' } });
  assert.equal(put.status, 201, put.body.toString());
  assert.equal(put.headers.location, `/v2/app/blobs/${digest}`);
  assert.equal(put.headers['docker-content-digest'], digest);
  assert.equal((await reg.req('GET', `/v2/app/blobs/${digest}`)).body.toString(), 'hello, world');
  assert.equal(errorCode(await reg.req('GET', loc)), 'BLOB_UPLOAD_UNKNOWN', 'the session ends with the upload');
});

test('upload sessions: wrong digest on PUT cancels, DELETE cancels, sessions are per repository', async (t) => {
  const reg = await start(t);
  const loc = (await reg.req('POST', '/v2/app/blobs/uploads/')).headers.location!;
  await reg.req('PATCH', loc, { body: 'abc' });
  const id = loc.split('/').pop();
  assert.equal(errorCode(await reg.req('GET', `/v2/other/blobs/uploads/${id}`)), 'BLOB_UPLOAD_UNKNOWN');
  const put = await reg.req('PUT', `${loc}?digest=${sha256('abd')}`);
  assert.equal(errorCode(put), 'DIGEST_INVALID');
  assert.equal((await reg.req('GET', loc)).status, 404);
  assert.deepEqual(filesUnder(path.join(reg.root, 'blobs')), []);
  const loc2 = (await reg.req('POST', '/v2/app/blobs/uploads/')).headers.location!;
  assert.equal(errorCode(await reg.req('PUT', loc2)), 'DIGEST_INVALID', 'PUT needs ?digest=');
  assert.equal((await reg.req('DELETE', loc2)).status, 204);
  assert.equal(errorCode(await reg.req('DELETE', loc2)), 'BLOB_UPLOAD_UNKNOWN');
  assert.deepEqual(fs.readdirSync(path.join(reg.root, 'uploads')), []);
});

test('cross-repository mount: 201 when the source has the blob, a normal 202 upload otherwise', async (t) => {
  const reg = await start(t);
  const { digest } = await pushBlob(reg, 'src/repo', 'shared layer');
  const m = await reg.req('POST', `/v2/dst/blobs/uploads/?mount=${digest}&from=src/repo`);
  assert.equal(m.status, 201);
  assert.equal(m.headers.location, `/v2/dst/blobs/${digest}`);
  assert.equal((await reg.req('GET', `/v2/dst/blobs/${digest}`)).body.toString(), 'shared layer');
  const miss = await reg.req('POST', `/v2/third/blobs/uploads/?mount=${digest}&from=nothere`);
  assert.equal(miss.status, 202);
  assert.match(miss.headers.location!, /^\/v2\/third\/blobs\/uploads\//);
  assert.equal((await reg.req('HEAD', `/v2/third/blobs/${digest}`)).status, 404);
  assert.equal(errorCode(await reg.req('POST', `/v2/x/blobs/uploads/?mount=${digest}&from=../src`)), 'NAME_INVALID');
});

test('manifests: validation, exact bytes, tag and digest access, content negotiation, delete', async (t) => {
  const reg = await start(t);
  const repo = 'lib/img';
  const missing = JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: { mediaType: 'x', digest: sha256('none'), size: 4 }, layers: [] });
  const r1 = await putManifest(reg, repo, 'v1', missing);
  assert.equal(r1.status, 400);
  assert.equal(errorCode(r1), 'MANIFEST_BLOB_UNKNOWN');
  assert.equal(r1.json().errors[0].detail.digest, sha256('none'));
  assert.equal(errorCode(await putManifest(reg, repo, 'v1', '{not json')), 'MANIFEST_INVALID');
  assert.equal(errorCode(await putManifest(reg, repo, 'v1', '{"schemaVersion":2}', 'application/x-unknown')), 'MANIFEST_INVALID');
  assert.equal(errorCode(await putManifest(reg, repo, 'v1', '{"schemaVersion":2,"mediaType":"' + OCI_INDEX + '","manifests":[]}')), 'MANIFEST_INVALID', 'body and Content-Type disagree');

  const body = (await imageManifest(reg, repo)).replace('{', '{ ') + '\n'; // odd formatting: the bytes are kept as is
  assert.equal(errorCode(await putManifest(reg, repo, sha256('other'), body)), 'DIGEST_INVALID');
  const put = await putManifest(reg, repo, 'v1', body);
  assert.equal(put.status, 201, put.body.toString());
  const digest = sha256(body);
  assert.equal(put.headers['docker-content-digest'], digest);
  assert.equal(put.headers.location, `/v2/${repo}/manifests/${digest}`);
  for (const ref of ['v1', digest]) {
    const g = await reg.req('GET', `/v2/${repo}/manifests/${ref}`, { headers: { Accept: `${DOCKER_MANIFEST}, ${OCI_MANIFEST};q=0.9` } });
    assert.equal(g.status, 200);
    assert.equal(g.body.toString(), body);
    assert.equal(g.headers['content-type'], OCI_MANIFEST);
    assert.equal(g.headers['docker-content-digest'], digest);
  }
  const h = await reg.req('HEAD', `/v2/${repo}/manifests/v1`);
  assert.equal(h.headers['content-length'], String(Buffer.byteLength(body)));
  const notAccepted = await reg.req('GET', `/v2/${repo}/manifests/v1`, { headers: { Accept: DOCKER_MANIFEST } });
  assert.equal(notAccepted.status, 404);
  assert.equal(errorCode(notAccepted), 'MANIFEST_UNKNOWN');
  assert.equal(errorCode(await reg.req('GET', `/v2/${repo}/manifests/nope`)), 'MANIFEST_UNKNOWN');
  assert.equal(errorCode(await reg.req('GET', `/v2/other/manifests/${digest}`)), 'MANIFEST_UNKNOWN');
  // PUT by digest (no tag).
  assert.equal((await putManifest(reg, repo, digest, body)).status, 201);

  // An index must name manifests the repository has.
  const child = { mediaType: OCI_MANIFEST, digest, size: Buffer.byteLength(body), platform: { architecture: 'amd64', os: 'linux' } };
  const orphan = JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [{ ...child, digest: sha256('x') }] });
  assert.equal(errorCode(await putManifest(reg, repo, 'multi', orphan, OCI_INDEX)), 'MANIFEST_BLOB_UNKNOWN');
  const index = JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [child] });
  assert.equal((await putManifest(reg, repo, 'multi', index, OCI_INDEX)).status, 201);
  const list = JSON.stringify({ schemaVersion: 2, mediaType: DOCKER_LIST, manifests: [child] });
  assert.equal((await putManifest(reg, repo, 'dlist', list, DOCKER_LIST)).status, 201);
  assert.equal((await reg.req('GET', `/v2/${repo}/manifests/dlist`)).headers['content-type'], DOCKER_LIST);

  // Docker schema2.
  const cfg = await pushBlob(reg, repo, '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}');
  const d2 = JSON.stringify({ schemaVersion: 2, mediaType: DOCKER_MANIFEST, config: { mediaType: 'application/vnd.docker.container.image.v1+json', ...cfg }, layers: [] });
  assert.equal((await putManifest(reg, repo, 'docker', d2, DOCKER_MANIFEST)).status, 201);
  const wrongSize = JSON.stringify({ schemaVersion: 2, mediaType: DOCKER_MANIFEST, config: { mediaType: 'x', digest: cfg.digest, size: 1 }, layers: [] });
  assert.equal(errorCode(await putManifest(reg, repo, 'docker', wrongSize, DOCKER_MANIFEST)), 'MANIFEST_INVALID');

  // DELETE by tag keeps the manifest; DELETE by digest removes it and its tags.
  assert.equal((await reg.req('DELETE', `/v2/${repo}/manifests/multi`)).status, 202);
  assert.equal((await reg.req('GET', `/v2/${repo}/manifests/multi`)).status, 404);
  assert.equal((await reg.req('DELETE', `/v2/${repo}/manifests/${digest}`)).status, 202);
  assert.equal((await reg.req('GET', `/v2/${repo}/manifests/${digest}`)).status, 404);
  assert.equal((await reg.req('GET', `/v2/${repo}/manifests/v1`)).status, 404);
  assert.equal(errorCode(await reg.req('DELETE', `/v2/${repo}/manifests/${digest}`)), 'MANIFEST_UNKNOWN');
});

test('tags list and catalog paginate with n/last and a Link header', async (t) => {
  const reg = await start(t);
  assert.equal(errorCode(await reg.req('GET', '/v2/none/tags/list')), 'NAME_UNKNOWN');
  const body = await imageManifest(reg, 'a/b');
  for (const tag of ['v3', 'latest', 'v1', 'v2']) assert.equal((await putManifest(reg, 'a/b', tag, body)).status, 201);
  assert.deepEqual((await reg.req('GET', '/v2/a/b/tags/list')).json(), { name: 'a/b', tags: ['latest', 'v1', 'v2', 'v3'] });
  const p1 = await reg.req('GET', '/v2/a/b/tags/list?n=2');
  assert.deepEqual(p1.json().tags, ['latest', 'v1']);
  assert.equal(p1.headers.link, '</v2/a/b/tags/list?n=2&last=v1>; rel="next"');
  const p2 = await reg.req('GET', p1.headers.link!.slice(1, p1.headers.link!.indexOf('>')));
  assert.deepEqual(p2.json().tags, ['v2', 'v3']);
  assert.equal(p2.headers.link, undefined);
  assert.deepEqual((await reg.req('GET', '/v2/a/b/tags/list?last=v2')).json().tags, ['v3']);
  assert.equal(errorCode(await reg.req('GET', '/v2/a/b/tags/list?n=-1')), 'PAGINATION_NUMBER_INVALID');

  for (const repo of ['c', 'a/b/c', 'b']) assert.equal((await putManifest(reg, repo, 'x', await imageManifest(reg, repo))).status, 201);
  await pushBlob(reg, 'blobs-only', 'x'); // no manifest: not a catalog entry
  assert.deepEqual((await reg.req('GET', '/v2/_catalog')).json(), { repositories: ['a/b', 'a/b/c', 'b', 'c'] });
  const c1 = await reg.req('GET', '/v2/_catalog?n=3');
  assert.deepEqual(c1.json().repositories, ['a/b', 'a/b/c', 'b']);
  assert.equal(c1.headers.link, '</v2/_catalog?n=3&last=b>; rel="next"');
  assert.deepEqual((await reg.req('GET', '/v2/_catalog?n=3&last=b')).json().repositories, ['c']);
});

test('referrers: OCI-Subject on PUT, listing, artifactType filter, removal with the referrer', async (t) => {
  const reg = await start(t);
  const subjectBody = await imageManifest(reg, 'app');
  const subject = sha256(subjectBody);
  assert.equal((await putManifest(reg, 'app', 'v1', subjectBody)).status, 201);
  const empty = await pushBlob(reg, 'app', '{}');
  const artifact = (type: string, note: string): string =>
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      artifactType: type,
      config: { mediaType: 'application/vnd.oci.empty.v1+json', ...empty },
      layers: [],
      subject: { mediaType: OCI_MANIFEST, digest: subject, size: Buffer.byteLength(subjectBody) },
      annotations: { note },
    });
  const sig = artifact('application/vnd.example.sig', 'sig');
  const sbom = artifact('application/vnd.example.sbom', 'sbom');
  const put = await putManifest(reg, 'app', sha256(sig), sig);
  assert.equal(put.status, 201);
  assert.equal(put.headers['oci-subject'], subject);
  await putManifest(reg, 'app', sha256(sbom), sbom);
  const all = await reg.req('GET', `/v2/app/referrers/${subject}`);
  assert.equal(all.status, 200);
  assert.equal(all.headers['content-type'], OCI_INDEX);
  const idx = all.json();
  assert.equal(idx.schemaVersion, 2);
  assert.equal(idx.mediaType, OCI_INDEX);
  const byDigest = new Map<string, any>(idx.manifests.map((m: any) => [m.digest, m]));
  assert.deepEqual(byDigest.get(sha256(sig)), { mediaType: OCI_MANIFEST, digest: sha256(sig), size: Buffer.byteLength(sig), artifactType: 'application/vnd.example.sig', annotations: { note: 'sig' } });
  assert.ok(byDigest.has(sha256(sbom)));
  const filtered = await reg.req('GET', `/v2/app/referrers/${subject}?artifactType=application/vnd.example.sbom`);
  assert.equal(filtered.headers['oci-filters-applied'], 'artifactType');
  assert.deepEqual(filtered.json().manifests.map((m: any) => m.digest), [sha256(sbom)]);
  assert.deepEqual((await reg.req('GET', `/v2/app/referrers/${sha256('unknown')}`)).json().manifests, []);
  assert.equal(errorCode(await reg.req('GET', '/v2/app/referrers/sha256:zz')), 'DIGEST_INVALID');
  await reg.req('DELETE', `/v2/app/manifests/${sha256(sig)}`);
  assert.deepEqual((await reg.req('GET', `/v2/app/referrers/${subject}`)).json().manifests.map((m: any) => m.digest), [sha256(sbom)]);
});

test('path traversal through names, references, digests and upload ids is refused and writes nothing outside', async (t) => {
  const parent = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-registry-parent-'));
  t.after(() => fs.rmSync(parent, { recursive: true, force: true }));
  const reg = await start(t, { root: path.join(parent, 'root') });
  const d = sha256('x');
  const attempts: [string, string, number][] = [
    ['GET', '/v2/../../etc/manifests/latest', 400],
    ['GET', '/v2/%2e%2e/%2e%2e/tags/list', 400],
    ['PUT', '/v2/a/manifests/..%2F..%2F..%2Fescape', 400],
    ['GET', '/v2/a/manifests/..', 400],
    ['PUT', '/v2/..%2Fescape/manifests/latest', 400],
    ['GET', '/v2/a/blobs/sha256:..%2F..%2F..%2Fetc%2Fpasswd', 400],
    ['GET', '/v2/a/blobs/sha256%3A..%2F..%2Fx', 400],
    ['PATCH', '/v2/a/blobs/uploads/..%2F..%2Fescape', 404],
    ['PATCH', '/v2/a/blobs/uploads/..', 404],
    ['POST', `/v2/_layers/blobs/uploads/?digest=${d}`, 400],
    ['GET', '/v2/a/blobs/uploads/%zz', 400],
  ];
  for (const [method, p, status] of attempts) {
    const r = await reg.req(method, p, { body: 'x', headers: { 'Content-Type': OCI_MANIFEST } });
    assert.equal(r.status, status, `${method} ${p}: ${r.body}`);
  }
  assert.deepEqual(fs.readdirSync(parent), ['root']);
  assert.deepEqual(filesUnder(path.join(parent, 'root')), []);
});

test('basic auth: 401 with a Basic challenge, wrong passwords refused, right ones accepted', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-htpasswd-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'htpasswd');
  fs.writeFileSync(file, `# users\nalice:${bcrypt.hashSync('s3cret', 4).replace('$2b$', '$2y$')}\n\n`);
  const reg = await start(t, { htpasswd: file });
  const anon = await reg.req('GET', '/v2/');
  assert.equal(anon.status, 401);
  assert.equal(anon.headers['www-authenticate'], 'Basic realm="berth-registry"');
  assert.equal(errorCode(anon), 'UNAUTHORIZED');
  const basic = (u: string, p: string): Record<string, string> => ({ Authorization: `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}` });
  assert.equal((await reg.req('GET', '/v2/', { headers: basic('alice', 'wrong') })).status, 401);
  assert.equal((await reg.req('GET', '/v2/', { headers: basic('bob', 's3cret') })).status, 401);
  assert.equal((await reg.req('POST', `/v2/a/blobs/uploads/?digest=${sha256('x')}`, { body: 'x' })).status, 401);
  assert.equal((await reg.req('GET', '/v2/', { headers: basic('alice', 's3cret') })).status, 200);
  const up = await reg.req('POST', `/v2/a/blobs/uploads/?digest=${sha256('x')}`, { body: 'x', headers: basic('alice', 's3cret') });
  assert.equal(up.status, 201);
  fs.writeFileSync(file, 'alice:plaintext\n');
  await assert.rejects(startRegistry({ root: path.join(dir, 'r'), htpasswd: file }), /htpasswd:1: expected user:bcrypt-hash/);
});

test('read-only mode refuses writes with 405 UNSUPPORTED and still serves reads', async (t) => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-registry-ro-'));
  const rw = await startRegistry({ root });
  const { digest } = await pushBlob({ url: rw.url, root, req: (m, p, o) => request(rw.url, m, p, o) }, 'app', 'data');
  await rw.close();
  const reg = await start(t, { root, readOnly: true });
  assert.equal((await reg.req('GET', `/v2/app/blobs/${digest}`)).body.toString(), 'data');
  for (const [m, p] of [['POST', '/v2/app/blobs/uploads/'], ['DELETE', `/v2/app/blobs/${digest}`], ['PUT', '/v2/app/manifests/v1']]) {
    const r = await reg.req(m, p, { body: '{}' });
    assert.equal(r.status, 405, `${m} ${p}`);
    assert.equal(errorCode(r), 'UNSUPPORTED');
  }
});

test('TLS with a given certificate and key', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-tls-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const key = path.join(dir, 'key.pem');
  const cert = path.join(dir, 'cert.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
  const reg = await start(t, { tls: { cert: fs.readFileSync(cert), key: fs.readFileSync(key) } });
  assert.match(reg.url, /^https:\/\/127\.0\.0\.1:\d+$/);
  const r = await new Promise<http.IncomingMessage>((resolve, reject) =>
    https.get(`${reg.url}/v2/`, { ca: fs.readFileSync(cert) }, resolve).on('error', reject),
  );
  r.resume();
  assert.equal(r.statusCode, 200);
});

test('concurrent uploads of the same blob all succeed and leave one blob', async (t) => {
  const reg = await start(t);
  const data = crypto.randomBytes(256 * 1024);
  const digest = sha256(data);
  const replies = await Promise.all(['a', 'b', 'c', 'd', 'e', 'a'].map((repo) => reg.req('POST', `/v2/${repo}/blobs/uploads/?digest=${digest}`, { body: data })));
  assert.deepEqual(replies.map((r) => r.status), [201, 201, 201, 201, 201, 201]);
  assert.deepEqual(filesUnder(path.join(reg.root, 'blobs')), [`sha256/${digest.slice(7, 9)}/${digest.slice(7)}`]);
  assert.deepEqual((await reg.req('GET', `/v2/e/blobs/${digest}`)).body, data);
});

test('kill -9 in the middle of an upload leaves no blob that is served', async (t) => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-registry-kill-'));
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  const serverModule = require.resolve('../../src/registry/server');
  const child = spawn(process.execPath, ['-e', `require(${JSON.stringify(serverModule)}).startRegistry({root:${JSON.stringify(root)}}).then(r=>console.log(r.url))`], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => child.kill('SIGKILL'));
  const url = await new Promise<string>((resolve) => child.stdout!.once('data', (b: Buffer) => resolve(b.toString().trim())));
  const data = crypto.randomBytes(4 * 1024 * 1024);
  const digest = sha256(data);
  const loc = (await request(url, 'POST', '/v2/app/blobs/uploads/')).headers.location!;
  const u = new URL(url);
  const put = http.request({ host: u.hostname, port: u.port, method: 'PUT', path: `${loc}?digest=${digest}`, headers: { 'Transfer-Encoding': 'chunked' } });
  put.on('error', () => undefined);
  put.write(data.subarray(0, 1024 * 1024));
  const uploadData = path.join(root, 'uploads', loc.split('/').pop()!, 'data');
  while (!fs.existsSync(uploadData) || fs.statSync(uploadData).size < 1024 * 1024) await new Promise((r) => setTimeout(r, 10));
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
  put.destroy();
  const reg = await start(t, { root });
  assert.equal((await reg.req('HEAD', `/v2/app/blobs/${digest}`)).status, 404);
  assert.deepEqual(filesUnder(path.join(root, 'blobs')), []);
  // The session survives the restart and can be finished.
  const fin = await reg.req('PUT', `${loc}?digest=${digest}`, { body: data.subarray(1024 * 1024), headers: { 'Content-Range': `${1024 * 1024}-${data.length - 1}` } });
  assert.equal(fin.status, 201, fin.body.toString());
  assert.deepEqual((await reg.req('GET', `/v2/app/blobs/${digest}`)).body, data);
});

test('garbageCollect marks what manifests reference and sweeps the rest (dry run first)', async (t) => {
  const reg = await start(t);
  const keep = await imageManifest(reg, 'keep', 'kept layer');
  await putManifest(reg, 'keep', 'v1', keep);
  const drop = await imageManifest(reg, 'drop', 'dropped layer');
  await putManifest(reg, 'drop', 'v1', drop);
  const index = JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [{ mediaType: OCI_MANIFEST, digest: sha256(keep), size: keep.length }] });
  await putManifest(reg, 'keep', 'multi', index, OCI_INDEX);
  const stray = await pushBlob(reg, 'keep', 'never referenced');
  await reg.req('DELETE', `/v2/drop/manifests/${sha256(drop)}`);
  const dropped = JSON.parse(drop);
  const expected = [sha256(drop), dropped.config.digest, dropped.layers[0].digest, stray.digest].sort();
  const before = filesUnder(path.join(reg.root, 'blobs'));
  const dry = await garbageCollect(reg.root, { dryRun: true });
  assert.deepEqual(dry.deleted, expected);
  assert.deepEqual(filesUnder(path.join(reg.root, 'blobs')), before);
  const real = await garbageCollect(reg.root);
  assert.deepEqual(real.deleted, expected);
  assert.equal(real.kept, 4, 'keep manifest, its config and layer, the index');
  assert.equal(filesUnder(path.join(reg.root, 'blobs')).length, 4);
  const kept = JSON.parse(keep);
  for (const d of [kept.config.digest, kept.layers[0].digest]) assert.equal((await reg.req('HEAD', `/v2/keep/blobs/${d}`)).status, 200);
  assert.equal((await reg.req('GET', '/v2/keep/manifests/multi')).status, 200);
  assert.equal((await reg.req('HEAD', `/v2/keep/blobs/${stray.digest}`)).status, 404);
  assert.deepEqual((await garbageCollect(reg.root)).deleted, []);
});

/** A raw connection: whatever is written, and a promise of the bytes received until the server closes it. */
function rawConn(url: string): Promise<{ sock: net.Socket; closed: Promise<string> }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const sock = net.connect(Number(u.port), u.hostname, () => {
      let got = '';
      sock.on('data', (d: Buffer) => (got += d.toString()));
      resolve({ sock, closed: new Promise((r) => sock.on('close', () => r(got))) });
    });
    sock.on('error', reject);
  });
}

test('a client that never finishes its headers, or stalls in a body, is disconnected; the upload stays as it was', { timeout: 20_000 }, async (t) => {
  const reg = await start(t, { headersTimeoutMs: 300, idleTimeoutMs: 300 });
  const slow = await rawConn(reg.url);
  slow.sock.write('GET /v2/ HTTP/1.1\r\nHost: x\r\n'); // and never the empty line
  await slow.closed;
  const start202 = await reg.req('POST', '/v2/a/blobs/uploads/');
  const loc = String(start202.headers.location);
  const stall = await rawConn(reg.url);
  stall.sock.write(`PATCH ${loc} HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nContent-Length: 1000\r\n\r\n${'x'.repeat(10)}`);
  await stall.closed;
  const status = await reg.req('GET', loc);
  assert.equal(status.status, 204);
  assert.equal(status.headers.range, '0-0', 'the broken chunk was not kept');
});

test('uploads above --max-blob-size are refused with 413 SIZE_INVALID, announced or not', async (t) => {
  const reg = await start(t, { maxBlobSize: 1000 });
  const big = Buffer.alloc(1001, 1);
  const mono = await reg.req('POST', `/v2/a/blobs/uploads/?digest=${sha256(big)}`, { body: big });
  assert.equal(mono.status, 413);
  assert.equal(errorCode(mono), 'SIZE_INVALID');
  const loc = String((await reg.req('POST', '/v2/a/blobs/uploads/')).headers.location);
  assert.equal((await reg.req('PATCH', loc, { body: Buffer.alloc(600) })).status, 202);
  // chunked transfer: no Content-Length to refuse up front, the count stops it
  const chunked = await new Promise<number>((resolve, reject) => {
    const u = new URL(reg.url);
    const r = http.request({ host: u.hostname, port: u.port, method: 'PATCH', path: loc, headers: { 'Transfer-Encoding': 'chunked' } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    r.on('error', reject);
    r.end(Buffer.alloc(600));
  });
  assert.equal(chunked, 413);
  assert.equal((await reg.req('GET', loc)).headers.range, '0-599');
  assert.equal((await reg.req('PUT', `${loc}?digest=${sha256(Buffer.alloc(600))}`)).status, 201);
  assert.deepEqual(filesUnder(path.join(reg.root, 'blobs')).length, 1);
});

test('abandoned uploads are purged on a timer', { timeout: 20_000 }, async (t) => {
  const reg = await start(t, { uploadMaxAgeMs: 200 });
  const loc = (r: Reply): string => String(r.headers.location);
  const old = loc(await reg.req('POST', '/v2/a/blobs/uploads/'));
  const uploads = path.join(reg.root, 'uploads');
  assert.equal(fs.readdirSync(uploads).length, 1);
  while (fs.readdirSync(uploads).length && !t.signal.aborted) await new Promise((r) => setTimeout(r, 50));
  assert.equal((await reg.req('PATCH', old, { body: 'x' })).status, 404);
});

test('htpasswd over plain HTTP is refused off loopback; bcrypt checks are bounded and a success is remembered', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-htpasswd-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'htpasswd');
  fs.writeFileSync(file, `alice:${bcrypt.hashSync('s3cret', 4)}\n`);
  await assert.rejects(startRegistry({ root: path.join(dir, 'r'), host: '0.0.0.0', htpasswd: file }), /htpasswd authentication over plain HTTP is only allowed on loopback/);

  const auth = Htpasswd.load(file, 2);
  const basic = (p: string): string => `Basic ${Buffer.from(`alice:${p}`).toString('base64')}`;
  const checks = ['a', 'b', 'c', 'd', 'e', 's3cret'].map((p) => auth.check(basic(p)));
  assert.deepEqual([auth.limiter.active, auth.limiter.waiting], [2, 4], 'two bcrypt checks run, four wait');
  assert.deepEqual(await Promise.all(checks), [undefined, undefined, undefined, undefined, undefined, 'alice']);
  assert.deepEqual([auth.limiter.active, auth.limiter.waiting], [0, 0]);
  const again = auth.check(basic('s3cret'));
  assert.equal(auth.limiter.active, 0, 'remembered: no bcrypt');
  assert.equal(await again, 'alice');
  const same = [auth.check(basic('x')), auth.check(basic('x'))];
  assert.equal(auth.limiter.active, 1, 'the same credentials arriving together are checked once');
  await Promise.all(same);
});

test('repository names with percent-encoding, dot-dot or uppercase are NAME_INVALID', async (t) => {
  const reg = await start(t);
  for (const p of ['/v2/a%2Fb/tags/list', '/v2/a%2fb/manifests/latest', '/v2/%61/tags/list', '/v2/a/../b/tags/list', '/v2/Abc/tags/list', '/v2/a/./b/tags/list']) {
    const r = await reg.req('GET', p);
    assert.equal(r.status, 400, p);
    assert.equal(errorCode(r), 'NAME_INVALID', p);
  }
});

test('a manifest body over 4 MiB is refused whatever its Content-Length', async (t) => {
  const reg = await start(t);
  const body = JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, pad: 'x'.repeat(4 << 20) });
  const r = await putManifest(reg, 'a', 'big', body);
  assert.equal(r.status, 413);
  assert.equal(errorCode(r), 'SIZE_INVALID');
});
