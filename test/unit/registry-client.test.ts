/** Registry client: pure parts (auth header, challenge, platforms, hosts, progress, manifests, gzip) and the HTTP side
 * against in-process servers on loopback (bearer token flow, chunked upload into Berth's registry server). */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import * as zlib from 'node:zlib';
import { decodeAuthHeader, encodeAuthHeader, parseChallenge, tokenUrl } from '../../src/registry/client/auth';
import { gzipLayer, levelFor } from '../../src/registry/client/compress';
import { DockerConfig, INDEX_SERVER, serverKey } from '../../src/registry/client/dockerconfig';
import { isInsecure, isLoopback, RegistryHosts, validateMirror } from '../../src/registry/client/hosts';
import { parsePlatform, selectManifest } from '../../src/image/platform';
import { progressBar, ProgressStream } from '../../src/registry/client/progress';
import { parseImageManifest, runLimited, tee } from '../../src/registry/client/pull';
import { pushManifest } from '../../src/registry/client/push';
import { manifestMediaType, RemoteRepository } from '../../src/registry/client/repository';
import { describePullError, pullReference } from '../../src/registry/client/service';
import { RegistryHttpError, RegistrySession } from '../../src/registry/client/session';
import { startRegistry } from '../../src/registry/server';
import { MediaType } from '../../src/image/types';

const sha = (b: Buffer | string): string => `sha256:${crypto.createHash('sha256').update(b).digest('hex')}`;

async function collect(s: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of s) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

describe('registry client: auth', () => {
  it('decodes X-Registry-Auth (base64url JSON; e30= is anonymous) and config.json auth', () => {
    assert.deepEqual(decodeAuthHeader('e30='), {});
    assert.deepEqual(decodeAuthHeader(undefined), {});
    const h = encodeAuthHeader({ username: 'tester', password: 'pä?>ss', serveraddress: '127.0.0.1:5000' });
    assert.ok(!/[+/=]/.test(h));
    assert.deepEqual(decodeAuthHeader(h), { username: 'tester', password: 'pä?>ss', serveraddress: '127.0.0.1:5000' });
    assert.deepEqual(decodeAuthHeader(Buffer.from(JSON.stringify({ auth: Buffer.from('u:p:x').toString('base64') })).toString('base64')), { auth: 'dTpwOng=', username: 'u', password: 'p:x' });
    assert.throws(() => decodeAuthHeader('!!!'), /X-Registry-Auth/);
  });

  it('parses challenges and builds token URLs with every scope', () => {
    const ch = parseChallenge('Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull"');
    assert.deepEqual(ch, { scheme: 'bearer', params: { realm: 'https://auth.example/token', service: 'registry.example', scope: 'repository:a/b:pull' } });
    assert.deepEqual(parseChallenge('Basic realm="basic-realm"'), { scheme: 'basic', params: { realm: 'basic-realm' } });
    assert.equal(parseChallenge('Negotiate abc'), undefined);
    const u = tokenUrl(ch!, 'repository:x:pull,push repository:y:pull');
    assert.equal(u.searchParams.get('service'), 'registry.example');
    assert.deepEqual(u.searchParams.getAll('scope'), ['repository:x:pull,push', 'repository:y:pull']);
  });
});

describe('registry client: references, platforms, hosts', () => {
  it('reads fromImage + tag as docker does', () => {
    assert.deepEqual(pullReference('busybox', 'latest'), { domain: 'docker.io', path: 'library/busybox', tag: 'latest' });
    assert.deepEqual(pullReference('127.0.0.1:5000/a/b'), { domain: '127.0.0.1:5000', path: 'a/b' });
    const d = `sha256:${'a'.repeat(64)}`;
    assert.deepEqual(pullReference('h:1/x', d), { domain: 'h:1', path: 'x', digest: d });
    assert.throws(() => pullReference('busybox', 'bad tag'), /invalid tag format/);
  });

  it('maps registry errors to docker wording', () => {
    const ref = { domain: '127.0.0.1:5000', path: 'app', tag: 'v9' };
    assert.equal(describePullError(new RegistryHttpError(404, 'MANIFEST_UNKNOWN', 'manifest unknown: manifest unknown'), ref).message, 'manifest for 127.0.0.1:5000/app:v9 not found: manifest unknown: manifest unknown');
    assert.match(describePullError(new RegistryHttpError(401, 'UNAUTHORIZED', 'unauthorized: authentication required'), ref).message, /^pull access denied for 127\.0\.0\.1:5000\/app, repository does not exist or may require 'docker login'/);
  });

  it('parses and selects platforms', () => {
    assert.deepEqual(parsePlatform('linux/amd64'), { os: 'linux', architecture: 'amd64' });
    assert.deepEqual(parsePlatform('linux/aarch64/v8'), { os: 'linux', architecture: 'arm64' });
    assert.deepEqual(parsePlatform('linux/arm/v7'), { os: 'linux', architecture: 'arm', variant: 'v7' });
    assert.throws(() => parsePlatform('windows/amd64'), /only linux/);
    assert.throws(() => parsePlatform('a/b/c/d'), /invalid platform/);
    const m = (architecture: string, variant?: string) => ({ mediaType: MediaType.ociManifest, digest: `${architecture}${variant ?? ''}`, size: 1, platform: { os: 'linux', architecture, ...(variant ? { variant } : {}) } });
    const list = [m('arm', 'v6'), m('arm', 'v7'), m('arm64', 'v8'), m('amd64')];
    assert.equal(selectManifest(list, { os: 'linux', architecture: 'amd64' })?.digest, 'amd64');
    assert.equal(selectManifest(list, { os: 'linux', architecture: 'arm', variant: 'v7' })?.digest, 'armv7');
    assert.equal(selectManifest(list, { os: 'linux', architecture: 'arm64' })?.digest, 'arm64v8');
    assert.equal(selectManifest(list, { os: 'linux', architecture: 's390x' }), undefined);
  });

  it('knows loopback and insecure registries, mirrors first for docker.io pulls only, CAs from certs.d', () => {
    assert.ok(isLoopback('127.0.0.1:5000') && isLoopback('localhost') && isLoopback('[::1]:5000'));
    assert.ok(!isLoopback('10.0.0.1:5000'));
    assert.ok(isInsecure('10.1.2.3:5000', ['10.0.0.0/8']));
    assert.ok(isInsecure('reg.lan:5000', ['reg.lan:5000']) && !isInsecure('reg.lan:5001', ['reg.lan:5000']));
    const certs = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-certs-'));
    try {
      fs.mkdirSync(path.join(certs, '127.0.0.1:5443'));
      fs.writeFileSync(path.join(certs, '127.0.0.1:5443', 'ca.crt'), 'CA');
      const hosts = new RegistryHosts({ insecure: [], mirrors: ['http://127.0.0.1:5001'], certsDirs: [certs] });
      assert.deepEqual(hosts.endpoints('docker.io').map((e) => [e.url, e.mirror]), [['http://127.0.0.1:5001', true], ['https://registry-1.docker.io', false]]);
      assert.deepEqual(hosts.endpoints('docker.io', true).map((e) => e.url), ['https://registry-1.docker.io']);
      const [plain] = hosts.endpoints('127.0.0.1:5000');
      assert.ok(plain.httpFallback && plain.insecureTls);
      const [withCa] = hosts.endpoints('127.0.0.1:5443');
      assert.ok(!withCa.httpFallback && !withCa.insecureTls);
      assert.equal(withCa.tls.ca?.[0].toString(), 'CA');
      const [remote] = hosts.endpoints('reg.example.com');
      assert.ok(!remote.httpFallback && !remote.insecureTls);
    } finally {
      fs.rmSync(certs, { recursive: true, force: true });
    }
    assert.throws(() => validateMirror('ftp://x'), /scheme/);
    assert.throws(() => validateMirror('https://m.example/v2'), /no path/);
  });
});

describe('registry client: progress, manifests, compression', () => {
  it('renders docker progress bars and NDJSON lines', () => {
    assert.equal(progressBar(0, 100), `[>${' '.repeat(50)}]       0B/100B`);
    assert.equal(progressBar(512, 1024), `[${'='.repeat(25)}>${' '.repeat(25)}]     512B/1.024kB`);
    assert.equal(progressBar(2048), ' 2.048kB');
    const lines: string[] = [];
    const p = new ProgressStream((l) => lines.push(l));
    p.message('Pulling from app', 'v1');
    p.layer('abc', 'Pull complete');
    p.bytes('abc', 'Downloading', 1, 10, true);
    p.bytes('abc', 'Downloading', 2, 10); // throttled
    p.error('boom');
    assert.deepEqual(lines.map((l) => JSON.parse(l)), [
      { status: 'Pulling from app', id: 'v1' },
      { status: 'Pull complete', progressDetail: {}, id: 'abc' },
      { status: 'Downloading', progressDetail: { current: 1, total: 10 }, progress: progressBar(1, 10), id: 'abc' },
      { errorDetail: { message: 'boom' }, error: 'boom' },
    ]);
  });

  it('detects manifest media types and refuses schema 1 and unknown layers', () => {
    const oci = Buffer.from(JSON.stringify({ schemaVersion: 2, config: { digest: 'sha256:x' }, layers: [] }));
    assert.equal(manifestMediaType(oci, 'application/json'), MediaType.ociManifest);
    assert.equal(manifestMediaType(Buffer.from('{"schemaVersion":1,"fsLayers":[]}'), undefined), 'application/vnd.docker.distribution.manifest.v1+prettyjws');
    assert.throws(() => parseImageManifest({ bytes: Buffer.from('{"schemaVersion":1}'), mediaType: 'application/vnd.docker.distribution.manifest.v1+prettyjws', digest: '' }), /schema 1/);
    const bad = Buffer.from(JSON.stringify({ schemaVersion: 2, config: { digest: 'sha256:x' }, layers: [{ mediaType: 'text/plain', digest: 'sha256:y', size: 1 }] }));
    assert.throws(() => parseImageManifest({ bytes: bad, mediaType: MediaType.ociManifest, digest: '' }), /unsupported layer media type text\/plain/);
  });

  it('pushes the stored manifest when layers go as stored, else a schema2 manifest with gzip layers', () => {
    const stored = { schemaVersion: 2 as const, mediaType: MediaType.ociManifest, config: { mediaType: MediaType.ociConfig, digest: 'sha256:c', size: 3 }, layers: [{ mediaType: MediaType.ociLayer, digest: 'sha256:plain', size: 10 }] };
    const bytes = Buffer.from(JSON.stringify(stored));
    assert.equal(pushManifest(bytes, stored, { digest: 'sha256:c', size: 3 }, stored.layers).bytes, bytes);
    const out = pushManifest(bytes, stored, { digest: 'sha256:c', size: 3 }, [{ mediaType: MediaType.dockerLayerGzip, digest: 'sha256:gz', size: 5 }]);
    assert.equal(out.mediaType, MediaType.dockerManifest);
    const m = JSON.parse(out.bytes.toString());
    assert.equal(m.config.mediaType, MediaType.dockerConfig);
    assert.deepEqual(m.layers, [{ mediaType: MediaType.dockerLayerGzip, size: 5, digest: 'sha256:gz' }]);
  });

  it('gzips layers deterministically, storing incompressible blocks', async () => {
    const text = Buffer.from('hello layer\n'.repeat(300_000));
    const noise = crypto.randomBytes(3 << 20);
    assert.equal(levelFor(text), 1);
    assert.equal(levelFor(noise), 0);
    const input = Buffer.concat([text, noise, text]);
    const a = await collect(gzipLayer(Readable.from([input])));
    const b = await collect(gzipLayer(Readable.from([input.subarray(0, 12345), input.subarray(12345)])));
    assert.equal(sha(a), sha(b));
    assert.ok(zlib.gunzipSync(a).equals(input));
    assert.ok(a.length < input.length - text.length);
  });

  it('tee gives both readers every byte; runLimited bounds concurrency and reports the first failure', async () => {
    const data = crypto.randomBytes(5 << 20);
    const [x, y] = tee(Readable.from([data.subarray(0, 1 << 20), data.subarray(1 << 20)]));
    const [bx, by] = await Promise.all([collect(x), collect(y)]);
    assert.ok(bx.equals(data) && by.equals(data));
    let running = 0;
    let peak = 0;
    const seen: number[] = [];
    await runLimited([1, 2, 3, 4, 5, 6], 2, async (n) => {
      running++;
      peak = Math.max(peak, running);
      await new Promise((r) => setTimeout(r, 5));
      seen.push(n);
      running--;
    }, () => undefined);
    assert.equal(peak, 2);
    assert.equal(seen.length, 6);
    let cancelled = 0;
    await assert.rejects(runLimited([1, 2, 3, 4], 2, async (n) => {
      if (n === 2) throw new Error('layer 2 failed');
    }, () => cancelled++), /layer 2 failed/);
    assert.equal(cancelled, 1);
  });
});

describe('registry client: docker config file', () => {
  let dir: string;
  before(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-dockercfg-'))));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('writes auths as docker does, keeps other keys, erases', () => {
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ psFormat: 'table {{.ID}}' }));
    const cfg = new DockerConfig(dir);
    cfg.store('127.0.0.1:5000', { username: 'tester', password: 'secretpw' });
    const file = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
    assert.deepEqual(file, { psFormat: 'table {{.ID}}', auths: { '127.0.0.1:5000': { auth: 'dGVzdGVyOnNlY3JldHB3' } } });
    assert.equal(fs.statSync(path.join(dir, 'config.json')).mode & 0o777, 0o600);
    assert.deepEqual(cfg.get('http://127.0.0.1:5000/v2/'), { username: 'tester', password: 'secretpw', serveraddress: '127.0.0.1:5000' });
    assert.equal(serverKey('docker.io'), INDEX_SERVER);
    assert.ok(cfg.erase('127.0.0.1:5000'));
    assert.ok(!cfg.erase('127.0.0.1:5000'));
    assert.deepEqual(cfg.get('127.0.0.1:5000'), { serveraddress: '127.0.0.1:5000' });
  });

  it('uses docker-credential-<credsStore> helpers', () => {
    const bin = path.join(dir, 'bin');
    const store = path.join(dir, 'helper-store.json');
    fs.mkdirSync(bin);
    // a tiny helper speaking the docker-credential protocol, keeping secrets in a JSON file
    fs.writeFileSync(path.join(bin, 'docker-credential-berthtest'), `#!${process.execPath}
const fs = require('fs'); const f = ${JSON.stringify(store)};
const db = fs.existsSync(f) ? JSON.parse(fs.readFileSync(f, 'utf8')) : {};
const input = fs.readFileSync(0, 'utf8').trim(); const action = process.argv[2];
if (action === 'store') { const c = JSON.parse(input); db[c.ServerURL] = c; fs.writeFileSync(f, JSON.stringify(db)); }
else if (action === 'get') { if (!db[input]) { process.stdout.write('credentials not found in native keychain'); process.exit(1); } process.stdout.write(JSON.stringify(db[input])); }
else if (action === 'erase') { if (!db[input]) { process.stdout.write('credentials not found in native keychain'); process.exit(1); } delete db[input]; fs.writeFileSync(f, JSON.stringify(db)); }
`, { mode: 0o755 });
    const cfgDir = path.join(dir, 'helper');
    fs.mkdirSync(cfgDir);
    fs.writeFileSync(path.join(cfgDir, 'config.json'), JSON.stringify({ credsStore: 'berthtest' }));
    const oldPath = process.env.PATH;
    process.env.PATH = `${bin}:${oldPath}`;
    try {
      const cfg = new DockerConfig(cfgDir);
      assert.deepEqual(cfg.store('reg.example:5000', { username: 'u', password: 'p' }), { helper: 'berthtest' });
      assert.deepEqual(JSON.parse(fs.readFileSync(store, 'utf8'))['reg.example:5000'], { ServerURL: 'reg.example:5000', Username: 'u', Secret: 'p' });
      assert.deepEqual(cfg.get('reg.example:5000'), { username: 'u', password: 'p', serveraddress: 'reg.example:5000' });
      assert.ok(!JSON.parse(fs.readFileSync(path.join(cfgDir, 'config.json'), 'utf8')).auths);
      assert.ok(cfg.erase('reg.example:5000'));
      assert.deepEqual(cfg.get('reg.example:5000'), { serveraddress: 'reg.example:5000' });
    } finally {
      process.env.PATH = oldPath;
    }
  });
});

describe('registry client: HTTP', () => {
  it('gets a bearer token for the repository scope from the challenge realm, then retries', async () => {
    const seen: string[] = [];
    const server = http.createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      seen.push(`${req.method} ${url.pathname}${url.search} ${req.headers.authorization ?? '-'}`);
      const port = (server.address() as AddressInfo).port;
      if (url.pathname === '/token') {
        const ok = req.headers.authorization === `Basic ${Buffer.from('tester:secretpw').toString('base64')}`;
        res.writeHead(ok ? 200 : 401, { 'Content-Type': 'application/json' });
        return res.end(ok ? JSON.stringify({ token: `tok-${url.searchParams.get('scope')}` }) : '{}');
      }
      if (req.headers.authorization !== 'Bearer tok-repository:team/app:pull') {
        res.writeHead(401, { 'WWW-Authenticate': `Bearer realm="http://127.0.0.1:${port}/token",service="test-registry"`, 'Content-Type': 'application/json' });
        return res.end('{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}');
      }
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(url.pathname === '/v2/' ? '{}' : JSON.stringify({ name: 'team/app', tags: ['v1', 'v2'] }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    const endpoint = { url: `http://127.0.0.1:${port}`, mirror: false, insecureTls: false, httpFallback: false, tls: {} };
    try {
      const good = new RegistrySession(endpoint, { username: 'tester', password: 'secretpw' });
      assert.deepEqual(await new RemoteRepository(good, 'team/app').tags(), ['v1', 'v2']);
      good.close();
      assert.ok(seen.some((s) => s.startsWith('GET /token?service=test-registry&scope=repository%3Ateam%2Fapp%3Apull&account=tester Basic')), seen.join('\n'));
      const bad = new RegistrySession(endpoint, { username: 'tester', password: 'nope' });
      await assert.rejects(new RemoteRepository(bad, 'team/app').tags(), /127\.0\.0\.1:\d+: unauthorized: incorrect username or password/);
      bad.close();
    } finally {
      server.close();
    }
  });

  it('uploads in chunks (Content-Range) and monolithically into Berth\'s registry, then reads back', async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-chunks-'));
    const reg = await startRegistry({ root, port: 0 });
    const endpoint = { url: reg.url, mirror: false, insecureTls: false, httpFallback: false, tls: {} };
    const session = new RegistrySession(endpoint, {});
    try {
      const repo = new RemoteRepository(session, 'chunks/test', true);
      const data = crypto.randomBytes((1 << 20) * 2 + 777);
      let reported = 0;
      const up = await repo.upload(Readable.from([data]), { chunkSize: 1 << 20, onBytes: (n) => (reported = n) });
      assert.deepEqual(up, { digest: sha(data), size: data.length });
      assert.equal(reported, data.length);
      assert.ok(await repo.hasBlob(up.digest));
      assert.ok((await collect(await repo.blob(up.digest))).equals(data));
      const small = await repo.upload(Buffer.from('{"a":1}'));
      assert.equal(small.digest, sha('{"a":1}'));
      assert.ok((await repo.smallBlob(small.digest)).equals(Buffer.from('{"a":1}')));
      assert.ok(!(await repo.hasBlob(sha('missing'))));
      const other = new RemoteRepository(session, 'chunks/other', true);
      assert.ok(await other.mount(up.digest, 'chunks/test'));
      assert.ok(!(await other.mount(sha('missing'), 'chunks/test')));
    } finally {
      session.close();
      await reg.close();
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('registry client: limits on what a registry sends', () => {
  /** A registry stub on loopback: `routes` maps a path to a reply. */
  async function stub(routes: Record<string, (res: http.ServerResponse) => void>): Promise<{ endpoint: { url: string; mirror: boolean; insecureTls: boolean; httpFallback: boolean; tls: object }; close: () => void }> {
    const server = http.createServer((req, res) => {
      const r = routes[new URL(req.url ?? '/', 'http://x').pathname];
      if (r) return r(res);
      res.writeHead(req.url === '/v2/' ? 200 : 404, { 'Content-Type': 'application/json' });
      res.end('{}');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return { endpoint: { url, mirror: false, insecureTls: false, httpFallback: false, tls: {} }, close: () => {
      server.closeAllConnections();
      server.close();
    } };
  }

  it('stops reading a manifest at 4 MiB whatever Content-Length says (none here: chunked)', async () => {
    const big = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.ociManifest, pad: 'x'.repeat(5 << 20) }));
    let sent = 0;
    const s = await stub({
      '/v2/app/manifests/v1': (res) => {
        res.writeHead(200, { 'Content-Type': MediaType.ociManifest });
        const step = (): void => {
          while (sent < big.length) {
            const part = big.subarray(sent, sent + 65536);
            sent += part.length;
            if (!res.write(part)) return void res.once('drain', step);
          }
          res.end();
        };
        res.on('error', () => undefined);
        step();
      },
    });
    const session = new RegistrySession(s.endpoint as never, {});
    try {
      await assert.rejects(new RemoteRepository(session, 'app').manifest('v1'), /manifest is larger than the 4194304 bytes allowed/);
    } finally {
      session.close();
      s.close();
    }
  });

  it('verifies manifests fetched by sha512 digest and checks descriptor sizes', async () => {
    const body = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.ociManifest, config: {}, layers: [] }));
    const good = `sha512:${crypto.createHash('sha512').update(body).digest('hex')}`;
    const bad = `sha512:${crypto.createHash('sha512').update('other').digest('hex')}`;
    const reply = (res: http.ServerResponse): void => {
      res.writeHead(200, { 'Content-Type': MediaType.ociManifest });
      res.end(body);
    };
    const s = await stub({ [`/v2/app/manifests/${good}`]: reply, [`/v2/app/manifests/${bad}`]: reply });
    const session = new RegistrySession(s.endpoint as never, {});
    const repo = new RemoteRepository(session, 'app');
    try {
      assert.equal((await repo.manifest(good)).digest, good);
      await assert.rejects(repo.manifest(bad), /manifest verification failed for digest sha512:/);
      await assert.rejects(repo.manifest(good, body.length + 1), /is \d+ bytes, but its descriptor says \d+/);
      await assert.rejects(repo.manifest('md5:0123456789abcdef0123456789abcdef'), /unsupported digest algorithm/);
    } finally {
      session.close();
      s.close();
    }
    const manifest = (config: object): Buffer => Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.ociManifest, config: { mediaType: MediaType.ociConfig, ...config }, layers: [] }));
    const asFetched = (bytes: Buffer) => ({ bytes, digest: sha(bytes), mediaType: MediaType.ociManifest });
    assert.throws(() => parseImageManifest(asFetched(manifest({ digest: `sha512:${'a'.repeat(128)}`, size: 2 }))), /config digest sha512:a+: Berth stores blobs by sha256 only/);
    assert.throws(() => parseImageManifest(asFetched(manifest({ digest: sha('{}'), size: -1 }))), /config sha256:[a-f0-9]+ has an invalid size -1/);
  });

  it('never sends a password to a token realm over plain HTTP that is not on loopback', async () => {
    const seen: string[] = [];
    // ::ffff:127.0.0.1 is loopback underneath but not by name: it stands in for a plain-HTTP realm elsewhere
    const realm = http.createServer((req, res) => {
      seen.push(req.headers.authorization ?? '-');
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end('{"token":"t"}');
    });
    await new Promise<void>((r) => realm.listen(0, '::ffff:127.0.0.1', r));
    const realmUrl = `http://[::ffff:127.0.0.1]:${(realm.address() as AddressInfo).port}/token`;
    const s = await stub({
      '/v2/': (res) => {
        res.writeHead(401, { 'WWW-Authenticate': `Bearer realm="${realmUrl}",service="reg"` });
        res.end();
      },
    });
    const session = new RegistrySession(s.endpoint as never, { username: 'tester', password: 'secretpw' });
    try {
      await assert.rejects(new RemoteRepository(session, 'app').tags(), /refusing to send credentials to the token server http:\/\/\[::ffff:7f00:1\]:\d+ over plain HTTP/);
      assert.deepEqual(seen, []);
    } finally {
      session.close();
      s.close();
      realm.close();
    }
  });
});
