/**
 * `berth build --progress=plain`: BuildKit's plain progress, read from the daemon's BuildKit stream (version=2):
 * a number per step (`#3 [2/2] RUN make`), its output with the seconds since it started, `CACHED`, `DONE 0.4s` or
 * `ERROR: …`, as the docker CLI prints a BuildKit build on a non-terminal.
 */
import { decodeStatus, type TraceVertex } from '../../build/trace';
import { handledControl, type JsonMessage } from './progress';

export class PlainProgress {
  private readonly numbers = new Map<string, number>();
  private readonly names = new Map<string, string>();
  private readonly started = new Map<string, Date>();
  private readonly ended = new Set<string>();
  private last?: string;

  constructor(private readonly out: NodeJS.WritableStream) {}

  /** A trace message is printed; anything else goes to handledControl (errors, the image id). */
  message(m: JsonMessage, onAux: (aux: unknown) => void): void {
    if (m.id !== 'moby.buildkit.trace' || typeof m.aux !== 'string') {
      handledControl(m, onAux);
      return;
    }
    const status = decodeStatus(Buffer.from(m.aux, 'base64'));
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
