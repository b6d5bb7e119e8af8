/**
 * Docker's context store, read and written in its own format so that `docker context` and `berth context` share it:
 * <config dir>/contexts/meta/<sha256(name)>/meta.json and <config dir>/contexts/tls/<sha256(name)>/docker/*.pem; the
 * current context is `currentContext` in config.json. The config dir is $DOCKER_CONFIG or ~/.docker.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DEFAULT_SOCKET, type HostFlags } from '../client/engine';

export const DEFAULT_CONTEXT = 'default';
export const TLS_FILES = ['ca.pem', 'cert.pem', 'key.pem'] as const;

export interface ContextMeta {
  Name: string;
  Metadata: { Description?: string; [k: string]: unknown };
  Endpoints: { docker?: { Host?: string; SkipTLSVerify?: boolean; [k: string]: unknown }; [k: string]: unknown };
}

/** A missing or unknown context: docker's wording plus what to do. */
export class ContextError extends Error {}

export const configDir = (env: NodeJS.ProcessEnv = process.env): string => env.DOCKER_CONFIG || path.join(os.homedir(), '.docker');
// node:crypto loaded on use: only named contexts need it, and its load is a noticeable part of every command's start
const id = (name: string): string => (require('node:crypto') as typeof import('node:crypto')).createHash('sha256').update(name).digest('hex');

/** Docker's rule for context names (pure). */
export function checkName(name: string): void {
  if (name === DEFAULT_CONTEXT) throw new ContextError(`"default" is a reserved context name`);
  if (!/^[a-zA-Z0-9][a-zA-Z0-9_.+-]+$/.test(name)) throw new ContextError(`context name "${name}" is invalid, names are validated against regexp "^[a-zA-Z0-9][a-zA-Z0-9_.+-]+$"`);
}

export class ContextStore {
  constructor(readonly dir: string = configDir()) {}

  metaDir(name: string): string {
    return path.join(this.dir, 'contexts', 'meta', id(name));
  }

  tlsDir(name: string): string {
    return path.join(this.dir, 'contexts', 'tls', id(name), 'docker');
  }

  exists(name: string): boolean {
    return fs.existsSync(path.join(this.metaDir(name), 'meta.json'));
  }

  get(name: string): ContextMeta {
    let text: string;
    try {
      text = fs.readFileSync(path.join(this.metaDir(name), 'meta.json'), 'utf8');
    } catch {
      throw new ContextError(`context "${name}" does not exist: see 'berth context ls', or create it with 'berth context create ${name} --docker host=...'`);
    }
    try {
      return JSON.parse(text) as ContextMeta;
    } catch (e) {
      throw new ContextError(`context "${name}": ${path.join(this.metaDir(name), 'meta.json')} is not valid JSON (${(e as Error).message})`);
    }
  }

  list(): ContextMeta[] {
    const root = path.join(this.dir, 'contexts', 'meta');
    const names: ContextMeta[] = [];
    for (const d of fs.existsSync(root) ? fs.readdirSync(root) : []) {
      try {
        names.push(JSON.parse(fs.readFileSync(path.join(root, d, 'meta.json'), 'utf8')) as ContextMeta);
      } catch {
        // a half-written or foreign directory: docker skips it too
      }
    }
    return names.sort((a, b) => a.Name.localeCompare(b.Name));
  }

  /** Writes meta.json; `tls` (file name → PEM) replaces the TLS material when given. */
  save(meta: ContextMeta, tls?: Partial<Record<(typeof TLS_FILES)[number], Buffer>>): void {
    fs.mkdirSync(this.metaDir(meta.Name), { recursive: true, mode: 0o755 });
    fs.writeFileSync(path.join(this.metaDir(meta.Name), 'meta.json'), JSON.stringify(meta), { mode: 0o644 });
    if (!tls) return;
    fs.rmSync(path.dirname(this.tlsDir(meta.Name)), { recursive: true, force: true });
    const entries = Object.entries(tls).filter(([, v]) => v);
    if (!entries.length) return;
    fs.mkdirSync(this.tlsDir(meta.Name), { recursive: true, mode: 0o700 });
    for (const [file, data] of entries) fs.writeFileSync(path.join(this.tlsDir(meta.Name), file), data!, { mode: 0o600 });
  }

  /** The stored TLS files of a context (file name → PEM). */
  tls(name: string): Partial<Record<(typeof TLS_FILES)[number], Buffer>> {
    const out: Partial<Record<(typeof TLS_FILES)[number], Buffer>> = {};
    for (const f of TLS_FILES) {
      const p = path.join(this.tlsDir(name), f);
      if (fs.existsSync(p)) out[f] = fs.readFileSync(p);
    }
    return out;
  }

  remove(name: string): void {
    fs.rmSync(this.metaDir(name), { recursive: true, force: true });
    fs.rmSync(path.dirname(this.tlsDir(name)), { recursive: true, force: true });
  }

  /** config.json's currentContext ('' when unset). */
  current(): string {
    return (this.readConfig().currentContext as string | undefined) ?? '';
  }

  /** Sets (or, for default, removes) currentContext, keeping the rest of config.json. */
  setCurrent(name: string): void {
    const cfg = this.readConfig();
    if (name === DEFAULT_CONTEXT) delete cfg.currentContext;
    else cfg.currentContext = name;
    fs.mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const file = path.join(this.dir, 'config.json');
    fs.writeFileSync(`${file}.tmp`, JSON.stringify(cfg, null, '\t'), { mode: 0o600 });
    fs.renameSync(`${file}.tmp`, file);
  }

  private readConfig(): Record<string, unknown> {
    try {
      return JSON.parse(fs.readFileSync(path.join(this.dir, 'config.json'), 'utf8')) as Record<string, unknown>;
    } catch {
      return {};
    }
  }
}

/**
 * The context a command uses, as docker's CLI decides (pure): --context, else default when -H or $DOCKER_HOST is
 * given, else $DOCKER_CONTEXT, else config.json's currentContext, else default.
 */
export function contextName(flags: { context?: string; host?: string }, env: NodeJS.ProcessEnv, current: string): string {
  if (flags.context && flags.host) throw new ContextError('conflicting options: either specify --host or --context, not both');
  if (flags.context) return flags.context;
  if (flags.host || env.DOCKER_HOST) return DEFAULT_CONTEXT;
  return env.DOCKER_CONTEXT || current || DEFAULT_CONTEXT;
}

/** The connection flags a stored context stands for: its host, and TLS when it holds TLS material. */
export function contextHostFlags(store: ContextStore, name: string): HostFlags {
  const meta = store.get(name);
  const ep = meta.Endpoints.docker;
  if (!ep?.Host) throw new ContextError(`context "${name}" has no docker endpoint: set one with 'berth context update ${name} --docker host=...'`);
  const tls = store.tls(name);
  if (!Object.keys(tls).length) return { host: ep.Host };
  const file = (f: string): string | undefined => (fs.existsSync(path.join(store.tlsDir(name), f)) ? path.join(store.tlsDir(name), f) : undefined);
  return { host: ep.Host, tls: true, tlsverify: !ep.SkipTLSVerify && !!tls['ca.pem'], tlscacert: file('ca.pem'), tlscert: file('cert.pem'), tlskey: file('key.pem') };
}

/** The endpoint `default` stands for: $DOCKER_HOST or Berth's socket. */
export const defaultHost = (env: NodeJS.ProcessEnv): string => env.DOCKER_HOST || `unix://${DEFAULT_SOCKET}`;
