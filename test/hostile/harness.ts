/**
 * The hostile corpus runner's pieces: the entry type, raw HTTP (unix socket or loopback TCP) with a capped reply,
 * the stub registry, the watched canary tree outside every directory Berth owns, and how a reply is classified.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import type { StubRepo } from './craft';


/** What a payload builder may use: where the canary lives (escapes aim at it) and the secret it holds. */
export interface Ctx {
  canary: string;
  secret: string;
  /** `../` enough times to climb from any directory to /, then down into the canary: `${up}pwned`. */
  up: string;
}

export type Body = Buffer | string | (() => Readable);

export type Payload =
  /** POST /images/load (what `docker load` sends). */
  | { kind: 'load'; archive: (c: Ctx) => Promise<Buffer> }
  /** POST /images/create?fromImage= against the stub registry (what `docker pull` sends). */
  | { kind: 'pull'; repo: (c: Ctx) => Promise<StubRepo> | StubRepo; tag?: string }
  /** POST /build with a tar context (docker's legacy builder protocol). */
  | { kind: 'build'; context: (c: Ctx) => Promise<Buffer> | Buffer; query?: string }
  /** Any Engine API request; `{ctr}` in the path is the running container, `{created}` a created one. */
  | { kind: 'api'; method: string; path: string | ((c: Ctx) => string); body?: Body | ((c: Ctx) => Promise<Buffer>); headers?: Record<string, string> }
  /** A request to `berth registry serve` (its root's sibling is the canary). */
  | { kind: 'registry'; method: string; path: string; body?: Body; headers?: Record<string, string> };

export interface HostileInput {
  name: string;
  /** refused: a 4xx (or, on a stream that already started, docker's errorDetail) with a clear message.
   *  accepted: 2xx, nothing refused (docker accepts it too); safe: either, as long as nothing breaks. */
  expect: 'refused' | 'accepted' | 'safe';
  /** An exact status when it matters (docker's). */
  status?: number;
  /** The message must match (docker's wording). */
  message?: RegExp;
  payload: Payload;
}

export interface Reply {
  status: number;
  headers?: http.IncomingHttpHeaders;
  body: Buffer;
  /** The error message: `message` of a JSON error, an OCI registry error, or the last errorDetail of a stream. */
  message?: string;
  hang?: boolean;
  /** The reply to a HEAD request (no body). */
  head?: boolean;
  /** The connection broke before a reply. */
  broken?: string;
}

const MAX_BODY = 1 << 20;

export function request(
  target: { socketPath: string } | { host: string; port: number },
  method: string,
  urlPath: string,
  body?: Body,
  headers: Record<string, string> = {},
  timeoutMs = 180_000,
): Promise<Reply> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (r: Reply) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve(r);
    };
    const req = http.request({ ...target, method, path: urlPath, headers: { ...headers }, agent: false }, (res) => {
      res.on('data', (c: Buffer) => {
        if (size < MAX_BODY) chunks.push(c);
        size += c.length;
      });
      const end = () => {
        const b = Buffer.concat(chunks);
        finish({ status: res.statusCode ?? 0, headers: res.headers, body: b, message: errorMessage(b), head: method === 'HEAD' });
      };
      res.on('end', end);
      res.on('error', end);
      res.on('aborted', end);
    });
    const timer = setTimeout(() => {
      req.destroy();
      finish({ status: 0, body: Buffer.alloc(0), hang: true });
    }, timeoutMs);
    req.on('error', (e) => finish({ status: 0, body: Buffer.alloc(0), broken: e.message }));
    if (typeof body === 'function') body().on('error', () => req.destroy()).pipe(req);
    else req.end(body);
  });
}

function errorMessage(body: Buffer): string | undefined {
  const text = body.toString('utf8');
  let last: string | undefined;
  for (const line of text.split('\n')) {
    try {
      const v = JSON.parse(line) as { message?: string; error?: string; errorDetail?: { message?: string }; errors?: { message?: string; code?: string }[] };
      if (typeof v !== 'object' || v === null) continue;
      last = v.errorDetail?.message ?? v.error ?? v.message ?? (v.errors?.[0] ? `${v.errors[0].code}: ${v.errors[0].message}` : undefined) ?? last;
    } catch {
      // not JSON (a tar, a plain-text reply): no error message in it
    }
  }
  return last;
}

/** Node's own failure texts: a message carrying one of these is an internal error that leaked, not a clear refusal
 *  (errno names spelled out: `EXPOSE: invalid containerPort` is a clear refusal). */
const INTERNAL = /TypeError|ReferenceError|RangeError|SyntaxError: Unexpected|Cannot read prop|is not a function|is not iterable|\[object Object\]|\bE(?:NOENT|EXIST|ACCES|PERM|NOTDIR|ISDIR|INVAL|NOSPC|IO|BADF|PIPE|CONNRESET|CONNREFUSED|LOOP|NAMETOOLONG|XDEV|BUSY|NOTEMPTY|ROFS|MFILE|AGAIN|NOMEM|2BIG|OPNOTSUPP): |\bundefined\b|\bNaN\b|at \S+ \(.*:\d+:\d+\)/;

export type Outcome = 'refused' | 'accepted' | 'unclear' | '5xx' | 'hang' | 'broken';

export function classify(r: Reply): Outcome {
  if (r.hang) return 'hang';
  if (r.broken) return 'broken';
  if (r.status >= 500) return '5xx';
  const inStream = r.status < 300 && r.message !== undefined && /^\s*\{/.test(r.body.toString('utf8', 0, 200)) && /"error(Detail)?"/.test(r.body.toString('utf8'));
  if (r.status >= 400 && r.head) return 'refused'; // a reply to HEAD has no body to say why (docker's neither)
  if (r.status >= 400 || inStream) return r.message && r.message.trim() && !INTERNAL.test(r.message) ? 'refused' : 'unclear';
  return 'accepted';
}

/** The watched tree outside: escapes aim here; any byte that appears or changes in it was written outside. */
export class Canary {
  readonly dir: string;
  readonly secret = `berth-canary-${crypto.randomBytes(12).toString('hex')}`;
  private baseline = new Map<string, string>();

  constructor(parent: string) {
    this.dir = path.join(parent, 'canary');
    this.populate();
  }

  private populate(): void {
    fs.rmSync(this.dir, { recursive: true, force: true });
    fs.mkdirSync(path.join(this.dir, 'd'), { recursive: true });
    fs.writeFileSync(path.join(this.dir, 'secret'), this.secret + '\n', { mode: 0o600 });
    fs.writeFileSync(path.join(this.dir, 'victim'), 'unchanged\n');
    fs.writeFileSync(path.join(this.dir, 'd', 'victim'), 'unchanged\n');
    this.baseline = this.snapshot();
  }

  get ctx(): Ctx {
    return { canary: this.dir, secret: this.secret, up: '../'.repeat(40) + this.dir.slice(1) + '/' };
  }

  private snapshot(): Map<string, string> {
    const out = new Map<string, string>();
    const walk = (p: string) => {
      const st = fs.lstatSync(p);
      const content = st.isFile() ? crypto.createHash('sha256').update(fs.readFileSync(p)).digest('hex') : st.isSymbolicLink() ? fs.readlinkSync(p) : '';
      out.set(p, `${st.mode}:${st.size}:${content}`);
      if (st.isDirectory()) for (const n of fs.readdirSync(p)) walk(path.join(p, n));
    };
    walk(this.dir);
    return out;
  }

  /** Bytes written (or files removed) in the tree since the last check; then the tree is put back. */
  check(): { bytes: number; paths: string[] } {
    const now = this.snapshot();
    const paths: string[] = [];
    let bytes = 0;
    for (const [p, sig] of now) {
      if (this.baseline.get(p) === sig || p === this.dir) continue;
      paths.push(p);
      bytes += Math.max(1, Number(sig.split(':')[1]));
    }
    for (const [p, sig] of this.baseline) if (!now.has(p)) (paths.push(`${p} (removed)`), (bytes += Math.max(1, Number(sig.split(':')[1]))));
    if (paths.length) this.populate();
    return { bytes, paths };
  }
}

/** A registry on 127.0.0.1 that serves whatever the corpus registered, as a hostile registry would. */
export class StubRegistry {
  private readonly repos = new Map<string, StubRepo>();
  private server?: http.Server;
  port = 0;

  add(name: string, repo: StubRepo): void {
    this.repos.set(name, repo);
  }

  async start(): Promise<void> {
    this.server = http.createServer((req, res) => {
      const m = /^\/v2\/(.+)\/(manifests|blobs)\/([^/]+)$/.exec(req.url ?? '');
      if (req.url === '/v2/' || req.url === '/v2') return void res.writeHead(200, { 'Content-Type': 'application/json' }).end('{}');
      const repo = m && this.repos.get(m[1]);
      const ref = m && decodeURIComponent(m[3]);
      const hit = repo && ref && (m[2] === 'manifests' ? repo.manifests[ref] : repo.blobs[ref] && { body: repo.blobs[ref], type: 'application/octet-stream' });
      if (!hit) return void res.writeHead(404, { 'Content-Type': 'application/json' }).end('{"errors":[{"code":"MANIFEST_UNKNOWN","message":"unknown"}]}');
      res.writeHead(200, { 'Content-Type': hit.type, 'Content-Length': hit.body.length, ...(m[2] === 'manifests' && { 'Docker-Content-Digest': `sha256:${crypto.createHash('sha256').update(hit.body).digest('hex')}` }) });
      res.end(req.method === 'HEAD' ? undefined : hit.body);
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as { port: number }).port;
  }

  stop(): Promise<void> {
    return new Promise((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
