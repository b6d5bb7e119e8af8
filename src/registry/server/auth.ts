/**
 * HTTP basic auth against an htpasswd file of bcrypt hashes (what distribution's htpasswd auth accepts).
 * bcrypt is slow on purpose (bcryptjs: tens of ms of CPU per check at cost 10), so at most `maxConcurrent` checks run at
 * once (the rest wait), and verified credentials are remembered for a few minutes (as a sha256 of user, password and
 * hash) so that each request of a push does not pay again; the same credentials arriving together are checked once.
 */
import * as bcrypt from 'bcryptjs';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';

const BCRYPT_RE = /^\$2[aby]?\$\d\d\$[./A-Za-z0-9]{53}$/;
const CACHE_LIMIT = 1024;
const CACHE_TTL_MS = 5 * 60 * 1000;
/** A hash of a random secret, compared against for unknown users so a wrong user name costs as much as a wrong password. */
const DUMMY_HASH = '$2b$10$j2dgwktTSQEYF14Yg/ckaeoxjMB5og.dYj1dJvz08mWjsenhGpKZa';

/** At most `limit` tasks at once; the others wait in arrival order. */
export class Limiter {
  active = 0;
  private readonly queue: (() => void)[] = [];

  constructor(readonly limit: number) {}

  get waiting(): number {
    return this.queue.length;
  }

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) await new Promise<void>((resolve) => this.queue.push(resolve));
    else this.active++;
    try {
      return await fn();
    } finally {
      const next = this.queue.shift();
      if (next) next(); // the slot passes on: active stays the same
      else this.active--;
    }
  }
}

export class Htpasswd {
  /** Key -> expiry time of verified credentials. */
  private readonly verified = new Map<string, number>();
  private readonly inFlight = new Map<string, Promise<boolean>>();
  readonly limiter: Limiter;

  private constructor(private readonly users: Map<string, string>, maxConcurrent = Math.max(1, os.availableParallelism() - 1)) {
    this.limiter = new Limiter(maxConcurrent);
  }

  /** Load `user:bcrypt-hash` lines; blank lines and `#` comments are skipped, anything else is an error. */
  static load(file: string, maxConcurrent?: number): Htpasswd {
    const users = new Map<string, string>();
    fs.readFileSync(file, 'utf8')
      .split('\n')
      .forEach((raw, i) => {
        const line = raw.trim();
        if (!line || line.startsWith('#')) return;
        const colon = line.indexOf(':');
        const user = line.slice(0, colon);
        const hash = line.slice(colon + 1);
        if (colon <= 0 || !BCRYPT_RE.test(hash)) throw new Error(`${file}:${i + 1}: expected user:bcrypt-hash (only bcrypt is supported)`);
        users.set(user, hash);
      });
    return new Htpasswd(users, maxConcurrent);
  }

  /** Check an `Authorization` header; returns the user name or undefined. */
  async check(authorization: string | undefined): Promise<string | undefined> {
    const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(authorization ?? '');
    if (!m) return undefined;
    const decoded = Buffer.from(m[1], 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return undefined;
    const user = decoded.slice(0, colon);
    const password = decoded.slice(colon + 1);
    const hash = this.users.get(user);
    const key = createHash('sha256').update(`${user}\0${password}\0${hash ?? ''}`).digest('hex');
    if (hash && (this.verified.get(key) ?? 0) > Date.now()) return user;
    let pending = this.inFlight.get(key);
    if (!pending) {
      pending = this.limiter.run(() => bcrypt.compare(password, hash ?? DUMMY_HASH)).finally(() => this.inFlight.delete(key));
      this.inFlight.set(key, pending);
    }
    if (!(await pending) || !hash) return undefined;
    if (this.verified.size >= CACHE_LIMIT) this.verified.clear();
    this.verified.set(key, Date.now() + CACHE_TTL_MS);
    return user;
  }
}
