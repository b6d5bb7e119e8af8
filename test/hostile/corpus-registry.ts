/**
 * Hostile registries (pull from the stub: manifests, indexes, configs, blobs that lie) and hostile requests to Berth's
 * own registry server (`berth registry serve`, whose storage root is the canary's sibling).
 */
import * as crypto from 'node:crypto';
import * as zlib from 'node:zlib';
import { DOCKER_LIST, digestOf, indexChain, stubImage, tar, type StubRepo } from './craft';
import type { HostileInput } from './harness';

const layer = async (): Promise<Buffer> => zlib.gzipSync(await tar([{ name: 'hello', data: 'hello\n' }]));
type Edit = Parameters<typeof stubImage>[1];
const pull = (name: string, edit: (l: Buffer) => Edit, expect: HostileInput['expect'] = 'refused', extra: Partial<HostileInput> = {}): HostileInput => ({
  name: `pull: ${name}`,
  expect,
  payload: { kind: 'pull', repo: async () => { const l = await layer(); return stubImage({ layers: [l] }, edit(l)); } },
  ...extra, // last: an entry may bring its own payload
});
const pullRepo = (name: string, repo: () => Promise<StubRepo>, expect: HostileInput['expect'] = 'refused', extra: Partial<HostileInput> = {}): HostileInput => ({
  name: `pull: ${name}`,
  expect,
  ...extra,
  payload: { kind: 'pull', repo },
});

const editLayer = (f: (d: Record<string, unknown>) => void) => () => ({ edit: (m: { layers: Record<string, unknown>[] }) => (f(m.layers[0]), m) });
const editConfig = (f: (d: Record<string, unknown>) => void) => () => ({ edit: (m: { config: Record<string, unknown> }) => (f(m.config), m) });

const pullInputs: HostileInput[] = [
  pull('a layer blob that does not match its digest', (l) => ({ blobOverride: { [digestOf(l)]: zlib.gzipSync(Buffer.from('other')) } })),
  pullRepo('a config that does not match its digest', async () => {
    const l = await layer();
    const r = stubImage({ layers: [l] });
    const cfg = Object.keys(r.blobs).find((d) => r.blobs[d].toString().startsWith('{'))!;
    r.blobs[cfg] = Buffer.from('{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}');
    return r;
  }),
  pull('layer size smaller than the blob', editLayer((d) => (d.size = Number(d.size) - 10))),
  pull('layer size larger than the blob', editLayer((d) => (d.size = Number(d.size) + 10))),
  pull('layer size negative', editLayer((d) => (d.size = -1))),
  pull('layer size of 1 PB', editLayer((d) => (d.size = 1e15))),
  pull('layer size is a string', editLayer((d) => (d.size = '12'))),
  pull('layer digest is a path', editLayer((d) => (d.digest = 'sha256:../../../../../../etc/passwd'))),
  pull('layer digest with an unknown algorithm', editLayer((d) => (d.digest = 'md5:d41d8cd98f00b204e9800998ecf8427e'))),
  pull('layer digest uppercase hex', editLayer((d) => (d.digest = String(d.digest).toUpperCase()))),
  pull('unknown layer media type', editLayer((d) => (d.mediaType = 'application/x-evil'))),
  pull('config digest is a path', editConfig((d) => (d.digest = 'sha256:../../secret'))),
  pull('config missing', () => ({ edit: (m) => ({ ...m, config: undefined }) })),
  pull('layers is an object', () => ({ edit: (m) => ({ ...m, layers: { a: 1 } }) })),
  pull('no layers at all', () => ({ edit: (m) => ({ ...m, layers: [] }) }), 'safe'),
  pull('schemaVersion 1 manifest', () => ({ raw: JSON.stringify({ schemaVersion: 1, name: 'x', tag: 'latest', fsLayers: [], history: [] }), contentType: 'application/vnd.docker.distribution.manifest.v1+prettyjws' })),
  pull('unknown manifest media type', () => ({ contentType: 'application/x-evil' })),
  pull('manifest is not JSON', () => ({ raw: '{"schemaVersion":2,' })),
  pull('manifest is a JSON array', () => ({ raw: '[1,2,3]' })),
  pull('manifest is JSON null', () => ({ raw: 'null' })),
  pull('manifest nested 100000 arrays deep', () => ({ raw: '['.repeat(100000) + ']'.repeat(100000) })),
  pull('manifest of 100 MB', () => ({ raw: `{"schemaVersion":2,"annotations":{"a":"${'x'.repeat(100 << 20)}"}}` }), 'refused'),
  pull('config diff_ids do not match the layer', () => ({}), 'refused', {
    payload: { kind: 'pull', repo: async () => stubImage({ layers: [await layer()], diffIds: [`sha256:${'1'.repeat(64)}`] }) },
  }),
  pull('config diff_ids fewer than the layers', () => ({}), 'refused', {
    payload: { kind: 'pull', repo: async () => stubImage({ layers: [await layer(), await layer()], diffIds: [] }) },
  }),
  pull('config is not JSON', () => ({}), 'refused', {
    payload: { kind: 'pull', repo: async () => {
      const r = stubImage({ layers: [await layer()] });
      const bad = Buffer.from('{not json');
      const m = JSON.parse(r.manifests.latest.body.toString());
      m.config.digest = digestOf(bad);
      m.config.size = bad.length;
      return stubImage({ layers: [await layer()] }, { raw: JSON.stringify(m), blobOverride: { [digestOf(bad)]: bad } });
    } },
  }),
  pullRepo('an index 1000 levels deep', async () => indexChain(1000, stubImage({ layers: [await layer()] })), 'refused'),
  pullRepo('an index with no linux/amd64 entry', async () => {
    const leaf = stubImage({ layers: [await layer()] });
    const body = leaf.manifests.latest.body;
    const list = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: DOCKER_LIST, manifests: [{ mediaType: leaf.manifests.latest.type, digest: digestOf(body), size: body.length, platform: { architecture: 's390x', os: 'plan9' } }] }));
    return { manifests: { latest: { body: list, type: DOCKER_LIST }, [digestOf(body)]: leaf.manifests.latest }, blobs: leaf.blobs };
  }, 'refused', { message: /no matching manifest/ }),
  pullRepo('an index whose child is the index itself (served for the child digest)', async () => {
    const child = `sha256:${'c'.repeat(64)}`;
    const list = { body: Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: DOCKER_LIST, manifests: [{ mediaType: DOCKER_LIST, digest: child, size: 300, platform: { architecture: 'amd64', os: 'linux' } }] })), type: DOCKER_LIST };
    return { manifests: { latest: list, [child]: list }, blobs: {} };
  }),
  pullRepo('an index with 100000 entries', async () => {
    const manifests = Array.from({ length: 100000 }, (_, i) => ({ mediaType: 'application/vnd.docker.distribution.manifest.v2+json', digest: `sha256:${crypto.createHash('sha256').update(String(i)).digest('hex')}`, size: 100, platform: { architecture: 'arm', os: 'linux' } }));
    return { manifests: { latest: { body: Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: DOCKER_LIST, manifests })), type: DOCKER_LIST } }, blobs: {} };
  }, 'refused'),
  pullRepo('the tag does not exist', async () => ({ manifests: {}, blobs: {} }), 'refused', { status: 404 }),
];

const reg = (name: string, method: string, path: string, expect: HostileInput['expect'], extra: { status?: number; body?: string | Buffer; headers?: Record<string, string>} = {}): HostileInput => ({
  name: `registry-server: ${name}`,
  expect,
  status: extra.status,
  payload: { kind: 'registry', method, path, body: extra.body, headers: extra.headers },
});

const registryInputs: HostileInput[] = [
  reg('repository name with ../', 'GET', '/v2/../../canary/manifests/latest', 'refused'),
  reg('repository name with encoded ../', 'GET', '/v2/%2e%2e/%2e%2e/canary/manifests/latest', 'refused'),
  reg('repository name with an encoded slash and dots', 'PUT', '/v2/a%2f..%2f..%2fcanary/manifests/latest', 'refused', { body: '{}', headers: { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' } }),
  reg('repository name with a NUL', 'GET', '/v2/a%00b/tags/list', 'refused'),
  reg('repository name of 300 characters', 'GET', `/v2/${'a'.repeat(300)}/tags/list`, 'refused'),
  reg('repository name in upper case', 'GET', '/v2/UPPER/tags/list', 'refused'),
  reg('bad percent-encoding in the name', 'GET', '/v2/a%E0%A4%A/tags/list', 'refused'),
  reg('tag with ../', 'PUT', '/v2/hostile/manifests/..%2f..%2fcanary', 'refused', { body: '{}', headers: { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' } }),
  reg('blob digest that is a path', 'GET', '/v2/hostile/blobs/sha256:..%2f..%2f..%2fcanary%2fsecret', 'refused'),
  reg('blob digest with an unknown algorithm', 'GET', '/v2/hostile/blobs/md5:d41d8cd98f00b204e9800998ecf8427e', 'refused'),
  reg('upload id that is a path', 'PATCH', '/v2/hostile/blobs/uploads/..%2f..%2f..%2fcanary%2fpwned', 'refused', { body: 'x' }),
  reg('upload id unknown', 'GET', '/v2/hostile/blobs/uploads/0f4b5c2e-0000-4000-8000-000000000000', 'refused', { status: 404 }),
  reg('monolithic upload with a wrong digest', 'POST', `/v2/hostile/blobs/uploads/?digest=sha256:${'0'.repeat(64)}`, 'refused', { body: 'hello', headers: { 'Content-Type': 'application/octet-stream' } }),
  reg('monolithic upload with a digest that is a path', 'POST', '/v2/hostile/blobs/uploads/?digest=sha256:../../canary/pwned', 'refused', { body: 'hello' }),
  reg('cross-repository mount from ../', 'POST', `/v2/hostile/blobs/uploads/?mount=sha256:${'0'.repeat(64)}&from=../../canary`, 'refused'),
  reg('manifest that is not JSON', 'PUT', '/v2/hostile/manifests/latest', 'refused', { body: '{', headers: { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' } }),
  reg('manifest naming blobs that do not exist', 'PUT', '/v2/hostile/manifests/latest', 'refused', {
    body: JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: `sha256:${'1'.repeat(64)}`, size: 2 }, layers: [] }),
    headers: { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' },
  }),
  reg('manifest with a descriptor digest that is a path', 'PUT', '/v2/hostile/manifests/latest', 'refused', {
    body: JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: 'sha256:../../../canary/secret', size: 2 }, layers: [] }),
    headers: { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' },
  }),
  reg('manifest PUT by a digest that does not match the body', 'PUT', `/v2/hostile/manifests/sha256:${'2'.repeat(64)}`, 'refused', { body: '{"schemaVersion":2}', headers: { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' } }),
  reg('manifest of 100 MB', 'PUT', '/v2/hostile/manifests/big', 'refused', { body: Buffer.alloc(100 << 20, 0x20), headers: { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' } }),
  reg('blob GET with an unsatisfiable range', 'GET', `/v2/hostile/blobs/sha256:${'3'.repeat(64)}`, 'refused', { headers: { Range: 'bytes=999-1' } }),
  reg('catalog with n=-1', 'GET', '/v2/_catalog?n=-1', 'refused', { status: 400 }),
  reg('catalog with n=abc', 'GET', '/v2/_catalog?n=abc', 'refused', { status: 400 }),
  reg('tags list with n=1e30', 'GET', '/v2/hostile/tags/list?n=1000000000000000000000000000000', 'safe'),
  reg('referrers with a digest that is a path', 'GET', '/v2/hostile/referrers/sha256:..%2f..%2fcanary', 'refused'),
];

/** `{upload}` is a fresh upload session's path (the runner opens one). */
const ranges: [string, string, number?][] = [
  ['a range that ends before it starts', '5-2', 416],
  ['a garbage range', 'abc', 416],
  ['a range that skips ahead', '100-103', 416],
  ['a range of 10^20', '0-100000000000000000000'],
  ['a negative range', '-5-3'],
  ['a range larger than its body', '0-99'],
];
const rangeInputs = ranges.map(([name, range, status]) => reg(`upload PATCH with ${name}`, 'PATCH', '{upload}', 'refused', { status, body: 'abcd', headers: { 'Content-Range': range } }));

export const registryCorpus: HostileInput[] = [...pullInputs, ...registryInputs, ...rangeInputs];
