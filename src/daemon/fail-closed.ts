/**
 * Fail closed: an exception nothing caught, or a rejection nothing handled, means some operation stopped half way
 * and berthd's view of its records, mounts and networks may no longer be true. Going on would act on that unknown
 * state, so the daemon logs the error and exits non-zero; containers keep running under conmon and the next start
 * reconciles them with the records, as after a crash. Ordinary request failures (a client gone mid-stream, EPIPE)
 * are handled where they happen and never get here.
 */
import { log } from '../common/log';

/** dockerd exits 1 on a fatal error too. */
export const FATAL_EXIT_CODE = 1;

export function installFailClosed(proc: NodeJS.Process = process): void {
  const die = (kind: string, e: unknown): void => {
    log.error(`${kind}: exiting so that the next start reconciles; containers keep running`, {
      error: String((e as Error)?.stack ?? e),
    });
    proc.exit(FATAL_EXIT_CODE);
  };
  proc.on('uncaughtException', (e) => die('uncaught exception', e));
  proc.on('unhandledRejection', (e) => die('unhandled rejection', e));
}
