/**
 * Restart policies as docker's restartmanager: `no`, `on-failure[:N]`, `always`, `unless-stopped`; back-off starts
 * at 100 ms and doubles per restart up to 1 minute, and goes back to 100 ms once a run lasted 10 s. The back-off is
 * in memory (as docker's); RestartCount and the "manually stopped" mark live in the container record.
 */
import { badRequest } from '../../common/errors';

export interface RestartPolicy {
  Name?: string;
  MaximumRetryCount?: number;
}

const FIRST_DELAY_MS = 100;
const MAX_DELAY_MS = 60_000;
const RESET_AFTER_MS = 10_000;

/** The daemon's checks of HostConfig.RestartPolicy at create (docker's wording). */
export function validateRestartPolicy(p: RestartPolicy | undefined, autoRemove: boolean): void {
  const name = p?.Name ?? '';
  const max = p?.MaximumRetryCount ?? 0;
  if (!['', 'no', 'on-failure', 'always', 'unless-stopped'].includes(name)) throw badRequest(`invalid restart policy '${name}'`);
  if (max < 0) throw badRequest('invalid restart policy: maximum retry count cannot be negative');
  if (max > 0 && name !== 'on-failure') throw badRequest(`invalid restart policy: maximum retry count can only be used with 'on-failure'`);
  if (autoRemove && name !== '' && name !== 'no') throw badRequest('conflicting options: cannot specify both --restart and --rm');
}

export interface ExitFacts {
  exitCode: number;
  /** `stop`/`kill` by a user (docker's HasBeenManuallyStopped). */
  manuallyStopped: boolean;
  /** Restarts done so far (the record's RestartCount). */
  restartCount: number;
}

/** docker's ShouldRestart decision, without the back-off. */
export function shouldRestart(p: RestartPolicy | undefined, f: ExitFacts): boolean {
  switch (p?.Name) {
    case 'always':
      return !f.manuallyStopped;
    case 'unless-stopped':
      return !f.manuallyStopped;
    case 'on-failure': {
      const max = p.MaximumRetryCount ?? 0;
      return f.exitCode !== 0 && !f.manuallyStopped && (max === 0 || f.restartCount < max);
    }
    default:
      return false;
  }
}

/**
 * At daemon start (docker's restore): `always` comes back even after a manual stop, `unless-stopped` only if it was
 * not stopped by hand, `on-failure` if it failed and has retries left.
 */
export function restartsAtBoot(p: RestartPolicy | undefined, f: ExitFacts): boolean {
  if (p?.Name === 'always') return true;
  return shouldRestart(p, f);
}

/** The next delay: 100 ms, doubling, capped at 1 min; reset when the run that just ended lasted 10 s or more. */
export function nextDelay(previousMs: number, ranForMs: number): number {
  if (ranForMs >= RESET_AFTER_MS || previousMs === 0) return FIRST_DELAY_MS;
  return Math.min(previousMs * 2, MAX_DELAY_MS);
}

/** Per-container back-off state and the pending restart timer. */
export class RestartScheduler {
  private readonly delays = new Map<string, number>();
  private readonly timers = new Map<string, NodeJS.Timeout>();

  /** Schedule `run` after the back-off for this container; returns the delay used. */
  schedule(id: string, ranForMs: number, run: () => void): number {
    this.cancel(id);
    const delay = nextDelay(this.delays.get(id) ?? 0, ranForMs);
    this.delays.set(id, delay);
    const t = setTimeout(() => {
      this.timers.delete(id);
      run();
    }, delay);
    t.unref();
    this.timers.set(id, t);
    return delay;
  }

  pending(id: string): boolean {
    return this.timers.has(id);
  }

  /** Drop a pending restart (stop, kill, rm, a user's start). Returns true if one was pending. */
  cancel(id: string): boolean {
    const t = this.timers.get(id);
    if (!t) return false;
    clearTimeout(t);
    this.timers.delete(id);
    return true;
  }

  /** Forget the back-off (a user's start, or removal). */
  reset(id: string): void {
    this.cancel(id);
    this.delays.delete(id);
  }
}
