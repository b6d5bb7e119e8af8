/**
 * BuildKit's client session (`POST /session`): the client upgrades the connection to h2c and serves gRPC on it
 * (auth, secrets, ssh, file sync); the daemon is the HTTP/2 client. A build names its session (`session=` on
 * `POST /build`) and the session lives until the client closes it. Berth's builder takes the context from the
 * request body and registry credentials from X-Registry-Config, so it does not call the session's services yet; it
 * holds the session as dockerd does, so that clients building with `version=2` (dockerode, testcontainers) work.
 */
import * as http2 from 'node:http2';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { badRequest } from '../common/errors';
import { log } from '../common/log';

export interface BuildSession {
  id: string;
  name: string;
}

/** The session a `POST /session` request opens, from its headers (refused before anything is upgraded). */
export function sessionInfo(headers: Record<string, string | string[] | undefined>): BuildSession {
  const one = (name: string): string => {
    const v = headers[name];
    return (Array.isArray(v) ? v[0] : v) ?? '';
  };
  if (one('upgrade').toLowerCase() !== 'h2c') throw badRequest('session: the connection must upgrade to h2c');
  const id = one('x-docker-expose-session-uuid');
  if (!id) throw badRequest('session: X-Docker-Expose-Session-Uuid is required');
  return { id, name: one('x-docker-expose-session-name') };
}

/** How long a build waits for the session it names (the client opens it just before, on another connection). */
const SESSION_WAIT_MS = 5_000;

export class BuildSessions {
  private readonly open = new Map<string, BuildSession>();
  private readonly waiters = new Map<string, (() => void)[]>();

  /** Take over an upgraded connection (request body already read) as the HTTP/2 client of the session's gRPC server. */
  attach(session: BuildSession, socket: Duplex): void {
    const { id } = session;
    if (this.open.has(id)) throw badRequest(`session ${id} is already open`);
    socket.write('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n');
    const client = http2.connect('http://session', { createConnection: () => socket as Socket });
    const end = (): void => {
      if (this.open.get(id) !== session) return;
      this.open.delete(id);
      log.debug('build session closed', { id });
    };
    client.on('error', (e) => log.debug('build session error', { id, error: e.message }));
    client.on('close', end);
    socket.on('close', end);
    this.open.set(id, session);
    for (const wake of this.waiters.get(id) ?? []) wake();
    this.waiters.delete(id);
    log.debug('build session open', { id, name: session.name });
  }

  /** The open session `id`, waiting briefly for it to appear; a clear error when it does not. */
  async get(id: string): Promise<BuildSession> {
    const found = this.open.get(id);
    if (found) return found;
    await new Promise<void>((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        const rest = (this.waiters.get(id) ?? []).filter((w) => w !== wake);
        if (rest.length) this.waiters.set(id, rest);
        else this.waiters.delete(id);
        resolve();
      }, SESSION_WAIT_MS);
      this.waiters.set(id, [...(this.waiters.get(id) ?? []), wake]);
    });
    const session = this.open.get(id);
    if (!session) throw badRequest(`no active session for ${id}: the client must open it with POST /session first`);
    return session;
  }
}
