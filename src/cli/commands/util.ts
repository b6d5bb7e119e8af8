/** Small helpers shared by commands. */
import type { FlagSpec } from '../flags';
import { StatusError } from '../cli';

/** docker's filters.Args as sent in ?filters=: {"status":{"exited":true}}. Undefined when there are none. */
export function filtersQuery(pairs: string[]): string | undefined {
  if (pairs.length === 0) return undefined;
  const out: Record<string, Record<string, boolean>> = {};
  for (const p of pairs) {
    const i = p.indexOf('=');
    if (i < 0) throw new StatusError(125, `invalid argument "${p}" for "-f, --filter" flag: bad format of filter (expected name=value)`);
    const k = p.slice(0, i).trim().toLowerCase();
    (out[k] ??= {})[p.slice(i + 1)] = true;
  }
  return JSON.stringify(out);
}

/** `--label k=v` / `--opt k=v` lists into a map (a bare key gets an empty value). */
export function keyValues(pairs: string[]): Record<string, string> {
  const m: Record<string, string> = {};
  for (const p of pairs) {
    const i = p.indexOf('=');
    if (i < 0) m[p] = '';
    else m[p.slice(0, i)] = p.slice(i + 1);
  }
  return m;
}

/** docker's --format flag of the list commands. */
export const formatFlag: FlagSpec = {
  name: 'format', kind: 'string', usage: 'Format output using a custom template:\n' +
    "'table':            Print output in table format with column headers (default)\n" +
    "'table TEMPLATE':   Print output in table format using the given Go template\n" +
    "'json':             Print in JSON format\n" +
    "'TEMPLATE':         Print output using the given Go template.",
};

export const filterFlag: FlagSpec = { name: 'filter', short: 'f', kind: 'list', varname: 'filter', usage: 'Filter output based on conditions provided' };

/** Returned by an operation of forEachName when it has reported its own outcome (nothing to print). */
export const SKIP = Symbol('skip');

/**
 * Runs `op` for every name concurrently (docker's parallelOperation), then prints each name that succeeded
 * in argument order and fails with the joined error messages (exit status 1).
 */
export async function forEachName(names: string[], op: (name: string) => Promise<unknown>, print: (name: string) => void): Promise<void> {
  const results = await Promise.allSettled(names.map((n) => op(n)));
  const errors: string[] = [];
  results.forEach((r, i) => {
    if (r.status === 'fulfilled') {
      if (r.value !== SKIP) print(names[i]);
    }
    else errors.push((r.reason as Error).message);
  });
  if (errors.length) throw new StatusError(1, errors.join('\n'));
}

/** Asks a y/N question on stdin (docker's PromptForConfirmation); a closed stdin means no. */
export async function confirm(question: string): Promise<boolean> {
  process.stdout.write(`${question} [y/N] `);
  const answer = await new Promise<string>((resolve) => {
    let buf = '';
    const onData = (c: Buffer): void => {
      buf += c.toString();
      if (buf.includes('\n')) done();
    };
    const done = (): void => {
      process.stdin.off('data', onData);
      process.stdin.pause();
      resolve(buf.split('\n')[0].trim());
    };
    process.stdin.on('data', onData);
    process.stdin.once('end', done);
  });
  return /^y(es)?$/i.test(answer);
}

/** `--time`/`-t` in seconds for stop/restart, sent only when given (the daemon applies its default). */
export const timeoutFlag: FlagSpec = { name: 'timeout', short: 't', kind: 'int', usage: 'Seconds to wait before killing the container' };
export const signalFlag = (usage: string): FlagSpec => ({ name: 'signal', short: 's', kind: 'string', usage });
