/**
 * `GET /containers/{id}/attach/ws` against a real berthd and a `cat` container, with a minimal websocket client
 * (Node 20 has no global WebSocket): handshake, masked text frames to stdin, binary frames back, ping/pong, close.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import { randomBytes } from 'node:crypto';
import type { Duplex } from 'node:stream';
import { TestDaemon } from '../helpers/daemon';
import { acceptKey, encodeFrame, FrameParser, OP, type Frame } from '../../src/api/websocket';

const d = new TestDaemon('attachws');

before(async () => {
  await d.start();
  d.importBusybox();
});
after(() => d.stop());

interface Client {
  socket: Duplex;
  send(opcode: number, data: Buffer): void;
  /** Resolves with the next frame satisfying `pred`. */
  next(pred: (f: Frame) => boolean): Promise<Frame>;
  closed: Promise<void>;
}

function connect(path: string): Promise<Client> {
  const key = randomBytes(16).toString('base64');
  return new Promise((resolve, reject) => {
    const req = http.request({
      socketPath: d.socket,
      path,
      headers: { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Key': key, 'Sec-WebSocket-Version': '13' },
    });
    req.on('response', (res) => reject(new Error(`no upgrade: ${res.statusCode}`)));
    req.on('error', reject);
    req.on('upgrade', (res, socket, head) => {
      assert.equal(res.statusCode, 101);
      assert.equal(res.headers['sec-websocket-accept'], acceptKey(key));
      const parser = new FrameParser();
      const frames: Frame[] = [];
      const waiters: Array<() => void> = [];
      const push = (b: Buffer) => {
        frames.push(...parser.feed(b));
        waiters.splice(0).forEach((w) => w());
      };
      socket.on('data', push);
      if (head.length) push(head);
      const closed = new Promise<void>((r) => socket.on('close', () => r()));
      resolve({
        socket,
        send: (op, data) => socket.write(encodeFrame(op, data, randomBytes(4))),
        next: (pred) =>
          new Promise((res2, rej) => {
            const timer = setTimeout(() => rej(new Error(`timed out; frames: ${JSON.stringify(frames)}`)), 10_000);
            const look = () => {
              const i = frames.findIndex(pred);
              if (i < 0) return void waiters.push(look);
              clearTimeout(timer);
              res2(frames.splice(i, 1)[0]);
            };
            look();
          }),
        closed,
      });
    });
    req.end();
  });
}

describe('attach over websocket', () => {
  it('sends stdin frames to a cat container and returns its output as raw binary frames', async () => {
    const r = d.berth(['run', '-d', '-i', '--name', 'wscat', 'busybox', 'cat']);
    assert.equal(r.status, 0, r.stderr);
    const c = await connect(`/v1.43/containers/wscat/attach/ws?stream=1&stdin=1&stdout=1&stderr=1`);
    c.send(OP.text, Buffer.from('hi\n'));
    const f = await c.next((x) => x.opcode === OP.binary);
    assert.equal(f.payload.toString(), 'hi\n'); // no 8-byte header
    c.send(OP.binary, Buffer.from('there\n'));
    assert.equal((await c.next((x) => x.opcode === OP.binary)).payload.toString(), 'there\n');
    c.send(OP.ping, Buffer.from('p1'));
    assert.equal((await c.next((x) => x.opcode === OP.pong)).payload.toString(), 'p1');
    c.send(OP.close, Buffer.from([0x03, 0xe8]));
    const close = await c.next((x) => x.opcode === OP.close);
    assert.equal(close.payload.readUInt16BE(0), 1000);
    await c.closed;
    assert.equal(d.berth(['inspect', '-f', '{{.State.Running}}', 'wscat']).stdout.trim(), 'true', 'closing the socket leaves the container running');
    d.berth(['rm', '-f', 'wscat']);
  });

  it('sends a close frame when the container exits, after logs=1 replays the log', async () => {
    d.berth(['run', '-d', '-i', '--name', 'wsexit', 'busybox', 'sh', '-c', 'echo before; read x; echo got $x']);
    const c = await connect(`/containers/wsexit/attach/ws?logs=1&stream=1&stdin=1&stdout=1`);
    assert.equal((await c.next((x) => x.opcode === OP.binary)).payload.toString(), 'before\n');
    c.send(OP.text, Buffer.from('it\n'));
    assert.equal((await c.next((x) => x.opcode === OP.binary)).payload.toString(), 'got it\n');
    await c.next((x) => x.opcode === OP.close);
    c.socket.end();
    d.berth(['rm', '-f', 'wsexit']);
  });

  it('refuses a request without a websocket upgrade', () => {
    d.berth(['create', '--name', 'wsplain', 'busybox', 'true']);
    return new Promise<void>((resolve, reject) => {
      http.get({ socketPath: d.socket, path: '/containers/wsplain/attach/ws' }, (res) => {
        try {
          assert.equal(res.statusCode, 400);
          d.berth(['rm', '-f', 'wsplain']);
          resolve();
        } catch (e) {
          reject(e);
        }
        res.resume();
      });
    });
  });
});
