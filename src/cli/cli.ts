/** What every command gets: its name for messages, output streams, and a connected EngineClient. */
import type { EngineClient } from '../client/engine';
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

  /** `path` is the command as typed ("berth run", "berth container run"). */
  constructor(readonly path: string, private readonly hostFlag?: string) {}

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

  private async connect(): Promise<EngineClient> {
    // loaded here, not at the top: node:http is most of a command's start-up and --version/--help need none of it
    const { ConnectError, EngineClient, resolveHost } = await import('../client/engine');
    const { socketPath, explicit } = resolveHost(process.env, this.hostFlag);
    const client = new EngineClient({ socketPath, apiVersion: process.env.DOCKER_API_VERSION || undefined });
    try {
      await client.connect();
      return client;
    } catch (e) {
      if (explicit || !(e instanceof ConnectError)) throw e;
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
  const log = fs.openSync(DAEMON_LOG, 'a');
  const child = spawn(daemon, [], { detached: true, stdio: ['ignore', log, log] });
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
        throw new Error(`${e.message} (${why}; see ${DAEMON_LOG})`);
      }
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}
