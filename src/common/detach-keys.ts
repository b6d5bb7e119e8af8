/**
 * Detach keys (docker's `--detach-keys`, moby/term ToBytes and EscapeProxy), shared by the CLI, which detaches on
 * its side, and the daemon, which watches the stdin of TTY attach and exec streams for clients that do not.
 */

export const DEFAULT_DETACH_KEYS = 'ctrl-p,ctrl-q';

const CTRL_PUNCT: Record<string, number> = { '@': 0, '[': 27, '\\': 28, ']': 29, '^': 30, '_': 31 };

/** term.ToBytes: "ctrl-p,ctrl-q" -> [0x10, 0x11]; single characters stand for themselves. */
export function detachKeyBytes(keys: string): Buffer {
  const out: number[] = [];
  for (const key of keys.split(',')) {
    if (key.length === 1) {
      out.push(key.charCodeAt(0));
      continue;
    }
    const m = /^ctrl-(.)$/.exec(key);
    const c = m?.[1];
    if (c !== undefined && c >= 'a' && c <= 'z') out.push(c.charCodeAt(0) - 96);
    else if (c !== undefined && c in CTRL_PUNCT) out.push(CTRL_PUNCT[c]);
    else throw new Error(`Unknown character: '${key}'`);
  }
  return Buffer.from(out);
}

/**
 * term.EscapeProxy: passes input through until the escape sequence has been typed in full; a partial match is held
 * back and released if the next byte breaks it. Unlike docker's proxy, it also matches a sequence that arrives in
 * one read (tmux send-keys, a fast paste), so detaching does not depend on how the terminal chunks keystrokes.
 */
export class EscapeScanner {
  private matched = 0;
  constructor(private readonly keys: Buffer) {}

  /** Returns [bytes to forward, detached?]; after a detach the rest of the chunk is dropped. */
  feed(chunk: Buffer): [Buffer, boolean] {
    const out: number[] = [];
    for (const b of chunk) {
      if (this.keys.length && b === this.keys[this.matched]) {
        this.matched++;
        if (this.matched === this.keys.length) return [Buffer.from(out), true];
        continue;
      }
      if (this.matched) out.push(...this.keys.subarray(0, this.matched));
      this.matched = 0;
      if (this.keys.length && b === this.keys[0]) this.matched = 1;
      else out.push(b);
    }
    return [Buffer.from(out), false];
  }
}
