/**
 * BuildKit's progress wire format for `version=2` builds: each update is a `moby.buildkit.v1.StatusResponse`
 * (protobuf, field numbers of BuildKit's control.proto) sent base64 in an `aux` of id `moby.buildkit.trace`, the
 * messages dockerd's BuildKit builder streams and BuildKit clients decode into their progress display.
 */
import * as crypto from 'node:crypto';
import * as protobuf from 'protobufjs';
import type { BuildMessage } from './output';

const Timestamp = new protobuf.Type('Timestamp').add(new protobuf.Field('seconds', 1, 'int64')).add(new protobuf.Field('nanos', 2, 'int32'));
const Vertex = new protobuf.Type('Vertex')
  .add(new protobuf.Field('digest', 1, 'string'))
  .add(new protobuf.Field('inputs', 2, 'string', 'repeated'))
  .add(new protobuf.Field('name', 3, 'string'))
  .add(new protobuf.Field('cached', 4, 'bool'))
  .add(new protobuf.Field('started', 5, 'Timestamp'))
  .add(new protobuf.Field('completed', 6, 'Timestamp'))
  .add(new protobuf.Field('error', 7, 'string'));
const VertexLog = new protobuf.Type('VertexLog')
  .add(new protobuf.Field('vertex', 1, 'string'))
  .add(new protobuf.Field('timestamp', 2, 'Timestamp'))
  .add(new protobuf.Field('stream', 3, 'int64'))
  .add(new protobuf.Field('msg', 4, 'bytes'));
const StatusResponse = new protobuf.Type('StatusResponse')
  .add(new protobuf.Field('vertexes', 1, 'Vertex', 'repeated'))
  .add(new protobuf.Field('logs', 3, 'VertexLog', 'repeated'));
new protobuf.Root().define('moby.buildkit.v1').add(Timestamp).add(Vertex).add(VertexLog).add(StatusResponse);

export interface TraceVertex {
  digest: string;
  name: string;
  inputs?: string[];
  cached?: boolean;
  started?: Date;
  completed?: Date;
  error?: string;
}

export interface TraceLog {
  vertex: string;
  /** 1 stdout, 2 stderr (BuildKit's numbering). */
  stream: 1 | 2;
  data: Buffer;
  at: Date;
}

const timestamp = (d: Date): { seconds: number; nanos: number } => ({ seconds: Math.floor(d.getTime() / 1000), nanos: (d.getTime() % 1000) * 1e6 });

/** One StatusResponse, protobuf-encoded. */
export function encodeStatus(update: { vertexes?: TraceVertex[]; logs?: TraceLog[] }): Buffer {
  const message = StatusResponse.fromObject({
    vertexes: (update.vertexes ?? []).map((v) => ({
      digest: v.digest, name: v.name, inputs: v.inputs ?? [], cached: !!v.cached, error: v.error ?? '',
      ...(v.started ? { started: timestamp(v.started) } : {}),
      ...(v.completed ? { completed: timestamp(v.completed) } : {}),
    })),
    logs: (update.logs ?? []).map((l) => ({ vertex: l.vertex, stream: l.stream, msg: l.data, timestamp: timestamp(l.at) })),
  });
  return Buffer.from(StatusResponse.encode(message).finish());
}

/** Decode one StatusResponse, as a BuildKit client reads it (the tests check the stream with it). */
export function decodeStatus(bytes: Buffer): { vertexes: TraceVertex[]; logs: TraceLog[] } {
  const o = StatusResponse.toObject(StatusResponse.decode(bytes), { longs: Number, defaults: true, arrays: true }) as {
    vertexes: { digest: string; name: string; inputs: string[]; cached: boolean; error: string; started?: { seconds: number; nanos: number }; completed?: { seconds: number; nanos: number } }[];
    logs: { vertex: string; stream: number; msg: Uint8Array; timestamp: { seconds: number; nanos: number } }[];
  };
  const date = (t?: { seconds: number; nanos: number }): Date | undefined => (t ? new Date(t.seconds * 1000 + Math.floor(t.nanos / 1e6)) : undefined);
  return {
    vertexes: o.vertexes.map((v) => ({
      digest: v.digest, name: v.name, inputs: v.inputs, cached: v.cached, started: date(v.started), completed: date(v.completed), error: v.error || undefined,
    })),
    logs: o.logs.map((l) => ({ vertex: l.vertex, stream: l.stream as 1 | 2, data: Buffer.from(l.msg), at: date(l.timestamp) as Date })),
  };
}

/** A vertex digest for a step: stable for the same build position and text, as BuildKit's are per LLB op. */
export function vertexDigest(...parts: string[]): string {
  return `sha256:${crypto.createHash('sha256').update(parts.join('\0')).digest('hex')}`;
}

/** A message on a version=2 build stream. */
export type TraceMessage = { id: 'moby.buildkit.trace'; aux: string } | { id: 'moby.image.id'; aux: unknown } | BuildMessage;

/**
 * Turns the builder's messages into BuildKit's stream: a vertex per step (started at its header, completed at the
 * next one, cached when it was a hit), the step's output as its logs, "exporting to image" and `moby.image.id` for
 * the result; errors pass as they are. Text after the result ("Successfully built") is the classic builder's only.
 */
export class TraceRenderer {
  private current?: TraceVertex;
  private serial = 0;
  private done = false;

  render(m: BuildMessage, now = new Date()): TraceMessage[] {
    const out: TraceMessage[] = [];
    const send = (update: { vertexes?: TraceVertex[]; logs?: TraceLog[] }): void => {
      out.push({ id: 'moby.buildkit.trace', aux: encodeStatus(update).toString('base64') });
    };
    const finish = (error?: string): void => {
      if (!this.current) return;
      send({ vertexes: [{ ...this.current, completed: now, ...(error ? { error } : {}) }] });
      this.current = undefined;
    };
    if (m.trace?.step) {
      finish();
      this.current = { digest: vertexDigest(String(this.serial++), m.trace.step), name: m.trace.step, started: now };
      send({ vertexes: [this.current] });
    } else if (m.trace?.metadata) {
      finish();
    } else if (m.trace?.cached) {
      if (this.current) this.current.cached = true;
    } else if (m.aux !== undefined) {
      finish();
      send({ vertexes: [{ digest: vertexDigest('export', String(this.serial)), name: 'exporting to image', started: now, completed: now }] });
      out.push({ id: 'moby.image.id', aux: m.aux });
      this.done = true;
    } else if (m.errorDetail) {
      finish(m.errorDetail.message);
      out.push(m);
    } else if (m.stream && this.current && !this.done && !m.trace?.classic) {
      send({ logs: [{ vertex: this.current.digest, stream: 1, data: Buffer.from(m.stream), at: now }] });
    }
    return out;
  }
}
