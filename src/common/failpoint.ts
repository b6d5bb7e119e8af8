/**
 * Crash points for the fault suite: with BERTH_FAILPOINTS=<name>[,<name>…] in its environment, berthd kills itself
 * (SIGKILL, as a power cut would) on reaching a named point, so a test can stop an operation at an exact step and
 * check what the next start makes of it. Unset (always, outside tests), a failpoint is one Set lookup.
 */
const armed = new Set((process.env.BERTH_FAILPOINTS ?? '').split(',').filter(Boolean));

export function failpoint(name: string): void {
  if (armed.has(name)) process.kill(process.pid, 'SIGKILL');
}
