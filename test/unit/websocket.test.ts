/** RFC 6455 pieces of the attach/ws endpoint: accept key, frame encoding and incremental parsing. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { acceptKey, encodeFrame, FrameParser, OP } from '../../src/api/websocket';

describe('websocket framing', () => {
  it('computes the RFC 6455 example accept key', () => {
    assert.equal(acceptKey('dGhlIHNhbXBsZSBub25jZQ=='), 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
  });

  it('round-trips masked frames of each length encoding, fed byte by byte', () => {
    const p = new FrameParser();
    for (const len of [0, 5, 125, 126, 65535, 65536]) {
      const payload = Buffer.alloc(len, 'x');
      const wire = encodeFrame(OP.binary, payload, Buffer.from([1, 2, 3, 4]));
      const frames = [];
      for (let i = 0; i < wire.length; i += 4096) frames.push(...p.feed(wire.subarray(i, i + 4096)));
      assert.equal(frames.length, 1, `len ${len}`);
      assert.deepEqual(frames[0], { fin: true, opcode: OP.binary, payload });
    }
  });

  it('encodes server frames unmasked with the short length form', () => {
    assert.deepEqual(encodeFrame(OP.text, Buffer.from('hi')), Buffer.from([0x81, 2, 0x68, 0x69]));
  });

  it('parses several frames in one chunk', () => {
    const wire = Buffer.concat([encodeFrame(OP.ping, Buffer.from('a')), encodeFrame(OP.close, Buffer.from([3, 0xe8]))]);
    assert.deepEqual(new FrameParser().feed(wire).map((f) => f.opcode), [OP.ping, OP.close]);
  });
});
