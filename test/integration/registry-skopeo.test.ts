/** Berth's registry server against a real client: skopeo pushes and pulls a tiny busybox OCI image (loopback only). */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as bcrypt from 'bcryptjs';
import { startRegistry, type RegistryOptions, type RunningRegistry } from '../../src/registry/server';
import { makeTar } from '../helpers/tarfixture';

const probe = spawnSync('skopeo', ['--version'], { encoding: 'utf8' });
const skip = probe.status === 0 ? false : 'skopeo is not installed (apt-get install -y skopeo)';

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';

let work: string;

const sha = (b: Buffer | string): string => crypto.createHash('sha256').update(b).digest('hex');

function writeBlob(dir: string, data: Buffer | string): { digest: string; size: number } {
  const hex = sha(data);
  fs.writeFileSync(path.join(dir, 'blobs', 'sha256', hex), data);
  return { digest: `sha256:${hex}`, size: Buffer.byteLength(data) };
}

/** An OCI layout holding busybox (one gzip layer with /bin/busybox) under `tag`, and also an index of it under `tag-index`. */
async function makeLayout(dir: string, tag: string): Promise<{ manifest: string; index: string }> {
  fs.mkdirSync(path.join(dir, 'blobs', 'sha256'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  const tar = await makeTar([{ name: 'bin/', type: 'directory' }, { name: 'bin/busybox', data: fs.readFileSync('/bin/busybox'), mode: 0o755 }], false);
  const layer = writeBlob(dir, (await makeTar([{ name: 'bin/', type: 'directory' }, { name: 'bin/busybox', data: fs.readFileSync('/bin/busybox'), mode: 0o755 }], true)));
  const config = writeBlob(
    dir,
    JSON.stringify({ architecture: 'amd64', os: 'linux', config: { Cmd: ['/bin/busybox', 'sh'] }, rootfs: { type: 'layers', diff_ids: [`sha256:${sha(tar)}`] } }),
  );
  const manifest = writeBlob(
    dir,
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...layer }],
    }),
  );
  const child = { mediaType: OCI_MANIFEST, ...manifest, platform: { architecture: 'amd64', os: 'linux' } };
  const index = writeBlob(dir, JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [child] }));
  const ref = (name: string) => ({ 'org.opencontainers.image.ref.name': name });
  fs.writeFileSync(
    path.join(dir, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_INDEX,
      manifests: [
        { mediaType: OCI_MANIFEST, ...manifest, annotations: ref(tag) },
        { mediaType: OCI_INDEX, ...index, annotations: ref(`${tag}-index`) },
      ],
    }),
  );
  return { manifest: manifest.digest, index: index.digest };
}

/** The digest index.json of an OCI layout gives for `tag`. */
function layoutDigest(dir: string, tag: string): string {
  const idx = JSON.parse(fs.readFileSync(path.join(dir, 'index.json'), 'utf8')) as { manifests: { digest: string; annotations?: Record<string, string> }[] };
  const m = idx.manifests.find((d) => d.annotations?.['org.opencontainers.image.ref.name'] === tag);
  assert.ok(m, `tag ${tag} in ${dir}`);
  return m.digest;
}

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Run skopeo without blocking the event loop (the registry under test lives in this process). */
function skopeo(args: string[]): Promise<Run> {
  // HOME and REGISTRY_AUTH_FILE in the work dir keep skopeo's auth lookups away from the user's files.
  const child = spawn('skopeo', ['--insecure-policy', ...args], { env: { ...process.env, HOME: work, REGISTRY_AUTH_FILE: path.join(work, 'auth.json') }, timeout: 120_000 });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

function ok(r: Run): void {
  assert.equal(r.status, 0, r.stderr);
}

async function serve(opts: Partial<RegistryOptions> = {}): Promise<{ reg: RunningRegistry; host: string; root: string }> {
  const root = fs.mkdtempSync(path.join(work, 'root-'));
  const reg = await startRegistry({ root, host: '127.0.0.1', port: 0, ...opts });
  return { reg, host: new URL(reg.url).host, root };
}

describe('registry server with skopeo', { skip }, () => {
  let src: string;
  let digests: { manifest: string; index: string };

  before(async () => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-skopeo-'));
    src = path.join(work, 'src');
    digests = await makeLayout(src, 'v1');
  });
  after(() => fs.rmSync(work, { recursive: true, force: true }));

  it('pushes an OCI image and pulls it back with identical digests', async () => {
    const { reg, host } = await serve();
    try {
      ok(await skopeo(['copy', '--preserve-digests', '--dest-tls-verify=false', `oci:${src}:v1`, `docker://${host}/lib/busybox:v1`]));
      const raw = await skopeo(['inspect', '--raw', '--tls-verify=false', `docker://${host}/lib/busybox:v1`]);
      ok(raw);
      assert.equal(`sha256:${sha(raw.stdout)}`, digests.manifest);
      const back = path.join(work, 'back');
      ok(await skopeo(['copy', '--src-tls-verify=false', `docker://${host}/lib/busybox:v1`, `oci:${back}:v1`]));
      assert.equal(layoutDigest(back, 'v1'), digests.manifest);
      const manifest = JSON.parse(fs.readFileSync(path.join(back, 'blobs', 'sha256', digests.manifest.slice(7)), 'utf8'));
      for (const d of [manifest.config.digest, manifest.layers[0].digest]) {
        assert.equal(sha(fs.readFileSync(path.join(back, 'blobs', 'sha256', d.slice(7)))), d.slice(7));
      }
      // Registry to registry within the same server (skopeo may use a cross-repository mount).
      ok(await skopeo(['copy', '--preserve-digests', '--src-tls-verify=false', '--dest-tls-verify=false', `docker://${host}/lib/busybox:v1`, `docker://${host}/copy:v1`]));
      const tags = await skopeo(['list-tags', '--tls-verify=false', `docker://${host}/copy`]);
      ok(tags);
      assert.deepEqual(JSON.parse(tags.stdout).Tags, ['v1']);
    } finally {
      await reg.close();
    }
  });

  it('pushes and pulls an image index with --all', async () => {
    const { reg, host } = await serve();
    try {
      ok(await skopeo(['copy', '--all', '--preserve-digests', '--dest-tls-verify=false', `oci:${src}:v1-index`, `docker://${host}/multi:latest`]));
      const back = path.join(work, 'back-index');
      ok(await skopeo(['copy', '--all', '--src-tls-verify=false', `docker://${host}/multi:latest`, `oci:${back}:latest`]));
      assert.equal(layoutDigest(back, 'latest'), digests.index);
    } finally {
      await reg.close();
    }
  });

  it('requires basic auth when an htpasswd file is given', async () => {
    const htpasswd = path.join(work, 'htpasswd');
    fs.writeFileSync(htpasswd, `pusher:${bcrypt.hashSync('pa55word', 6)}\n`);
    const { reg, host } = await serve({ htpasswd });
    try {
      const anon = await skopeo(['copy', '--dest-tls-verify=false', `oci:${src}:v1`, `docker://${host}/private:v1`]);
      assert.notEqual(anon.status, 0);
      assert.match(anon.stderr, /unauthorized|authentication required/i);
      const wrong = await skopeo(['copy', '--dest-tls-verify=false', '--dest-creds', 'pusher:nope', `oci:${src}:v1`, `docker://${host}/private:v1`]);
      assert.notEqual(wrong.status, 0);
      ok(await skopeo(['copy', '--preserve-digests', '--dest-tls-verify=false', '--dest-creds', 'pusher:pa55word', `oci:${src}:v1`, `docker://${host}/private:v1`]));
      const back = path.join(work, 'back-auth');
      ok(await skopeo(['copy', '--src-tls-verify=false', '--src-creds', 'pusher:pa55word', `docker://${host}/private:v1`, `oci:${back}:v1`]));
      assert.equal(layoutDigest(back, 'v1'), digests.manifest);
    } finally {
      await reg.close();
    }
  });
});
