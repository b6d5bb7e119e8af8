/**
 * Health checks as docker runs them (daemon/health.go): the image's HEALTHCHECK or --health-* run inside the
 * container every interval, as an exec; State.Health {Status, FailingStreak, Log} with the last 5 results; failures
 * during the start period do not count until a probe has passed; `health_status: <status>` events on change.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { log } from '../../common/log';
import { shortId } from '../../common/ids';
import type { ContainerRuntime } from '../../runtime/types';
import type { OciProcess } from '../../spec/oci';
import type { ContainerRecord } from './record';

export type HealthStatus = 'starting' | 'healthy' | 'unhealthy';

export interface HealthResult {
  Start: string;
  End: string;
  ExitCode: number;
  Output: string;
}

export interface Health {
  Status: HealthStatus;
  FailingStreak: number;
  Log: HealthResult[];
}

export interface HealthConfig {
  Test?: string[];
  Interval?: number;
  Timeout?: number;
  Retries?: number;
  StartPeriod?: number;
}

const NS_PER_MS = 1_000_000;
const DEFAULT_INTERVAL_MS = 30_000;
const DEFAULT_TIMEOUT_MS = 30_000;
const DEFAULT_RETRIES = 3;
const MAX_LOG_ENTRIES = 5;
const MAX_OUTPUT = 4096;

/** The probe's argv, or undefined when there is no check (none configured, or `NONE`). */
export function probeArgs(hc: HealthConfig | undefined): string[] | undefined {
  const test = hc?.Test;
  if (!test?.length) return undefined;
  switch (test[0]) {
    case 'NONE':
      return undefined;
    case 'CMD':
      return test.length > 1 ? test.slice(1) : undefined;
    case 'CMD-SHELL':
      return ['/bin/sh', '-c', test.slice(1).join(' ')];
    default:
      return undefined;
  }
}

export interface Timing {
  intervalMs: number;
  timeoutMs: number;
  retries: number;
  startPeriodMs: number;
}

export function timing(hc: HealthConfig): Timing {
  const ms = (ns: number | undefined, dflt: number) => (ns && ns > 0 ? ns / NS_PER_MS : dflt);
  return {
    intervalMs: ms(hc.Interval, DEFAULT_INTERVAL_MS),
    timeoutMs: ms(hc.Timeout, DEFAULT_TIMEOUT_MS),
    retries: hc.Retries && hc.Retries > 0 ? hc.Retries : DEFAULT_RETRIES,
    startPeriodMs: ms(hc.StartPeriod, 0),
  };
}

/** Fold one probe result into the health state (pure: docker's handleProbeResult). */
export function applyResult(h: Health, r: HealthResult, t: Timing, startedAt: string): Health {
  const next: Health = { ...h, Log: [...h.Log, r].slice(-MAX_LOG_ENTRIES) };
  if (r.ExitCode === 0) return { ...next, Status: 'healthy', FailingStreak: 0 };
  const inStartPeriod = h.Status === 'starting' && Date.parse(r.Start) - Date.parse(startedAt) < t.startPeriodMs;
  if (inStartPeriod) return next;
  const streak = h.FailingStreak + 1;
  return { ...next, FailingStreak: streak, Status: streak >= t.retries ? 'unhealthy' : h.Status };
}

/** The health check of a container: its merged config (create body over image), or undefined. */
export const healthConfigOf = (rec: ContainerRecord): HealthConfig | undefined => rec.Spec.healthcheck;

/** Runs the probes of running containers. `onChange` persists the record and publishes the event. */
export class HealthMonitor {
  private readonly timers = new Map<string, NodeJS.Timeout>();

  constructor(
    private readonly runtime: ContainerRuntime,
    private readonly bundleDir: (id: string) => string,
    private readonly onResult: (rec: ContainerRecord, previous: HealthStatus) => void,
  ) {}

  /** Start probing (container just started). Resets the status to `starting` as docker does. */
  start(rec: ContainerRecord): void {
    this.stop(rec.Id);
    const hc = healthConfigOf(rec);
    const args = probeArgs(hc);
    if (!args || !hc) return;
    rec.State.Health = { Status: 'starting', FailingStreak: 0, Log: rec.State.Health?.Log ?? [] };
    this.arm(rec, args, timing(hc));
  }

  /** Stop probing (exit, stop, rm); a stopped container's health reads `unhealthy`, as docker reports it. */
  stop(id: string, rec?: ContainerRecord): void {
    const t = this.timers.get(id);
    if (t) clearTimeout(t);
    this.timers.delete(id);
    if (rec?.State.Health) rec.State.Health.Status = 'unhealthy';
  }

  private arm(rec: ContainerRecord, args: string[], t: Timing): void {
    const timer = setTimeout(() => {
      void this.probe(rec, args, t).then((r) => {
        if (!this.timers.has(rec.Id) || !rec.State.Running) return;
        const before = rec.State.Health ?? { Status: 'starting', FailingStreak: 0, Log: [] };
        rec.State.Health = applyResult(before, r, t, rec.State.StartedAt);
        this.onResult(rec, before.Status);
        this.arm(rec, args, t);
      });
    }, t.intervalMs);
    timer.unref();
    this.timers.set(rec.Id, timer);
  }

  /** One probe: exec the test in the container, collect up to 4 KiB of output, time out as docker (exit -1). */
  async probe(rec: ContainerRecord, args: string[], t: Timing): Promise<HealthResult> {
    const start = new Date();
    const done = (code: number, output: string): HealthResult => ({
      Start: start.toISOString(), End: new Date().toISOString(), ExitCode: code, Output: output.slice(0, MAX_OUTPUT),
    });
    let handle;
    try {
      handle = await this.runtime.exec({ id: rec.Id, runtime: rec.Runtime, process: this.processFor(rec, args), tty: false, stdin: false, attach: true });
    } catch (e) {
      return done(-1, (e as Error).message);
    }
    const chunks: Buffer[] = [];
    let size = 0;
    handle.attach?.on('data', (c: { data: Buffer }) => {
      if (size < MAX_OUTPUT) chunks.push(c.data);
      size += c.data.length;
    });
    handle.attach?.on('error', () => undefined);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), t.timeoutMs)));
    const code = await Promise.race([handle.exited.catch(() => -1), timedOut]);
    clearTimeout(timer);
    if (code === 'timeout') {
      try {
        process.kill(handle.pid, 'SIGKILL');
      } catch {
        // already gone
      }
      handle.attach?.destroy();
      return done(-1, `Health check exceeded timeout (${Math.round(t.timeoutMs / 1000)}s)`);
    }
    if (handle.attach && !handle.attach.readableEnded) await new Promise((r) => handle.attach!.once('close', r).once('end', r));
    log.debug('health probe', { id: shortId(rec.Id), code });
    return done(code, Buffer.concat(chunks).toString('utf8'));
  }

  /** The container's own process (user, env, caps, cwd) with the probe's argv and no terminal. */
  private processFor(rec: ContainerRecord, args: string[]): OciProcess {
    const spec = JSON.parse(fs.readFileSync(path.join(this.bundleDir(rec.Id), 'config.json'), 'utf8')) as { process: OciProcess };
    return { ...spec.process, terminal: false, consoleSize: undefined, args };
  }
}
