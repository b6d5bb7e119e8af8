/** dockerode (a third Docker API client) against berthd. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import Docker from 'dockerode';
import { TestDaemon } from '../helpers/daemon';

const d = new TestDaemon('dockerode');
let docker: Docker;

before(async () => {
  await d.start();
  d.importBusybox();
  docker = new Docker({ socketPath: d.socket });
});
after(() => d.stop());

describe('dockerode', () => {
  it('pings and lists images', async () => {
    assert.equal(String(await docker.ping()), 'OK');
    const images = await docker.listImages();
    assert.ok(images.some((i) => i.RepoTags?.includes('busybox:latest')));
  });

  it('creates, attaches, starts, waits and reads logs', async () => {
    const c = await docker.createContainer({ Image: 'busybox', Cmd: ['sh', '-c', 'echo out; echo err >&2; exit 7'], AttachStdout: true, AttachStderr: true });
    const stream = await c.attach({ stream: true, stdout: true, stderr: true, hijack: true });
    const out = new PassThrough();
    const err = new PassThrough();
    const chunks: string[] = [];
    const errs: string[] = [];
    out.on('data', (b: Buffer) => chunks.push(b.toString()));
    err.on('data', (b: Buffer) => errs.push(b.toString()));
    docker.modem.demuxStream(stream, out, err);
    const waited = c.wait({ condition: 'next-exit' });
    await c.start();
    const res = await waited;
    assert.equal(res.StatusCode, 7);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(chunks.join(''), 'out\n');
    assert.equal(errs.join(''), 'err\n');
    const logs = (await c.logs({ stdout: true, stderr: true })) as unknown as Buffer;
    assert.ok(logs.includes(Buffer.from('out\n')));
    const info = await c.inspect();
    assert.equal(info.State.ExitCode, 7);
    await c.remove();
  });

  it('execs in a running container and reports the exit code', async () => {
    const c = await docker.createContainer({ Image: 'busybox', Cmd: ['sleep', '1000'] });
    await c.start();
    const ex = await c.exec({ Cmd: ['sh', '-c', 'echo inside; exit 2'], AttachStdout: true, AttachStderr: true });
    const stream = await ex.start({ hijack: true, stdin: false });
    const out = new PassThrough();
    const got: string[] = [];
    out.on('data', (b: Buffer) => got.push(b.toString()));
    docker.modem.demuxStream(stream, out, new PassThrough());
    await new Promise((r) => stream.on('end', r));
    assert.equal(got.join(''), 'inside\n');
    assert.equal((await ex.inspect()).ExitCode, 2);
    await c.remove({ force: true });
    const list = await docker.listContainers({ all: true });
    assert.equal(list.length, 0);
  });

  it('answers a malformed body with 400 and the reason', async () => {
    const res = await fetchSocket('POST', '/containers/create', '{"Image": ');
    assert.equal(res.status, 400);
    assert.match(JSON.parse(res.body).message, /invalid JSON/);
    const missing = await fetchSocket('GET', '/v1.43/containers/nope/json');
    assert.equal(missing.status, 404);
    assert.equal(JSON.parse(missing.body).message, 'No such container: nope');
  });
});

function fetchSocket(method: string, path: string, body?: string): Promise<{ status: number; body: string }> {
  const http = require('node:http') as typeof import('node:http');
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath: d.socket, path, method, headers: { 'Content-Type': 'application/json' } }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (b: Buffer) => parts.push(b));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts).toString() }));
    });
    req.on('error', reject);
    req.end(body);
  });
}
