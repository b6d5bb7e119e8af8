/**
 * EngineClient and the berth CLI against a tiny fake Engine API server on a temporary unix socket:
 * version negotiation, error decoding, hijack with half-close, frame demultiplexing, and the run flow of trace §5.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { Socket } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { ConnectError, EngineClient, EngineError, encodeQuery } from '../../src/client/engine';
import { demultiplex, encodeFrame, FrameDemuxer, readNdjson } from '../../src/client/stream';
import { PassThrough } from 'node:stream';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-client-'));
const sock = path.join(dir, 'engine.sock');
const log: string[] = [];
let apiHeader: string | null = '1.41';
let pingMethodAllowed = ['HEAD', 'GET'];
const ID = 'c'.repeat(64);
let server: http.Server;

function json(res: http.ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify(body));
}

function handle(req: http.IncomingMessage, res: http.ServerResponse): void {
  const url = req.url ?? '';
  log.push(`${req.method} ${url}`);
  if (url === '/_ping') {
    if (!pingMethodAllowed.includes(req.method ?? '')) return void res.writeHead(405).end();
    res.writeHead(200, apiHeader ? { 'Api-Version': apiHeader, Ostype: 'linux' } : {});
    return void res.end(req.method === 'GET' ? 'OK' : undefined);
  }
  const p = url.replace(/^\/v[0-9.]+/, '').split('?')[0];
  let body = '';
  req.on('data', (c) => (body += c));
  req.on('end', () => {
    if (p === '/containers/create') {
      const b = JSON.parse(body) as { Image: string };
      if (b.Image === 'missing') return json(res, 404, { message: 'No such image: missing:latest' });
      return json(res, 201, { Id: ID, Warnings: [] });
    }
    if (p === `/containers/${ID}/wait`) {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.flushHeaders();
      setTimeout(() => res.end(JSON.stringify({ Error: null, StatusCode: 3 })), 30);
      return;
    }
    if (p === `/containers/${ID}/start`) return void res.writeHead(204).end();
    if (p === '/images/create') return json(res, 404, { message: 'pull access denied for missing' });
    if (p === '/containers/json') {
      return json(res, 200, [{ Id: ID, Names: ['/web'], Image: 'busybox', Command: 'sleep 1000', Created: Math.floor(Date.now() / 1000) - 5, Ports: [], State: 'running', Status: 'Up 5 seconds' }]);
    }
    if (p === '/containers/busybox/json') return json(res, 404, { message: 'No such container: busybox' });
    if (p === '/images/busybox/json') return json(res, 200, { Id: 'sha256:1', RepoTags: ['busybox:latest'] });
    if (req.method === 'DELETE' && p === '/containers/web') return void res.writeHead(204).end();
    if (req.method === 'DELETE') return json(res, 404, { message: `No such container: ${p.split('/').pop()}` });
    if (p === '/stream') {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.write('{"status":"a"}\n{"sta');
      setTimeout(() => res.end('tus":"b"}\n\n'), 10);
      return;
    }
    json(res, 404, { message: 'page not found' });
  });
}

/** Hijacked attach/exec: 101, then echo whatever the client sends as a stdout frame once it half-closes. */
function upgrade(req: http.IncomingMessage, socket: Socket, head: Buffer): void {
  log.push(`${req.method} ${req.url} upgrade=${req.headers.upgrade}`);
  if (!/\/attach\?/.test(req.url ?? '')) {
    const body = JSON.stringify({ message: 'page not found' });
    return void socket.end(`HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
  }
  socket.write('HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n');
  let input = head.toString();
  socket.on('data', (d) => (input += d));
  socket.on('end', () => {
    // frames deliberately split across writes
    const out = Buffer.concat([encodeFrame(1, input ? `echo:${input}` : 'hi\n'), encodeFrame(2, 'err\n')]);
    socket.write(out.subarray(0, 5));
    setTimeout(() => socket.end(out.subarray(5)), 5);
  });
}

before(async () => {
  server = http.createServer(handle);
  server.on('upgrade', upgrade);
  await new Promise<void>((r) => server.listen(sock, r));
});

after(async () => {
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
  fs.rmSync(dir, { recursive: true, force: true });
});

test('pings first, negotiates the lower API version, and prefixes later paths', async () => {
  log.length = 0;
  const c = new EngineClient({ socketPath: sock });
  await c.request('GET', '/containers/json');
  assert.deepEqual(log, ['HEAD /_ping', 'GET /v1.41/containers/json']);
  assert.equal(c.apiVersion, '1.41');
  c.close();
});

test('falls back to GET /_ping on 405 and to v1.24 without an Api-Version header', async () => {
  log.length = 0;
  pingMethodAllowed = ['GET'];
  apiHeader = null;
  const c = new EngineClient({ socketPath: sock });
  try {
    await c.request('GET', '/containers/json');
    assert.deepEqual(log, ['HEAD /_ping', 'GET /_ping', 'GET /v1.24/containers/json']);
  } finally {
    pingMethodAllowed = ['HEAD', 'GET'];
    apiHeader = '1.41';
    c.close();
  }
});

test('errors carry the status and the daemon message', async () => {
  const c = new EngineClient({ socketPath: sock });
  await assert.rejects(c.request('DELETE', '/containers/nope'), (e: Error) =>
    e instanceof EngineError && e.status === 404 && e.message === 'Error response from daemon: No such container: nope');
  c.close();
  const gone = new EngineClient({ socketPath: path.join(dir, 'absent.sock') });
  await assert.rejects(gone.ping(), (e: Error) => e instanceof ConnectError && /Cannot connect to the Berth daemon at unix:\/\//.test(e.message));
});

test('query strings are encoded like Go url.Values (sorted, escaped)', () => {
  assert.equal(encodeQuery({ tag: 'v1', fromImage: '127.0.0.1:5000/my app', all: true, x: undefined }), '?all=1&fromImage=127.0.0.1%3A5000%2Fmy+app&tag=v1');
  assert.equal(encodeQuery({ names: ['a', 'b'] }), '?names=a&names=b');
  assert.equal(encodeQuery({}), '');
});

test('NDJSON streams are split on newlines whatever the chunking', async () => {
  const c = new EngineClient({ socketPath: sock });
  const got: unknown[] = [];
  for await (const m of c.ndjson('GET', '/stream')) got.push(m);
  assert.deepEqual(got, [{ status: 'a' }, { status: 'b' }]);
  c.close();
});

test('hijack resolves on 101; stdin is sent raw, half-close lets the server answer', async () => {
  const c = new EngineClient({ socketPath: sock });
  const s = await c.hijack('POST', `/containers/${ID}/attach`, { query: { stream: 1, stdin: 1, stdout: 1 }, contentType: 'text/plain' });
  s.end('line1\n');
  const out = new PassThrough();
  const err = new PassThrough();
  await demultiplex(s, out, err);
  assert.equal(out.read().toString(), 'echo:line1\n');
  assert.equal(err.read().toString(), 'err\n');
  assert.match(log.at(-1) as string, /attach\?stdin=1&stdout=1&stream=1 upgrade=tcp$/);
  c.close();
});

test('hijack rejects with the decoded error when there is no upgrade', async () => {
  const c = new EngineClient({ socketPath: sock });
  await assert.rejects(c.hijack('POST', '/nothing'), (e: Error) => e instanceof EngineError && e.status === 404);
  c.close();
});

test('FrameDemuxer handles frames split anywhere and reports leftovers', () => {
  const frames: [number, string][] = [];
  const d = new FrameDemuxer((s, p) => frames.push([s, p.toString()]));
  const all = Buffer.concat([encodeFrame(1, 'out\n'), encodeFrame(2, ''), encodeFrame(2, 'err\n')]);
  for (const b of all) d.push(Buffer.from([b]));
  assert.deepEqual(frames, [[1, 'out\n'], [2, ''], [2, 'err\n']]);
  d.push(encodeFrame(1, 'abc').subarray(0, 9));
  assert.equal(d.leftover, 9);
});

test('readNdjson rejects malformed lines', async () => {
  const src = new PassThrough();
  src.end('{"a":1}\nnot json\n');
  const it = readNdjson(src);
  assert.deepEqual((await it.next()).value, { a: 1 });
  await assert.rejects(it.next(), SyntaxError);
});

/* ----------------------------------------------------------- the CLI itself */

const CLI = path.resolve(__dirname, '../../src/cli/main.js');

/** Runs the built CLI against the fake server (DOCKER_HOST is always set: no daemon auto-start). */
function berthWithInput(input: string, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [CLI, ...args], { env: { ...process.env, DOCKER_HOST: `unix://${sock}` } }, (err, stdout, stderr) => {
      resolve({ code: err ? (err as { code?: number }).code ?? 1 : 0, stdout, stderr });
    });
    child.stdin?.end(input);
  });
}
const berth = (...args: string[]): ReturnType<typeof berthWithInput> => berthWithInput('', ...args);

test('berth run --rm follows trace §5 and exits with the wait StatusCode', async () => {
  log.length = 0;
  const r = await berth('run', '--rm', 'busybox', 'echo', 'hi');
  assert.equal(r.stdout, 'hi\n');
  assert.equal(r.stderr, 'err\n');
  assert.equal(r.code, 3);
  const seq = log.map((l) => l.replace(/\?.*/, '').replace(ID, 'ID').replace(/ upgrade=.*/, ''));
  assert.deepEqual(seq, ['HEAD /_ping', 'POST /v1.41/containers/create', 'POST /v1.41/containers/ID/attach', 'POST /v1.41/containers/ID/wait', 'POST /v1.41/containers/ID/start']);
  assert.ok(log.some((l) => l.endsWith('/wait?condition=removed')));
  assert.ok(log.some((l) => l.includes('/attach?stderr=1&stdout=1&stream=1')));
});

test('berth run -i pipes stdin raw over the attach and half-closes at its end', async () => {
  log.length = 0;
  const r = await berthWithInput('line1\nline2\n', 'run', '-i', 'busybox', 'cat');
  assert.equal(r.stdout, 'echo:line1\nline2\n');
  assert.equal(r.code, 3);
  assert.ok(log.some((l) => l.includes('/attach?stderr=1&stdin=1&stdout=1&stream=1')));
  assert.ok(log.some((l) => l.endsWith('/wait?condition=next-exit')));
});

test('berth run -d prints the full ID; a missing image reports the failed pull with exit 125', async () => {
  const d = await berth('run', '-d', 'busybox');
  assert.equal(d.code, 0);
  assert.equal(d.stdout, ID + '\n');
  const m = await berth('run', 'missing');
  assert.equal(m.code, 125);
  assert.equal(m.stderr, "Unable to find image 'missing:latest' locally\n" +
    "berth: Error response from daemon: pull access denied for missing\n\nRun 'berth run --help' for more information\n");
  assert.ok(log.some((l) => l.includes('/images/create?fromImage=docker.io%2Flibrary%2Fmissing&tag=latest')));
});

test('berth ps, inspect fallback, rm output and exit codes', async () => {
  const ps = await berth('ps');
  assert.equal(ps.code, 0);
  const row = (cells: string[], widths: number[]): string => cells.map((c, i) => (i < widths.length ? c.padEnd(widths[i]) : c)).join('') + '\n';
  const widths = [15, 10, 15, 16, 15, 10];
  assert.equal(ps.stdout,
    row(['CONTAINER ID', 'IMAGE', 'COMMAND', 'CREATED', 'STATUS', 'PORTS', 'NAMES'], widths) +
    row(['cccccccccccc', 'busybox', '"sleep 1000"', '5 seconds ago', 'Up 5 seconds', '', 'web'], widths));
  const insp = await berth('inspect', '--format', '{{index .RepoTags 0}}', 'busybox');
  assert.equal(insp.stdout, 'busybox:latest\n');
  const rm = await berth('rm', 'web', 'ghost');
  assert.equal(rm.stdout, 'web\n');
  assert.equal(rm.stderr, 'Error response from daemon: No such container: ghost\n');
  assert.equal(rm.code, 1);
  const bad = await berth('ps', '--bogus');
  assert.equal(bad.code, 125);
  assert.equal(bad.stderr, "unknown flag: --bogus\nSee 'berth ps --help'.\n");
  const tty = await berth('run', '-it', 'busybox');
  assert.equal(tty.code, 1);
  assert.equal(tty.stderr, 'the input device is not a TTY\n');
});
