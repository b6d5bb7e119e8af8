/** Signal names and numbers as Docker reads them (moby/sys/signal: ParseSignal, ValidSignalForPlatform on Linux). */
import { constants } from 'node:os';
import { badRequest } from './errors';

const SIGRTMIN = 34;
const SIGRTMAX = 64;

/** Docker's Linux SignalMap: the classic signals, CLD, and RTMIN, RTMIN+1…+15, RTMAX-14…-1, RTMAX. */
const SIGNALS: ReadonlyMap<string, number> = new Map<string, number>([
  ...Object.entries(constants.signals)
    .filter(([name, n]) => n < SIGRTMIN && name !== 'SIGUNUSED')
    .map(([name, n]): [string, number] => [name.slice(3), n]),
  ['CLD', constants.signals.SIGCHLD],
  ['RTMIN', SIGRTMIN],
  ...Array.from({ length: 15 }, (_, i): [string, number] => [`RTMIN+${i + 1}`, SIGRTMIN + i + 1]),
  ...Array.from({ length: 14 }, (_, i): [string, number] => [`RTMAX-${14 - i}`, SIGRTMAX - 14 + i]),
  ['RTMAX', SIGRTMAX],
]);
const NUMBERS = new Set(SIGNALS.values());

/** A signal given by number or name (any case, with or without SIG) → its number; 400 in Docker 24's words. */
export function parseSignal(raw: string): number {
  const n = /^[+-]?\d+$/.test(raw) ? Number(raw) : SIGNALS.get(raw.toUpperCase().replace(/^SIG/, ''));
  if (n === undefined || n === 0) throw badRequest(`invalid signal: ${raw}`);
  if (!NUMBERS.has(n)) throw badRequest(`the linux daemon does not support signal ${n}`);
  return n;
}
