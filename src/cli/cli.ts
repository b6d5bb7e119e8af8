/** What every command gets: its name for messages, output streams, and a connected EngineClient. */
import type { EngineClient, HostFlags } from '../client/engine';
import type { FlagSpec, ParsedFlags } from './flags';

/** Ends the command with `code`, printing `message` (if any) on stderr, like docker's cli.StatusError. */
export class StatusError extends Error {
  constructor(readonly code: number, message = '') {
    super(message);
  }
}

export interface Command {
  /** "run [OPTIONS] IMAGE [COMMAND] [ARG...]" (without the "berth " prefix). */
  use: string;
  short: string;
  flags: FlagSpec[];
  /** false: flags stop at the first positional argument (run, exec, create). */
  interspersed?: boolean;
  /** [min, max] positional arguments (cobra's Requires*Args wording on mismatch). */
  args?: [number, number];
  run(ctx: Ctx, opts: ParsedFlags): Promise<number | void>;
}

const DAEMON_LOG = '/var/log/berthd.log';

/** This CLI's version, from package.json (dist/src/cli/cli.js -> project root). */
export function berthVersion(): string {
  return (require('../../../package.json') as { version: string }).version;
}
const START_WAIT_MS = 10_000;

export class Ctx {
  private connected: Promise<EngineClient> | null = null;

  private context?: string;

  /** `path` is the command as typed ("berth run", "berth container run"). */
  constructor(readonly path: string, private readonly hostFlags: HostFlags & { context?: string } = {}) {}

  /** The context this command uses (-c, DOCKER_HOST, DOCKER_CONTEXT, config.json), as docker decides it. */
  contextName(): string {
    if (this.context === undefined) {
      const { contextName, ContextStore } = require('./contexts') as typeof import('./contexts');
      this.context = contextName(this.hostFlags, process.env, new ContextStore().current());
    }
    return this.context;
  }

  /** The client, after a successful /_ping. On the default socket a missing daemon is started first. */
  client(): Promise<EngineClient> {
    this.connected ??= this.connect();
    return this.connected;
  }

  /** "berth: <msg>\n\nRun 'berth run --help' for more information" with status `code` (docker's withHelp). */
  withHelp(e: unknown, code = 125): StatusError {
    const msg = e instanceof Error ? e.message : String(e);
    return new StatusError(code, `berth: ${msg}\n\nRun '${this.path} --help' for more information`);
  }

  /** The connection flags: those given, or those of the context in use (then as explicit as -H). */
  private async hostFlagsOfContext(): Promise<HostFlags> {
    const { ContextError, contextHostFlags, ContextStore, DEFAULT_CONTEXT } = await import('./contexts');
    try {
      const name = this.contextName();
      return name === DEFAULT_CONTEXT ? this.hostFlags : contextHostFlags(new ContextStore(), name);
    } catch (e) {
      if (e instanceof ContextError) throw new StatusError(1, e.message);
      throw e;
    }
  }

  private async connect(): Promise<EngineClient> {
    // loaded here, not at the top: node:http is most of a command's start-up and --version/--help need none of it
    const { ConnectError, EngineClient, resolveHost } = await import('../client/engine');
    const { endpoint, explicit } = resolveHost(process.env, await this.hostFlagsOfContext());
    let client: EngineClient;
    let tunnel: import('../client/ssh').SshTunnel | undefined;
    if ('ssh' in endpoint) {
      const { formatSsh, SshTunnel } = await import('../client/ssh');
      tunnel = new SshTunnel(endpoint.ssh);
      await tunnel.listen();
      client = new EngineClient({ endpoint: { socketPath: tunnel.socketPath }, apiVersion: process.env.DOCKER_API_VERSION || undefined, label: formatSsh(endpoint.ssh) });
    } else {
      client = new EngineClient({ endpoint, apiVersion: process.env.DOCKER_API_VERSION || undefined });
    }
    try {
      await client.connect();
      return client;
    } catch (e) {
      if (tunnel?.failure) throw new StatusError(1, tunnel.failure);
      // a socket the user may not open is a permission problem, not a missing daemon; a non-root user may start only
      // their own rootless daemon (startDaemon refuses otherwise)
      if (explicit || !(e instanceof ConnectError) || e.code === 'EACCES') throw e;
    }
    await startDaemon(client, ConnectError);
    return client;
  }
}

/** Starts berthd (the bin/berthd launcher of this install) detached, then waits for /_ping to answer. */
async function startDaemon(client: EngineClient, ConnectError: typeof import('../client/engine').ConnectError): Promise<void> {
  const [{ spawn }, fs, path] = await Promise.all([import('node:child_process'), import('node:fs'), import('node:path')]);
  const daemon = path.resolve(__dirname, '../../../bin/berthd');
  if (!fs.existsSync(daemon)) throw new ConnectError(client.host, 'ENOENT');
  const { rootlessPaths } = await import('../common/rootless');
  // A non-root user's daemon is rootless and logs in its exec root (root's goes to /var/log).
  const rootless = process.getuid?.() !== 0 ? rootlessPaths(process.env, (await import('node:os')).homedir()) : undefined;
  if (process.getuid?.() !== 0 && !rootless) throw new Error(`${client.host}: no daemon, and XDG_RUNTIME_DIR is not set to start your rootless one (see berth system rootless-check)`);
  const logFile = rootless ? path.join(rootless.execRoot, 'berthd.log') : DAEMON_LOG;
  fs.mkdirSync(path.dirname(logFile), { recursive: true, mode: 0o700 });
  // berthd writes (and rotates) its own log; stderr catches what is not logged (a crash's stack trace).
  const log = fs.openSync(logFile, 'a');
  const child = spawn(daemon, ['--log-file', logFile], { detached: true, stdio: ['ignore', 'ignore', log] });
  fs.closeSync(log);
  let exited: number | null = null;
  child.on('exit', (code) => (exited = code ?? 1));
  child.unref();
  const deadline = Date.now() + START_WAIT_MS;
  for (;;) {
    try {
      await client.connect();
      return;
    } catch (e) {
      if (!(e instanceof ConnectError)) throw e;
      if (exited !== null || Date.now() > deadline) {
        const why = exited !== null ? `berthd exited with status ${exited}` : 'berthd did not answer within 10s';
        throw new Error(`${e.message} (${why}; see ${logFile})`);
      }
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}
