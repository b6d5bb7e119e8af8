/**
 * The build's NDJSON messages (docker's jsonmessage: stream, aux, errorDetail) with one channel per stage: stages
 * built in parallel write live when all earlier stages are done, and are buffered until then, so the output reads
 * as if they had run one after the other.
 */
export interface BuildMessage {
  stream?: string;
  aux?: unknown;
  error?: string;
  errorDetail?: { message: string; code?: number };
  /** Not on the classic wire: what a step header or result means, for BuildKit progress (api: version=2). */
  trace?: StepTrace;
}

/**
 * `step`: this text starts a step, named as BuildKit names it ("[2/3] RUN ..."); `metadata`: it starts a step that
 * only changes the image config (no BuildKit vertex); `cached`: the step was a cache hit; `classic`: a line only the
 * classic builder prints.
 */
export interface StepTrace {
  step?: string;
  metadata?: true;
  cached?: true;
  classic?: true;
}

export type Emit = (m: BuildMessage) => void;
export type Write = (text: string, trace?: StepTrace) => void;

export class OrderedOutput {
  private current = 0;
  private readonly buffered = new Map<number, BuildMessage[]>();
  private readonly closed = new Set<number>();

  constructor(private readonly emit: Emit, private readonly quiet = false) {}

  /** A channel's writer; channels are numbered 0.. in the order their output should appear. */
  channel(n: number): { write: Write; close: () => void } {
    return {
      write: (text, trace) => this.push(n, { stream: text, ...(trace ? { trace } : {}) }),
      close: () => this.close(n),
    };
  }

  private push(n: number, m: BuildMessage): void {
    if (this.quiet) return;
    if (n === this.current) this.emit(m);
    else this.buffered.set(n, [...(this.buffered.get(n) ?? []), m]);
  }

  private close(n: number): void {
    this.closed.add(n);
    while (this.closed.has(this.current)) {
      this.current++;
      for (const m of this.buffered.get(this.current) ?? []) this.emit(m);
      this.buffered.delete(this.current);
    }
  }

  /** Flush whatever is buffered (after a failure, so the output that led to it is seen). */
  flushAll(): void {
    for (const n of [...this.buffered.keys()].sort((a, b) => a - b)) for (const m of this.buffered.get(n) ?? []) this.emit(m);
    this.buffered.clear();
  }
}
