import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { getxattr, listxattr, mknod, seqpacketAccept, seqpacketConnect, seqpacketListen, setxattr } from '../../src/native';
import { AttachSocket, SeqpacketSocket, type AttachChunk } from '../../src/runtime/attach-socket';

/** A temp dir on the root filesystem (os.tmpdir() may be tmpfs, which has no trusted.* xattrs). */
function tempDir(t: { after(fn: () => void): void }): string {
  const base = fs.statfsSync(os.tmpdir()).type === 0x01021994 /* TMPFS_MAGIC */ ? '/var/tmp' : os.tmpdir();
  const dir = fs.mkdtempSync(path.join(base, 'berth-native-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function hasTool(name: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

test('mknod makes a char 0/0 whiteout node and reports errors Node-style', (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'file1');
  mknod(file, fs.constants.S_IFCHR, 0, 0);
  const st = fs.lstatSync(file);
  assert.ok(st.isCharacterDevice());
  assert.equal(st.rdev, 0);
  assert.equal(st.mode & 0o7777, 0);

  assert.throws(() => mknod(file, fs.constants.S_IFCHR, 0, 0), (err: NodeJS.ErrnoException) => {
    assert.equal(err.code, 'EEXIST');
    assert.equal(err.syscall, 'mknod');
    assert.equal(err.path, file);
    assert.match(err.message, /^EEXIST: .*, mknod '/);
    return true;
  });
  assert.throws(() => mknod(file, -1, 0, 0), RangeError);
  assert.throws(() => mknod('a\0b', fs.constants.S_IFCHR, 0, 0), TypeError);
});

test('setxattr/getxattr/listxattr on trusted.* (overlay opaque marker)', (t) => {
  const dir = tempDir(t);
  const sub = path.join(dir, 'd');
  fs.mkdirSync(sub);
  try {
    setxattr(sub, 'trusted.overlay.opaque', 'y');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOTSUP' || (err as NodeJS.ErrnoException).code === 'EPERM') {
      t.skip(`trusted.* xattrs unavailable here (${(err as Error).message}); needs root on ext4/xfs/btrfs`);
      return;
    }
    throw err;
  }
  assert.deepEqual(getxattr(sub, 'trusted.overlay.opaque'), Buffer.from('y'));
  if (hasTool('getfattr')) {
    const out = execFileSync('getfattr', ['--only-values', '-n', 'trusted.overlay.opaque', sub], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    assert.equal(out.toString(), 'y', 'getfattr sees what setxattr wrote');
  }

  const binary = Buffer.from([0, 1, 2, 255, 0]);
  setxattr(sub, 'trusted.berth.bin', binary);
  assert.deepEqual(getxattr(sub, 'trusted.berth.bin'), binary);
  setxattr(sub, 'trusted.berth.empty', Buffer.alloc(0));
  assert.deepEqual(getxattr(sub, 'trusted.berth.empty'), Buffer.alloc(0));
  assert.deepEqual(listxattr(sub).filter((n) => n.startsWith('trusted.')).sort(), [
    'trusted.berth.bin',
    'trusted.berth.empty',
    'trusted.overlay.opaque',
  ]);

  assert.equal(getxattr(sub, 'trusted.berth.absent'), undefined);
  const plain = path.join(dir, 'plain');
  fs.writeFileSync(plain, '');
  assert.deepEqual(listxattr(plain).filter((n) => n.startsWith('trusted.')), []);
  const missing = path.join(dir, 'missing');
  assert.throws(() => getxattr(missing, 'trusted.x'), { code: 'ENOENT', syscall: 'lgetxattr', path: missing });
  assert.throws(() => listxattr(missing), { code: 'ENOENT', syscall: 'llistxattr' });
  assert.throws(() => setxattr(missing, 'trusted.x', 'y'), { code: 'ENOENT', syscall: 'lsetxattr' });
});

/** A connected pair: the client side is wrapped by the caller, the server side is a plain SeqpacketSocket. */
function socketPair(t: { after(fn: () => void): void }): { clientFd: number; server: SeqpacketSocket } {
  const sock = path.join(tempDir(t), 'attach');
  const listenFd = seqpacketListen(sock);
  t.after(() => fs.closeSync(listenFd));
  const clientFd = seqpacketConnect(sock); // completes into the backlog at once
  const server = new SeqpacketSocket(seqpacketAccept(listenFd), { allowHalfOpen: true });
  t.after(() => server.destroy());
  return { clientFd, server };
}

/** Polls `cond` every 5 ms; fails the test instead of hanging when it is not met within `ms`. */
async function waitFor(what: string, cond: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

function attachPacket(id: number, text: string): Buffer {
  return Buffer.concat([Buffer.from([id]), Buffer.from(text)]);
}

test('seqpacket round trip: framing, 8192-byte stdin packets, half-close, end', { timeout: 10_000 }, async (t) => {
  const { clientFd, server } = socketPair(t);
  const client = new AttachSocket(clientFd);
  t.after(() => client.destroy());

  const received: Buffer[] = [];
  server.on('data', (p: Buffer) => received.push(p));
  const serverEnded = once(server, 'end');

  const chunks: AttachChunk[] = [];
  client.on('data', (c: AttachChunk) => chunks.push(c));
  const clientEnded = once(client, 'end');
  const clientClosed = once(client, 'close');

  const stdin = Buffer.alloc(20000, 'x');
  client.write(stdin);
  client.shutdownWrite();
  await serverEnded; // the peer saw EOF on its read side ...
  assert.deepEqual(received.map((p) => p.length), [8192, 8192, 3616]);
  assert.deepEqual(Buffer.concat(received), stdin);

  server.write(attachPacket(2, 'hi\n')); // ... and can still send
  server.write(attachPacket(3, 'oops'));
  server.end();
  await clientEnded;
  await clientClosed;
  assert.deepEqual(
    chunks.map((c) => [c.stream, c.data.toString()]),
    [['stdout', 'hi\n'], ['stderr', 'oops']],
  );
});

test('seqpacket backpressure: writes wait for a full socket, reads pause at the high-water mark', async (t) => {
  const { clientFd, server } = socketPair(t);
  const client = new SeqpacketSocket(clientFd);
  t.after(() => client.destroy());

  // Write side: 4 MiB with nobody reading must hit EAGAIN (unix socket buffers are ~200 KiB) and then resume.
  const big = Buffer.alloc(4 << 20, 7);
  let drained = false;
  assert.equal(client.write(big, () => (drained = true)), false);
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(drained, false, 'write completed although nobody read');
  let got = 0;
  server.on('data', (p: Buffer) => (got += p.length));
  await once(client, 'drain');
  assert.equal(drained, true);
  await waitFor('all bytes at the server', () => got >= big.length);
  assert.equal(got, big.length);

  // Read side: a paused client stops polling once its buffer (16 objects) is full; the rest stays in the kernel.
  client.pause();
  client.read(0); // paused mode: fill the buffer, then stop polling
  for (let i = 0; i < 1000; i++) server.write(attachPacket(2, String(i)));
  await waitFor('a full read buffer', () => client.readableLength >= client.readableHighWaterMark);
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(client.readableLength, client.readableHighWaterMark, 'buffered exactly up to the high-water mark');
  const seen: string[] = [];
  client.on('data', (p: Buffer) => seen.push(p.subarray(1).toString()));
  client.resume();
  await waitFor('1000 packets at the client', () => seen.length >= 1000);
  assert.deepEqual(seen, Array.from({ length: 1000 }, (_, i) => String(i)));
});

test('attach socket rejects an unknown stream id, connect reports the path', async (t) => {
  const { clientFd, server } = socketPair(t);
  const client = new AttachSocket(clientFd);
  client.resume();
  server.write(attachPacket(7, 'x'));
  const [err] = (await once(client, 'error')) as [Error];
  assert.match(err.message, /unexpected stream id 7/);

  const missing = path.join(tempDir(t), 'nope');
  assert.throws(() => seqpacketConnect(missing), { code: 'ENOENT', syscall: 'connect', path: missing });
  assert.throws(() => seqpacketConnect(`/tmp/${'x'.repeat(120)}`), /unix socket path too long \(125 bytes, max 107\)/);
});
