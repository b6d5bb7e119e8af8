/**
 * ~/.docker/config.json as the docker CLI reads and writes it: `auths` (base64 "user:pass"), `credsStore` and
 * `credHelpers` (docker-credential-<name> programs speaking get/store/erase on stdin/stdout). Other keys are kept.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { writeFileAtomic } from '../../common/atomic';
import { normalizeAuth, type AuthConfig } from './auth';

/** The key docker uses for Docker Hub. */
export const INDEX_SERVER = 'https://index.docker.io/v1/';

interface ConfigFile {
  auths?: Record<string, { auth?: string; identitytoken?: string; email?: string }>;
  credsStore?: string;
  credHelpers?: Record<string, string>;
  [k: string]: unknown;
}

/** DOCKER_CONFIG or ~/.docker, as the docker CLI. */
export const configDir = (env: NodeJS.ProcessEnv = process.env): string => env.DOCKER_CONFIG || path.join(env.HOME || os.homedir(), '.docker');

/** docker's ConvertToHostname: "https://h:5000/v2/" -> "h:5000"; docker.io names map to the index server key. */
export function serverKey(server: string): string {
  const host = server.replace(/^https?:\/\//, '').split('/')[0];
  return ['docker.io', 'index.docker.io', 'registry-1.docker.io'].includes(host) ? INDEX_SERVER : host;
}

export class DockerConfig {
  readonly file: string;

  constructor(dir: string = configDir()) {
    this.file = path.join(dir, 'config.json');
  }

  private read(): ConfigFile {
    let text: string;
    try {
      text = fs.readFileSync(this.file, 'utf8');
    } catch {
      return {};
    }
    if (!text.trim()) return {};
    try {
      return JSON.parse(text) as ConfigFile;
    } catch (e) {
      throw new Error(`loading config file ${this.file}: ${(e as Error).message}`);
    }
  }

  private write(cfg: ConfigFile): void {
    fs.mkdirSync(path.dirname(this.file), { recursive: true, mode: 0o700 });
    writeFileAtomic(this.file, JSON.stringify(cfg, null, '\t'));
    fs.chmodSync(this.file, 0o600);
  }

  private helper(cfg: ConfigFile, key: string): string | undefined {
    return cfg.credHelpers?.[key] ?? cfg.credsStore;
  }

  /** The `detachKeys` the user configured (the docker CLI's default for --detach-keys); a broken file counts as none. */
  detachKeys(): string | undefined {
    try {
      const v = this.read().detachKeys;
      return typeof v === 'string' && v ? v : undefined;
    } catch {
      return undefined;
    }
  }

  /** Credentials for a registry (host[:port] or the index server), empty when none are stored. */
  get(server: string): AuthConfig {
    const key = serverKey(server);
    const cfg = this.read();
    const helper = this.helper(cfg, key);
    if (helper) {
      const out = runHelper(helper, 'get', key, true);
      if (!out) return { serveraddress: key };
      const c = JSON.parse(out) as { Username: string; Secret: string };
      return c.Username === '<token>' ? { identitytoken: c.Secret, serveraddress: key } : { username: c.Username, password: c.Secret, serveraddress: key };
    }
    const entry = cfg.auths?.[key] ?? (key === INDEX_SERVER ? undefined : cfg.auths?.[`https://${key}`] ?? cfg.auths?.[`http://${key}`]);
    if (!entry) return { serveraddress: key };
    if (entry.identitytoken) return { identitytoken: entry.identitytoken, serveraddress: key };
    const { username, password } = normalizeAuth({ auth: entry.auth });
    return username ? { username, password, serveraddress: key } : { serveraddress: key };
  }

  /** Store credentials; returns where ("helper <name>" or the file) for the CLI's warning. */
  store(server: string, a: AuthConfig): { helper?: string } {
    const key = serverKey(server);
    const cfg = this.read();
    const helper = this.helper(cfg, key);
    if (helper) {
      const secret = a.identitytoken ? { Username: '<token>', Secret: a.identitytoken } : { Username: a.username ?? '', Secret: a.password ?? '' };
      runHelper(helper, 'store', JSON.stringify({ ServerURL: key, ...secret }), false);
      if (cfg.auths?.[key]) this.write({ ...cfg, auths: { ...cfg.auths, [key]: {} } });
      return { helper };
    }
    const entry = a.identitytoken ? { auth: '', identitytoken: a.identitytoken } : { auth: Buffer.from(`${a.username ?? ''}:${a.password ?? ''}`).toString('base64') };
    this.write({ ...cfg, auths: { ...(cfg.auths ?? {}), [key]: entry } });
    return {};
  }

  /** Remove credentials; false when none were stored. */
  erase(server: string): boolean {
    const key = serverKey(server);
    const cfg = this.read();
    const helper = this.helper(cfg, key);
    let found = false;
    if (helper) found = runHelper(helper, 'erase', key, true) !== undefined;
    if (cfg.auths?.[key]) {
      const auths = { ...cfg.auths };
      delete auths[key];
      this.write({ ...cfg, auths });
      found = true;
    }
    return found;
  }
}

/** Run docker-credential-<name> <action> with `input` on stdin; undefined when it says the credentials are not found. */
function runHelper(name: string, action: 'get' | 'store' | 'erase', input: string, notFoundOk: boolean): string | undefined {
  const prog = `docker-credential-${name}`;
  const r = spawnSync(prog, [action], { input, encoding: 'utf8', timeout: 30_000 });
  if (r.error) throw new Error(`error getting credentials - err: ${(r.error as NodeJS.ErrnoException).code === 'ENOENT' ? `exec: "${prog}": executable file not found in $PATH` : r.error.message}`);
  const out = (r.stdout || '').trim();
  if (r.status !== 0) {
    if (notFoundOk && /credentials not found/i.test(out + r.stderr)) return undefined;
    throw new Error(`error ${action === 'get' ? 'getting' : action === 'store' ? 'storing' : 'erasing'} credentials - err: exit status ${r.status}, out: \`${out || r.stderr.trim()}\``);
  }
  return out;
}
