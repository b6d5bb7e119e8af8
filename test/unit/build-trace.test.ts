/** BuildKit's progress messages (StatusResponse) as Berth encodes them for version=2 builds. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decodeStatus, encodeStatus, TraceRenderer, vertexDigest } from '../../src/build/trace';

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

  it('renders steps as vertexes: output as logs, metadata steps end the previous one, a hit is cached, an error completes it', () => {
    const r = new TraceRenderer();
    const wire = [
      { stream: 'Step 1/3 : FROM busybox\n', trace: { step: '[1/2] FROM busybox' } },
      { stream: ' ---> 84e17dc4bbfb\n', trace: { classic: true as const } },
      { stream: 'output of FROM\n' },
      { stream: 'Step 2/3 : ENV A=1\n', trace: { metadata: true as const } },
      { stream: ' ---> 1111\n' },
      { stream: 'Step 3/3 : RUN make\n', trace: { step: '[2/2] RUN make' } },
      { stream: ' ---> Using cache\n', trace: { cached: true as const } },
      { stream: ' ---> 2222\n', trace: { classic: true as const } },
      { aux: { ID: 'sha256:22' } },
      { stream: 'Successfully built 2222\n' },
    ].flatMap((m) => r.render(m));
    const updates = wire.filter((m) => 'id' in m && m.id === 'moby.buildkit.trace').map((m) => decodeStatus(Buffer.from((m as { aux: string }).aux, 'base64')));
    const vertexes = updates.flatMap((u) => u.vertexes);
    assert.deepEqual(vertexes.map((v) => [v.name, !!v.completed, v.cached]), [
      ['[1/2] FROM busybox', false, false], ['[1/2] FROM busybox', true, false],
      ['[2/2] RUN make', false, false], ['[2/2] RUN make', true, true],
      ['exporting to image', true, false],
    ]);
    assert.deepEqual(updates.flatMap((u) => u.logs).map((l) => l.data.toString()), ['output of FROM\n']);
    assert.deepEqual(wire.filter((m) => 'id' in m && m.id === 'moby.image.id'), [{ id: 'moby.image.id', aux: { ID: 'sha256:22' } }]);

    const failing = new TraceRenderer();
    failing.render({ stream: 'Step 1/1 : RUN false\n', trace: { step: '[1/1] RUN false' } });
    const out = failing.render({ errorDetail: { message: 'exit 1', code: 1 }, error: 'exit 1' });
    assert.equal(decodeStatus(Buffer.from((out[0] as { aux: string }).aux, 'base64')).vertexes[0].error, 'exit 1');
    assert.deepEqual(out[1], { errorDetail: { message: 'exit 1', code: 1 }, error: 'exit 1' });
  });
});
