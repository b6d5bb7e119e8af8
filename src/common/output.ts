/** Where a container's or exec session's output goes; the API edge frames it (api/stream.ts `outputSink`). */

export type StreamId = 'stdout' | 'stderr';

/** Framed by the API edge unless the container has a TTY. */
export interface OutputSink {
  write(stream: StreamId, data: Buffer): void;
  end(): void;
}
