/**
 * BuildKit's progress wire format for `version=2` builds: each update is a `moby.buildkit.v1.StatusResponse`
 * (protobuf, field numbers of BuildKit's control.proto) sent base64 in an `aux` of id `moby.buildkit.trace`, the
 * messages dockerd's BuildKit builder streams and BuildKit clients decode into their progress display.
 */
import * as crypto from 'node:crypto';
import * as protobuf from 'protobufjs';

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
