/**
 * The local terminal during `-it` sessions: raw mode that is always restored (normal end, error, process exit,
 * a fatal signal), the window size, and following resizes (SIGWINCH) with POST <base>/resize.
 */
import { constants } from 'node:os';
import type { EngineClient } from '../client/engine';

/** [rows, cols] of the terminal on stdout, or [0, 0] when stdout is not one. */
export function terminalSize(): [number, number] {
  if (!process.stdout.isTTY) return [0, 0];
  const [cols, rows] = process.stdout.getWindowSize();
  return [rows, cols];
}

/** Signals that end the CLI by default; in raw mode they only come from outside (kill), not from the keyboard. */
const FATAL = ['SIGTERM', 'SIGHUP', 'SIGINT', 'SIGQUIT'] as const;

/**
 * Puts stdin in raw mode (keystrokes such as Ctrl-C go to the container as bytes) when it is a terminal, and
 * returns the restore function (idempotent). Restores on process exit too, and on a fatal signal that nothing else
 * handles (--sig-proxy handlers take precedence, as docker's CLI keeps running then).
 */
export function enterRawMode(): () => void {
  const stdin = process.stdin;
  if (!stdin.isTTY) return () => {};
  stdin.setRawMode(true);
  let restored = false;
  const onSignal = (sig: NodeJS.Signals): void => {
    if (process.listenerCount(sig) > 1) return; // someone else (the signal proxy) owns it
    restore();
    process.exit(128 + constants.signals[sig]);
  };
  const restore = (): void => {
    if (restored) return;
    restored = true;
    process.off('exit', restore);
    for (const s of FATAL) process.off(s, onSignal);
    // the terminal may be gone (SIGHUP): nothing left to restore then
    try {
      stdin.setRawMode(false);
    } catch {
      /* not a terminal any more */
    }
  };
  process.on('exit', restore);
  for (const s of FATAL) process.on(s, onSignal);
  return restore;
}

/**
 * POSTs <base>/resize with the terminal size now and on every SIGWINCH; returns the unsubscribe. With `nudge`
 * (docker attach) it first sends rows+1, cols+1 so that a re-attached shell redraws its prompt.
 */
export function followResize(client: EngineClient, base: string, nudge = false): () => void {
  if (!process.stdout.isTTY) return () => {};
  const send = (h: number, w: number): Promise<unknown> => client.request('POST', `${base}/resize`, { query: { h, w } }).catch(() => {});
  const resize = (): void => {
    const [h, w] = terminalSize();
    if (h > 0 && w > 0) void send(h, w);
  };
  const [h, w] = terminalSize();
  if (nudge && h > 0 && w > 0) void send(h + 1, w + 1).then(resize);
  else resize();
  process.on('SIGWINCH', resize);
  return () => void process.off('SIGWINCH', resize);
}
