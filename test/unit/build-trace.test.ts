/** BuildKit's progress messages (StatusResponse) as Berth encodes them for version=2 builds. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decodeStatus, encodeStatus, vertexDigest } from '../../src/build/trace';

describe('build trace', () => {
  it('round-trips vertexes and logs through the protobuf wire format', () => {
    const digest = vertexDigest('0', 'RUN echo hi');
    const started = new Date('2026-12-06T04:00:00.123Z');
    const completed = new Date('2026-12-06T04:00:01.456Z');
    const bytes = encodeStatus({
      vertexes: [{ digest, name: '[2/2] RUN echo hi', inputs: [vertexDigest('0', 'FROM busybox')], started, completed, cached: false }],
      logs: [{ vertex: digest, stream: 2, data: Buffer.from('hi\n'), at: started }],
    });
    const back = decodeStatus(bytes);
    assert.equal(back.vertexes[0].digest, digest);
    assert.equal(back.vertexes[0].name, '[2/2] RUN echo hi');
    assert.deepEqual(back.vertexes[0].started, started);
    assert.deepEqual(back.vertexes[0].completed, completed);
    assert.equal(back.vertexes[0].error, undefined);
    assert.deepEqual(back.logs.map((l) => [l.vertex, l.stream, l.data.toString()]), [[digest, 2, 'hi\n']]);
  });

  it('puts fields at the numbers BuildKit clients read (vertexes 1, logs 3; digest 1, name 3, cached 4)', () => {
    const bytes = encodeStatus({ vertexes: [{ digest: 'sha256:ab', name: 'n', cached: true }] });
    // StatusResponse.vertexes (1, length-delimited) holding Vertex{digest (1) "sha256:ab", name (3) "n", cached (4) true}
    assert.deepEqual([...bytes.subarray(0, 2)], [0x0a, bytes.length - 2]);
    const inner = bytes.subarray(2);
    assert.deepEqual([...inner.subarray(0, 2)], [0x0a, 9]);
    assert.equal(inner.subarray(2, 11).toString(), 'sha256:ab');
    assert.deepEqual([...inner.subarray(11, 14)], [0x1a, 1, 0x6e]);
    assert.deepEqual([...inner.subarray(14, 16)], [0x20, 1]);
  });
});
