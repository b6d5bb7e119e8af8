/**
 * The engine a compatibility test talks to: its own berthd, or another engine named by
 * `BERTH_COMPAT_DOCKER_HOST=unix:///path` (Debian's Docker), which proves the test checks Docker's behaviour and
 * not Berth's. Against another engine a test touches only what it made: everything carries the label
 * `berth.test=compat`, removed at stop.
 */
import { spawnSync } from 'node:child_process';
import { after, before } from 'node:test';
import Docker from 'dockerode';
import { busyboxTar, TestDaemon, type RunResult } from './daemon';

export const TEST_LABEL = 'berth.test=compat';

export interface Engine {
  readonly socket: string;
  readonly env: NodeJS.ProcessEnv;
  /** True when the engine is not Berth (a deliberate Berth-only check is skipped then). */
  readonly external: boolean;
  start(): Promise<void>;
  importBusybox(): void;
  docker(args: string[], opts?: { input?: string | Buffer; timeout?: number }): RunResult;
  stop(): Promise<void>;
}

class ExternalEngine implements Engine {
  readonly external = true;
  readonly socket: string;
  constructor(host: string) {
    if (!host.startsWith('unix://')) throw new Error(`BERTH_COMPAT_DOCKER_HOST must be unix://…, not ${host}`);
    this.socket = host.slice('unix://'.length);
  }
  get env(): NodeJS.ProcessEnv {
    return { ...process.env, DOCKER_HOST: `unix://${this.socket}` };
  }
  async start(): Promise<void> {}
  importBusybox(): void {
    if (this.docker(['image', 'inspect', 'busybox:latest']).status === 0) return;
    const r = this.docker(['import', '--change', 'CMD ["sh"]', busyboxTar(), 'busybox:latest']);
    if (r.status !== 0) throw new Error(`import busybox failed: ${r.stderr}`);
  }
  docker(args: string[], opts: { input?: string | Buffer; timeout?: number } = {}): RunResult {
    const r = spawnSync('docker', args, { env: this.env, input: opts.input, timeout: opts.timeout ?? 60_000 });
    return { status: r.status ?? -1, stdout: r.stdout?.toString() ?? '', stderr: r.stderr?.toString() ?? '' };
  }
  async stop(): Promise<void> {
    const ids = this.docker(['ps', '-aq', '--filter', `label=${TEST_LABEL}`]).stdout.split('\n').filter(Boolean);
    if (ids.length) this.docker(['rm', '-f', '-v', ...ids]);
  }
}

class OwnBerth extends TestDaemon implements Engine {
  readonly external = false;
}

export function compatEngine(name: string): Engine {
  const host = process.env.BERTH_COMPAT_DOCKER_HOST;
  return host ? new ExternalEngine(host) : new OwnBerth(name);
}

/**
 * One compat test file's engine and dockerode client: started with busybox before the file's tests, stopped after
 * them (an external engine loses the file's labelled containers), then `cleanup` removes what else the file made.
 */
export function fileEngine(name: string, cleanup: () => void = () => undefined): { e: Engine; docker: Docker } {
  const e = compatEngine(name);
  before(async () => {
    await e.start();
    e.importBusybox();
  });
  after(async () => {
    await e.stop();
    cleanup();
  });
  return { e, docker: new Docker({ socketPath: e.socket }) };
}
