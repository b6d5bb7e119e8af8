/**
 * BuildKit's progress views for `berth build`, read from the daemon's BuildKit stream (version=2). `plain`: a number
 * per step (`#3 [2/2] RUN make`), its output with the seconds since it started, `CACHED`, `DONE 0.4s` or
 * `ERROR: …`, as the docker CLI prints a BuildKit build on a non-terminal; `tty`: the view redrawn in place.
 */
import { decodeStatus, type TraceVertex } from '../../build/trace';
import { handledControl, type JsonMessage } from './progress';

/** The BuildKit status a message carries; any other message goes to handledControl (errors throw, the id to onAux). */
function traceOf(m: JsonMessage, onAux: (aux: unknown) => void): ReturnType<typeof decodeStatus> | undefined {
  if (m.id === 'moby.buildkit.trace' && typeof m.aux === 'string') return decodeStatus(Buffer.from(m.aux, 'base64'));
  handledControl(m, onAux);
  return undefined;
}

export class PlainProgress {
  private readonly numbers = new Map<string, number>();
  private readonly names = new Map<string, string>();
  private readonly started = new Map<string, Date>();
  private readonly ended = new Set<string>();
  private last?: string;

  constructor(private readonly out: NodeJS.WritableStream) {}

  message(m: JsonMessage, onAux: (aux: unknown) => void): void {
    const status = traceOf(m, onAux);
    if (!status) return;
    for (const v of status.vertexes) this.vertex(v);
    for (const l of status.logs) {
      const n = this.header(l.vertex);
      const since = (l.at.getTime() - (this.started.get(l.vertex)?.getTime() ?? l.at.getTime())) / 1000;
      for (const line of l.data.toString().replace(/\n$/, '').split('\n')) this.out.write(`#${n} ${since.toFixed(3)} ${line}\n`);
    }
  }

  private vertex(v: TraceVertex): void {
    const n = this.header(v.digest, v.name);
    if (v.started && !this.started.has(v.digest)) this.started.set(v.digest, v.started);
    if (!v.completed || this.ended.has(v.digest)) return;
    this.ended.add(v.digest);
    if (v.error) this.out.write(`#${n} ERROR: ${v.error}\n`);
    else if (v.cached) this.out.write(`#${n} CACHED\n`);
    else this.out.write(`#${n} DONE ${((v.completed.getTime() - (this.started.get(v.digest) ?? v.completed).getTime()) / 1000).toFixed(1)}s\n`);
  }

  /** The vertex's number; its name line first, and again when another vertex printed since (as BuildKit does). */
  private header(digest: string, name?: string): number {
    if (name !== undefined && !this.names.has(digest)) this.names.set(digest, name);
    let n = this.numbers.get(digest);
    if (n === undefined) {
      n = this.numbers.size + 1;
      this.numbers.set(digest, n);
    } else if (this.last === digest) {
      return n;
    }
    this.out.write(`${this.last === undefined ? '' : '\n'}#${n} ${this.names.get(digest) ?? ''}\n`);
    this.last = digest;
    return n;
  }
}

interface StepView {
  name: string;
  started?: Date;
  completed?: Date;
  cached: boolean;
  error?: string;
  /** The last lines of its output (shown while it runs). */
  tail: string[];
}

const TAIL_LINES = 6;

/**
 * One frame of BuildKit's terminal view (pure): "[+] Building 1.2s (2/4)", a line per step with its time, the last
 * lines of a running step's output, "FINISHED" at the end.
 */
export function renderFrame(steps: StepView[], elapsed: number, now: Date, done: boolean, width: number): string[] {
  const finished = steps.filter((s) => s.completed).length;
  const lines = [`[+] Building ${elapsed.toFixed(1)}s (${finished}/${steps.length})${done ? (steps.some((s) => s.error) ? ' FAILED' : ' FINISHED') : ''}`];
  for (const s of steps) {
    const secs = s.started ? ((s.completed ?? now).getTime() - s.started.getTime()) / 1000 : 0;
    const left = ` => ${s.error ? 'ERROR ' : s.cached ? 'CACHED ' : ''}${s.name}`;
    const right = `${Math.max(0, secs).toFixed(1)}s`;
    const room = Math.max(1, width - right.length - 1);
    lines.push(`${left.length > room ? left.slice(0, room - 3) + '...' : left.padEnd(room)} ${right}`);
    if (!s.completed || s.error) for (const t of s.tail) lines.push(` => => # ${t}`.slice(0, width));
  }
  return lines;
}

/** `--progress=tty`: the view redrawn in place (at most every 100 ms), as the docker CLI shows a BuildKit build. */
export class TtyProgress {
  private readonly steps = new Map<string, StepView>();
  private readonly t0 = Date.now();
  private drawn = 0;
  private timer?: NodeJS.Timeout;

  constructor(private readonly out: NodeJS.WriteStream) {}

  message(m: JsonMessage, onAux: (aux: unknown) => void): void {
    const status = traceOf(m, onAux);
    if (!status) return;
    for (const v of status.vertexes) {
      const s = this.steps.get(v.digest) ?? { name: v.name, cached: false, tail: [] };
      Object.assign(s, { started: s.started ?? v.started, completed: v.completed ?? s.completed, cached: s.cached || !!v.cached, error: v.error ?? s.error });
      this.steps.set(v.digest, s);
    }
    for (const l of status.logs) {
      const s = this.steps.get(l.vertex);
      if (s) s.tail = [...s.tail, ...l.data.toString().replace(/\n$/, '').split('\n')].slice(-TAIL_LINES);
    }
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      this.draw(false);
    }, 100);
  }

  /** The last frame (FINISHED or FAILED); call once the stream ended. */
  finish(): void {
    clearTimeout(this.timer);
    this.draw(true);
  }

  private draw(done: boolean): void {
    const lines = renderFrame([...this.steps.values()], (Date.now() - this.t0) / 1000, new Date(), done, this.out.columns || 80);
    // back to the frame's first line, then each line cleared and rewritten
    this.out.write((this.drawn ? `\x1b[${this.drawn}A` : '') + lines.map((l) => `\x1b[2K${l}\n`).join('') + '\x1b[J');
    this.drawn = lines.length;
  }
}
