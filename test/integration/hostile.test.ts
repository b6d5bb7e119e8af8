/**
 * Untrusted input end to end: `berth load` / `docker load` / `berth import` of hostile archives and decompression
 * bombs through berthd (started with --max-layer-size 64m), `berth pull` from a hostile registry stub on loopback,
 * and curl against `berth registry serve` with its limits.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import * as bcrypt from 'bcryptjs';
import { BERTH, TestDaemon, type RunResult } from '../helpers/daemon';
import { makeTar, paxBody, rawEntry, rawTar } from '../helpers/tarfixture';
import { freePort } from '../helpers/ports';

const sha = (b: Buffer | string): string => `sha256:${crypto.createHash('sha256').update(b).digest('hex')}`;
const LIMIT = 64 << 20;
const BOMB_SIZE = 1 << 30;

/** A tar holding one file of BOMB_SIZE zeros, gzipped (level 9: ~1030:1) as it is made. */
async function gzipBomb(): Promise<Buffer> {
  const gz = zlib.createGzip({ level: 9 });
  const out: Buffer[] = [];
  gz.on('data', (c: Buffer) => out.push(c));
  const done = once(gz, 'end');
  const zeros = Buffer.alloc(1 << 20);
  gz.write(rawEntry({ typeflag: '0', name: 'zeros', size: BOMB_SIZE }).subarray(0, 512));
  for (let i = 0; i < BOMB_SIZE / zeros.length; i++) if (!gz.write(zeros)) await once(gz, 'drain');
  gz.end(Buffer.alloc(1024));
  await done;
  return Buffer.concat(out);
}

/** A docker-archive (docker save) of one image whose only layer is `layer`. */
async function dockerArchive(layer: Buffer, tag: string): Promise<Buffer> {
  const config = JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [sha(layer)] } });
  return makeTar([
    { name: 'config.json', data: config },
    { name: 'layer.tar', data: layer },
    { name: 'manifest.json', data: JSON.stringify([{ Config: 'config.json', RepoTags: [tag], Layers: ['layer.tar'] }]) },
  ]);
}

/** Run a command without blocking the loop (the registry stub answers from this process). */
function run(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<RunResult> {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('close', (code) => resolve({ status: code ?? -1, stdout, stderr }));
  });
}


/** Names of files under `dir` called `name` (find, without following symlinks). */
const findNamed = (dir: string, name: string): string => spawnSync('find', [dir, '-name', name]).stdout.toString();

describe('hostile archives, registries and clients', () => {
  const d = new TestDaemon('hostile', ['--max-layer-size', '64m']);
  let work: string;
  let bomb: Buffer;

  before(async () => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-hostile-'));
    bomb = await gzipBomb();
    await d.start();
  });

  after(async () => {
    await d.stop();
    fs.rmSync(work, { recursive: true, force: true });
  });

  const layersLeft = (): string[] => fs.readdirSync(path.join(d.dataRoot, 'image/layers'));
  const diskUsed = (): number => Number(spawnSync('du', ['-sb', d.dataRoot]).stdout.toString().split('\t')[0]);

  it('berth load and docker load refuse a layer with a pax global path header; nothing is written', async () => {
    const layer = rawTar(
      rawEntry({ typeflag: '5', name: 'etc/' }),
      rawEntry({ typeflag: 'g', name: 'pax_global_header' }, paxBody([['path', 'etc/evil']])),
      rawEntry({ typeflag: '0', name: 'ok' }, 'x'),
    );
    const archive = path.join(work, 'global.tar');
    fs.writeFileSync(archive, await dockerArchive(layer, 'hostile:global'));
    for (const cli of [BERTH, 'docker']) {
      const r = await run(cli, ['load', '-i', archive], d.env);
      assert.equal(r.status, 1, `${cli}: ${r.stdout}${r.stderr}`);
      assert.match(r.stderr, /pax global header sets "path": refused/, cli);
    }
    assert.equal(d.berth(['image', 'inspect', 'hostile:global']).status, 1);
    assert.equal(findNamed(d.dataRoot, 'evil'), '');
    assert.deepEqual(layersLeft(), []);
  });

  it('a gzip bomb stops at --max-layer-size in load and import; the disk is not filled', async () => {
    const before = diskUsed();
    const archive = path.join(work, 'bomb-archive.tar');
    fs.writeFileSync(archive, await makeTar([
      { name: 'config.json', data: JSON.stringify({ os: 'linux', rootfs: { type: 'layers', diff_ids: [sha('unknown')] } }) },
      { name: 'layer.tar.gz', data: bomb },
      { name: 'manifest.json', data: JSON.stringify([{ Config: 'config.json', RepoTags: ['hostile:bomb'], Layers: ['layer.tar.gz'] }]) },
    ]));
    const load = await run(BERTH, ['load', '-i', archive], d.env);
    assert.equal(load.status, 1, load.stdout + load.stderr);
    assert.match(load.stderr, /decompressed data exceeds the limit of 64MiB \(max-layer-size\) after \d+ compressed bytes/);
    const gz = path.join(work, 'bomb.tar.gz');
    fs.writeFileSync(gz, bomb);
    const imp = await run(BERTH, ['import', gz, 'hostile:imported'], d.env);
    assert.equal(imp.status, 1, imp.stdout + imp.stderr);
    assert.match(imp.stderr, /decompressed data exceeds the limit of 64MiB \(max-layer-size\)/);
    // a .tar.gz archive that is itself a bomb stops while it is spooled
    const outer = await run(BERTH, ['load', '-i', gz], d.env);
    assert.equal(outer.status, 1);
    assert.match(outer.stderr, /decompressed data exceeds the limit of 64MiB/);
    assert.deepEqual(layersLeft(), []);
    const grown = diskUsed() - before;
    process.stdout.write(`# bomb: ${bomb.length} compressed bytes for ${BOMB_SIZE}; stopped at ${LIMIT} decompressed (${load.stderr.trim()}); data root grew ${grown} bytes\n`);
    assert.ok(grown < 2 * bomb.length + (1 << 20), `the data root grew by ${grown} bytes (the blobs received are kept only while referenced)`);
  });

  it('berth pull refuses a 5 MiB manifest, a config of another size than its descriptor, and a gzip bomb layer', async () => {
    const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [sha('unknown')] } }));
    const blobs = new Map<string, Buffer>([[sha(config), config], [sha(bomb), bomb]]);
    const manifest = (configSize: number, layer: Buffer): string => JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(config), size: configSize },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha(layer), size: layer.length }],
    });
    const manifests: Record<string, string> = {
      '/v2/big/manifests/v1': JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', pad: 'x'.repeat(5 << 20) }),
      '/v2/size/manifests/v1': manifest(config.length - 1, bomb),
      '/v2/bomb/manifests/v1': manifest(config.length, bomb),
    };
    const server = http.createServer((req, res) => {
      const p = req.url ?? '/';
      const blob = /\/blobs\/(sha256:[0-9a-f]{64})$/.exec(p);
      if (p === '/v2/') return res.writeHead(200, { 'Content-Type': 'application/json' }).end('{}');
      if (manifests[p]) {
        // chunked, no Content-Length: the client must count
        res.writeHead(200, { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' });
        res.on('error', () => undefined);
        return res.end(manifests[p]);
      }
      if (blob && blobs.has(blob[1])) return res.writeHead(200, { 'Content-Length': (blobs.get(blob[1]) as Buffer).length }).end(blobs.get(blob[1]));
      res.writeHead(404, { 'Content-Type': 'application/json' }).end('{"errors":[{"code":"NOT_FOUND","message":"no"}]}');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const reg = `127.0.0.1:${(server.address() as net.AddressInfo).port}`;
    try {
      const big = await run(BERTH, ['pull', `${reg}/big:v1`], d.env);
      assert.equal(big.status, 1);
      assert.match(big.stderr, /manifest is larger than the 4194304 bytes allowed/);
      const size = await run(BERTH, ['pull', `${reg}/size:v1`], d.env);
      assert.equal(size.status, 1);
      assert.match(size.stderr, /config sha256:[0-9a-f]+ is \d+ bytes, but the manifest says \d+/);
      const b = await run(BERTH, ['pull', `${reg}/bomb:v1`], d.env);
      assert.equal(b.status, 1);
      assert.match(b.stderr + b.stdout, /decompressed data exceeds the limit of 64MiB \(max-layer-size\)/);
      assert.deepEqual(layersLeft(), []);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });

  it('berth registry serve: no htpasswd over plain HTTP off loopback, --max-blob-size, encoded names refused', async () => {
    const htpasswd = path.join(work, 'htpasswd');
    fs.writeFileSync(htpasswd, `u:${bcrypt.hashSync('pw', 4)}\n`);
    const refused = await run(BERTH, ['registry', 'serve', '--addr', '0.0.0.0:0', '--root', path.join(work, 'r0'), '--htpasswd', htpasswd], process.env);
    assert.equal(refused.status, 1);
    assert.match(refused.stderr, /htpasswd authentication over plain HTTP is only allowed on loopback/);

    const port = await freePort();
    const serve = spawn(BERTH, ['registry', 'serve', '--addr', `127.0.0.1:${port}`, '--root', path.join(work, 'r1'), '--max-blob-size', '1k'], { stdio: 'ignore' });
    try {
      const base = `http://127.0.0.1:${port}`;
      while ((await run('curl', ['-sf', `${base}/v2/`], process.env)).status !== 0) {
        assert.equal(serve.exitCode, null, 'berth registry serve exited');
        await new Promise((r) => setTimeout(r, 100));
      }
      const data = path.join(work, 'blob');
      fs.writeFileSync(data, Buffer.alloc(2048, 7));
      const big = await run('curl', ['-s', '-w', '\n%{http_code}', '-X', 'POST', '--data-binary', `@${data}`, `${base}/v2/a/blobs/uploads/?digest=${sha(Buffer.alloc(2048, 7))}`], process.env);
      assert.match(big.stdout, /"code":"SIZE_INVALID".*\n413$/s);
      const enc = await run('curl', ['-s', '-w', '\n%{http_code}', '--path-as-is', `${base}/v2/a%2Fb/tags/list`], process.env);
      assert.match(enc.stdout, /"code":"NAME_INVALID".*\n400$/s);
    } finally {
      serve.kill('SIGTERM');
    }
  });
});
