/** docker's pull/push progress as NDJSON lines (jsonmessage.JSONMessage), with the daemon-side `progress` bar text. */
import { humanSize } from '../../common/units';

/** Progress updates per layer are sent at most this often (docker's progress reader does the same). */
const THROTTLE_MS = 100;

/** jsonmessage.JSONProgress.String() at the width the daemon uses (200 columns: the bar is included). */
export function progressBar(current: number, total?: number): string {
  const pad = (s: string): string => s.padStart(8);
  if (!total || total <= 0) return current > 0 ? pad(humanSize(current)) : '';
  const pct = Math.min(50, Math.floor(Math.floor((current / total) * 100) / 2));
  const bar = `[${'='.repeat(pct)}>${' '.repeat(50 - pct)}] `;
  return bar + (current > total ? pad(humanSize(current)) : `${pad(humanSize(current))}/${humanSize(total)}`);
}

/** First 12 hex of a digest: the id of a layer's progress line. */
export const shortHex = (digest: string): string => digest.replace(/^sha256:/, '').slice(0, 12);

export class ProgressStream {
  private readonly last = new Map<string, number>();

  /** `sink` receives one NDJSON line at a time. */
  constructor(private readonly sink: (line: string) => void) {}

  private write(m: Record<string, unknown>): void {
    this.sink(JSON.stringify(m) + '\n');
  }

  /** A line of its own (`Pulling from x` with id, `Digest: ...`, `Status: ...`). */
  message(status: string, id?: string): void {
    this.write(id ? { status, id } : { status });
  }

  /** A layer's state (`Preparing`, `Already exists`, `Pull complete` ...). */
  layer(id: string, status: string): void {
    this.write({ status, progressDetail: {}, id });
  }

  /** A byte count (`Downloading`, `Pushing`, `Extracting`); throttled unless `force`. */
  bytes(id: string, status: string, current: number, total: number | undefined, force = false): void {
    const now = Date.now();
    if (!force && now - (this.last.get(id) ?? 0) < THROTTLE_MS) return;
    this.last.set(id, now);
    this.write({ status, progressDetail: total ? { current, total } : { current }, progress: progressBar(current, total), id });
  }

  aux(value: unknown): void {
    this.write({ progressDetail: {}, aux: value });
  }

  error(message: string): void {
    this.write({ errorDetail: { message }, error: message });
  }
}
