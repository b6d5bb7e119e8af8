/**
 * HTTP basic auth against an htpasswd file of bcrypt hashes (what distribution's htpasswd auth accepts).
 * bcrypt is slow on purpose, so verified credentials are remembered (as a sha256 of user, password and hash) and
 * each request of a push does not pay for it again.
 */
import * as bcrypt from 'bcryptjs';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';

const BCRYPT_RE = /^\$2[aby]?\$\d\d\$[./A-Za-z0-9]{53}$/;
const CACHE_LIMIT = 1024;
/** A hash of a random secret, compared against for unknown users so a wrong user name costs as much as a wrong password. */
const DUMMY_HASH = '$2b$10$j2dgwktTSQEYF14Yg/ckaeoxjMB5og.dYj1dJvz08mWjsenhGpKZa';

export class Htpasswd {
  private readonly verified = new Set<string>();

  private constructor(private readonly users: Map<string, string>) {}

  /** Load `user:bcrypt-hash` lines; blank lines and `#` comments are skipped, anything else is an error. */
  static load(file: string): Htpasswd {
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
    return new Htpasswd(users);
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
    if (hash && this.verified.has(key)) return user;
    const ok = await bcrypt.compare(password, hash ?? DUMMY_HASH);
    if (!ok || !hash) return undefined;
    if (this.verified.size >= CACHE_LIMIT) this.verified.clear();
    this.verified.add(key);
    return user;
  }
}
