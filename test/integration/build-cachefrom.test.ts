/**
 * `build --cache-from` (issue #11): an image that was saved and loaded into a daemon with no build cache of its own
 * is a cache source for the classic builder, through the berth CLI and the docker CLI (DOCKER_BUILDKIT=0).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { writeContext } from '../helpers/build';
import { TestDaemon, type RunResult } from '../helpers/daemon';

const first = new TestDaemon('cachefrom1');
const second = new TestDaemon('cachefrom2');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-cachefrom-test-'));
const TAG = `cachefrom${process.pid}:v1`;

const DOCKERFILE = `FROM busybox
ENV GREETING=hello
RUN echo one > /one
COPY data.txt /data/
RUN cat /data/data.txt /one > /both
ENV MODE=prod
CMD ["cat", "/both"]
`;
const STEPS = 6; // after FROM

before(async () => {
  await Promise.all([first.start(), second.start()]);
  first.importBusybox();
});
after(async () => {
  await Promise.all([first.stop(), second.stop()]);
  fs.rmSync(tmp, { recursive: true, force: true });
});

const ok = (r: RunResult, what: string): RunResult => {
  assert.equal(r.status, 0, `${what} failed:\n${r.stdout}\n${r.stderr}`);
  return r;
};
const count = (out: string, text: string): number => out.split(text).length - 1;
const imageId = (d: TestDaemon, ref: string): string => ok(d.berth(['image', 'inspect', '-f', '{{.Id}}', ref]), 'inspect').stdout.trim();
const builtId = (out: string): string => {
  const m = /Successfully built ([0-9a-f]{12})/.exec(out);
  assert.ok(m, `no "Successfully built" in:\n${out}`);
  return m[1];
};
const prune = (): void => {
  ok(second.berth(['builder', 'prune', '-a', '-f']), 'builder prune');
};
const legacyDocker = (args: string[]): RunResult => {
  const r = spawnSync('docker', args, { env: { ...second.env, DOCKER_BUILDKIT: '0' }, timeout: 120_000 });
  return { status: r.status ?? -1, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
};

describe('build --cache-from', () => {
  const dir = writeContext(path.join(tmp, 'ctx'), { Dockerfile: DOCKERFILE, 'data.txt': 'data\n' });
  let original = '';

  it('a saved image loaded into a daemon without build cache', () => {
    ok(first.berth(['build', '-t', TAG, dir]), 'first build');
    original = imageId(first, TAG);
    const archive = path.join(tmp, 'image.tar');
    // busybox goes along so that FROM busybox is the same parent on the other side
    ok(first.berth(['save', '-o', archive, 'busybox:latest', TAG]), 'save');
    ok(second.berth(['load', '-i', archive]), 'load');
    assert.equal(imageId(second, TAG), original);
  });

  it('without --cache-from the steps run', () => {
    const r = ok(second.berth(['build', dir]), 'build without cache-from');
    assert.equal(count(r.stdout, 'Using cache'), 0, r.stdout);
    assert.equal(count(r.stdout, 'Running in'), 2, r.stdout);
    assert.notEqual(`sha256:${builtId(r.stdout)}`, original.slice(0, 19));
  });

  it('berth build --cache-from: every step from the loaded image, the same image id', () => {
    // the steps just built here are in the local cache but not on the way to the source: docker passes them over
    const r = ok(second.berth(['build', '--cache-from', TAG, '-t', `${TAG}-again`, dir]), 'build --cache-from');
    assert.equal(count(r.stdout, ' ---> Using cache\n'), STEPS, r.stdout);
    assert.equal(count(r.stdout, 'Running in'), 0, r.stdout);
    assert.equal(imageId(second, `${TAG}-again`), original);
    // the restored steps are remembered: the next build hits the local cache, no --cache-from needed
    const again = ok(second.berth(['build', dir]), 'build again');
    assert.equal(count(again.stdout, ' ---> Using cache\n'), STEPS, again.stdout);
    assert.equal(`sha256:${builtId(again.stdout)}`, original.slice(0, 19));
    prune();
  });

  it('docker build --cache-from (legacy builder): the same', () => {
    const r = ok(legacyDocker(['build', '--cache-from', TAG, dir]), 'docker build --cache-from');
    assert.equal(count(r.stdout, ' ---> Using cache\n'), STEPS, r.stdout);
    assert.equal(`sha256:${builtId(r.stdout)}`, original.slice(0, 19));
    prune();
  });

  it('an unknown --cache-from image is skipped; a bad cachefrom value is a 400', () => {
    const r = ok(legacyDocker(['build', '--cache-from', 'nosuch:image', dir]), 'unknown cache-from');
    assert.equal(count(r.stdout, 'Using cache'), 0, r.stdout);
    prune();
    const tar = spawnSync('tar', ['-C', dir, '-cf', '-', '.']).stdout;
    const bad = spawnSync('curl', ['-s', '-w', '\n%{http_code}', '--unix-socket', second.socket, '-X', 'POST',
      '-H', 'Content-Type: application/x-tar', '--data-binary', '@-', 'http://x/build?cachefrom=%7B%7D'], { input: tar });
    assert.equal(bad.stdout.toString(), '{"message":"invalid cachefrom: expected a JSON array of strings"}\n\n400'); // the handler's newline, then curl's
  });

  it('a changed COPY source breaks the chain from that step on', () => {
    fs.writeFileSync(path.join(dir, 'data.txt'), 'changed\n');
    const r = ok(second.berth(['build', '--cache-from', TAG, dir]), 'build after change');
    assert.equal(count(r.stdout, ' ---> Using cache\n'), 2, r.stdout); // ENV, RUN
    assert.equal(count(r.stdout, 'Running in'), 1, r.stdout); // the RUN after COPY
    assert.notEqual(`sha256:${builtId(r.stdout)}`, original.slice(0, 19));
    const out = ok(second.berth(['run', '--rm', builtId(r.stdout)]), 'run').stdout;
    assert.equal(out, 'changed\none\n');
    prune();
  });
});
