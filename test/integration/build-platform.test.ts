/**
 * Multi-platform builds (issue #12): `build --platform linux/arm64` runs RUN under qemu-user-static's binfmt_misc
 * handler, a platform list makes one image with an OCI index, BuildKit's automatic platform args, `FROM
 * --platform=$BUILDPLATFORM`, `run --platform`, `pull --platform`, and the index pushed to `berth registry serve` and
 * pulled by a second daemon, through the berth CLI and the docker CLI (legacy builder). The bases are made here: a
 * `FROM scratch` + `ADD busybox-$TARGETARCH.tar /` build from Debian's busybox-static of each architecture.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { writeContext } from '../helpers/build';
import { busyboxTar, TestDaemon, type RunResult } from '../helpers/daemon';
import { berthRegistry } from '../helpers/ports';

const d = new TestDaemon('platform1');
const d2 = new TestDaemon('platform2');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-platform-test-'));
const T = `plat${process.pid}`;
let registry: { address: string; proc: ChildProcess } | undefined;

const ok = (r: RunResult, what: string): RunResult => {
  assert.equal(r.status, 0, `${what} failed:\n${r.stdout}\n${r.stderr}`);
  return r;
};
const legacyDocker = (args: string[]): RunResult => {
  const r = spawnSync('docker', args, { env: { ...d.env, DOCKER_BUILDKIT: '0' }, timeout: 300_000 });
  return { status: r.status ?? -1, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
};
const build = (args: string[]): RunResult => d.berth(['build', ...args], { timeout: 300_000 });
const platformOf = (daemon: TestDaemon, ref: string): string =>
  ok(daemon.berth(['image', 'inspect', '-f', '{{.Os}}/{{.Architecture}}', ref]), 'inspect').stdout.trim();

// A busybox base of each architecture: ADD unpacks the tar of the target's architecture.
const BASE = `FROM scratch
ARG TARGETARCH
ADD busybox-$TARGETARCH.tar /
CMD ["sh"]
`;

before(async () => {
  await Promise.all([d.start(), d2.start()]);
  registry = await berthRegistry(tmp);
  const base = writeContext(path.join(tmp, 'base'), { Dockerfile: BASE });
  fs.copyFileSync(busyboxTar(), path.join(base, 'busybox-amd64.tar'));
  fs.copyFileSync(busyboxTar('arm64'), path.join(base, 'busybox-arm64.tar'));
});

after(async () => {
  registry?.proc.kill('SIGKILL');
  await Promise.all([d.stop(), d2.stop()]);
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('build --platform', () => {
  const base = path.join(tmp, 'base');

  it('linux/arm64: an arm64 image whose RUN ran under qemu', () => {
    ok(build(['--platform', 'linux/arm64', '-t', `${T}-bb:arm64`, base]), 'arm64 base');
    assert.equal(platformOf(d, `${T}-bb:arm64`), 'linux/arm64');
    const dir = writeContext(path.join(tmp, 'arm'), { Dockerfile: `FROM ${T}-bb:arm64\nRUN uname -m > /arch\nCMD ["cat", "/arch"]\n` });
    ok(build(['--platform', 'linux/arm64', '-t', `${T}-arm`, dir]), 'arm64 build');
    assert.equal(ok(d.berth(['run', '--rm', `${T}-arm`]), 'run').stdout.trim(), 'aarch64');
    assert.equal(platformOf(d, `${T}-arm`), 'linux/arm64');
  });

  it('a base of another platform than --platform is refused naming the line', () => {
    const dir = writeContext(path.join(tmp, 'mismatch'), { Dockerfile: `FROM ${T}-bb:arm64\nRUN true\n` });
    const r = build(['--platform', 'linux/amd64', dir]);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /Dockerfile:1: FROM .*does not match the specified platform: wanted linux\/amd64, actual: linux\/arm64/);
  });

  it('a platform without an emulator: a clear error at the RUN line, nothing left behind', () => {
    const dir = writeContext(path.join(tmp, 'noemu'), { Dockerfile: 'FROM scratch\nENV A=1\nRUN true\n' });
    const r = build(['--platform', 'linux/wasm32', dir]);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /Dockerfile:3: RUN: no emulator for linux\/wasm32/);
    assert.equal(d.berth(['ps', '-aq']).stdout.trim(), '');
    assert.deepEqual(fs.readdirSync(path.join(d.dataRoot, 'build/tmp')), []);
  });

  it('linux/amd64,linux/arm64: one multi-platform image, an OCI index with both', () => {
    const r = ok(build(['--platform', 'linux/amd64,linux/arm64', '-t', `${T}-bb:multi`, base]), 'multi-platform base');
    assert.match(r.stdout, /Building for linux\/amd64[\s\S]*Building for linux\/arm64[\s\S]*Successfully tagged/);
    assert.equal(platformOf(d, `${T}-bb:multi`), 'linux/amd64', 'the tag shows the host platform');
    const listed = ok(d.berth(['images', '--format', '{{.Repository}}:{{.Tag}}']), 'images').stdout.split('\n').filter((l) => l.startsWith(`${T}-bb:multi`));
    assert.deepEqual(listed, [`${T}-bb:multi`], 'one image in the list, not one per platform');
    assert.equal(ok(d.berth(['run', '--rm', '--platform', 'linux/arm64', `${T}-bb:multi`, 'uname', '-m']), 'run arm64').stdout.trim(), 'aarch64');
    assert.equal(ok(d.berth(['run', '--rm', `${T}-bb:multi`, 'uname', '-m']), 'run host').stdout.trim(), 'x86_64');
  });

  it('automatic platform args and FROM --platform=$BUILDPLATFORM (a cross stage runs natively)', () => {
    const dir = writeContext(path.join(tmp, 'cross'), {
      Dockerfile: `FROM --platform=$BUILDPLATFORM ${T}-bb:multi AS tools
ARG TARGETPLATFORM TARGETOS TARGETARCH TARGETVARIANT BUILDPLATFORM BUILDOS BUILDARCH
RUN echo "build=$BUILDPLATFORM $BUILDOS $BUILDARCH target=$TARGETPLATFORM $TARGETOS $TARGETARCH [$TARGETVARIANT] on $(uname -m)" > /out
FROM ${T}-bb:multi
COPY --from=tools /out /out
RUN echo "final on $(uname -m)" >> /out
CMD ["cat", "/out"]
`,
    });
    ok(build(['--platform', 'linux/arm64', '-t', `${T}-cross`, dir]), 'cross build');
    assert.equal(ok(d.berth(['run', '--rm', `${T}-cross`]), 'run').stdout,
      'build=linux/amd64 linux amd64 target=linux/arm64 linux arm64 [] on x86_64\nfinal on aarch64\n');
  });

  it('docker CLI (legacy builder): --platform, image inspect, run --platform', () => {
    const dir = writeContext(path.join(tmp, 'docker'), { Dockerfile: `FROM ${T}-bb:multi\nRUN uname -m > /arch\n` });
    ok(legacyDocker(['build', '--platform', 'linux/arm64', '-t', `${T}-docker`, dir]), 'docker build');
    assert.equal(ok(legacyDocker(['image', 'inspect', '-f', '{{.Architecture}}', `${T}-docker`]), 'inspect').stdout.trim(), 'arm64');
    assert.equal(ok(legacyDocker(['run', '--rm', '--platform', 'linux/arm64', `${T}-docker`, 'cat', '/arch']), 'docker run').stdout.trim(), 'aarch64');
    const wrong = legacyDocker(['run', '--rm', '--platform', 'linux/amd64', `${T}-docker`, 'true']);
    // the image is here but of another platform: a 404, on which docker's CLI pulls (and no registry is reachable)
    assert.notEqual(wrong.status, 0);
    assert.match(wrong.stderr, /Unable to find image/);
  });

  it('push the index to the loopback registry; a second daemon pulls either platform', async () => {
    const remote = `${registry?.address}/${T}/bb:multi`;
    ok(d.berth(['tag', `${T}-bb:multi`, remote]), 'tag');
    ok(d.berth(['push', remote]), 'push');
    const res = await fetch(`http://${registry?.address}/v2/${T}/bb/manifests/multi`, { headers: { Accept: 'application/vnd.oci.image.index.v1+json' } });
    const index = (await res.json()) as { mediaType: string; manifests: { platform: { os: string; architecture: string } }[] };
    assert.equal(index.mediaType, 'application/vnd.oci.image.index.v1+json');
    assert.deepEqual(index.manifests.map((m) => `${m.platform.os}/${m.platform.architecture}`), ['linux/amd64', 'linux/arm64']);

    ok(d2.berth(['pull', '--platform', 'linux/arm64', remote]), 'pull arm64');
    assert.equal(platformOf(d2, remote), 'linux/arm64');
    assert.equal(ok(d2.berth(['run', '--rm', remote, 'uname', '-m']), 'run pulled').stdout.trim(), 'aarch64');
    ok(d2.berth(['pull', remote]), 'pull host');
    assert.equal(platformOf(d2, remote), 'linux/amd64');
    // run --platform on a local image of another platform pulls the one asked for, as docker's CLI
    const r = ok(d2.berth(['run', '--rm', '--platform', 'linux/arm64', remote, 'uname', '-m']), 'run --platform');
    assert.equal(r.stdout.trim(), 'aarch64');
    // the docker CLI's pull --platform, the same route
    const docker = (args: string[]): RunResult => d2.docker(args, { timeout: 120_000 });
    ok(docker(['pull', '--platform', 'linux/amd64', remote]), 'docker pull --platform');
    assert.equal(ok(docker(['image', 'inspect', '-f', '{{.Os}}/{{.Architecture}}', remote]), 'docker inspect').stdout.trim(), 'linux/amd64');
  });

  it('rmi of a multi-platform image removes its other platforms too', () => {
    const dir = writeContext(path.join(tmp, 'solo'), { Dockerfile: `${BASE}LABEL solo=1\n` });
    for (const arch of ['amd64', 'arm64']) fs.copyFileSync(path.join(base, `busybox-${arch}.tar`), path.join(dir, `busybox-${arch}.tar`));
    ok(build(['--platform', 'linux/amd64,linux/arm64', '-t', `${T}-solo`, dir]), 'build');
    const r = ok(d.berth(['rmi', `${T}-solo`]), 'rmi');
    assert.equal((r.stdout.match(/^Deleted: sha256:/gm) ?? []).length, 2, r.stdout);
    ok(d.berth(['system', 'check']), 'system check');
  });
});
