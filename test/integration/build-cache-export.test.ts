/**
 * Build cache export and import between daemons (issue #12): `--cache-to type=local|registry|inline` on one berthd,
 * `--cache-from type=local|registry` on a second one whose store and build cache are empty: every step is "Using
 * cache" and the image is the one the first daemon built (a RUN writes a timestamp, so a re-run would show). Through
 * the berth CLI and the docker CLI (legacy builder: its --cache-from strings reach berthd as they are).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { writeContext } from '../helpers/build';
import { TestDaemon, type RunResult } from '../helpers/daemon';
import { berthRegistry } from '../helpers/ports';

const STEPS = 5; // after FROM
const T = `cacheexp${process.pid}`;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-cacheexp-test-'));
const [d1, d2] = [new TestDaemon('cacheexp1'), new TestDaemon('cacheexp2')];
let registry = '';
let regProc: ChildProcess | undefined;

const ok = (r: RunResult, what: string): RunResult => {
  assert.equal(r.status, 0, `${what} failed:\n${r.stdout}\n${r.stderr}`);
  return r;
};
const count = (out: string, text: string): number => out.split(text).length - 1;
const imageId = (d: TestDaemon, ref: string): string => ok(d.berth(['image', 'inspect', '-f', '{{.Id}}', ref]), 'inspect').stdout.trim();
const legacyDocker = (args: string[]): RunResult => {
  const r = spawnSync('docker', args, { env: { ...d2.env, DOCKER_BUILDKIT: '0' }, timeout: 120_000 });
  return { status: r.status ?? -1, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
};

let ctx = '';
let base = '';

before(async () => {
  await Promise.all([d1.start(), d2.start()]);
  ({ address: registry, proc: regProc } = await berthRegistry(tmp));
  // the same base image (same ID) on both daemons, as a registry gives it
  base = `${registry}/${T}/busybox:1`;
  d1.importBusybox();
  ok(d1.berth(['tag', 'busybox:latest', base]), 'tag base');
  ok(d1.berth(['push', base]), 'push base');
  ok(d2.berth(['pull', base]), 'pull base');
  ctx = writeContext(path.join(tmp, 'ctx'), {
    Dockerfile: `FROM ${base}
ENV MODE=prod
RUN date +%s%N > /stamp
COPY data.txt /data/
RUN cat /data/data.txt /stamp > /both
CMD ["cat", "/both"]
`,
    'data.txt': 'data\n',
  });
});

after(async () => {
  regProc?.kill('SIGKILL');
  await Promise.all([d1.stop(), d2.stop()]);
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** The second daemon back to its base image only: no built image, no build cache. */
function resetSecond(): void {
  for (const t of ok(d2.berth(['images', '--format', '{{.Repository}}:{{.Tag}}']), 'images').stdout.split('\n')) {
    if (t && t !== base && !t.includes('<none>')) ok(d2.berth(['rmi', '-f', t]), `rmi ${t}`);
  }
  ok(d2.berth(['builder', 'prune', '-a', '-f']), 'builder prune');
  ok(d2.berth(['image', 'prune', '-f']), 'image prune');
}

describe('build cache export and import', () => {
  let original = '';
  const localDir = path.join(tmp, 'cache-local');

  it('--cache-to type=local writes an OCI layout with a BuildKit cache config', () => {
    const r = ok(d1.berth(['build', '--cache-to', `type=local,dest=${localDir}`, '-t', `${T}:v1`, ctx]), 'build');
    assert.match(r.stdout, /Exported the build cache \(5 steps\) to type=local/);
    original = imageId(d1, `${T}:v1`);
    const index = JSON.parse(fs.readFileSync(path.join(localDir, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
    const blob = (digest: string): Record<string, unknown> => JSON.parse(fs.readFileSync(path.join(localDir, 'blobs/sha256', digest.slice(7)), 'utf8')) as Record<string, unknown>;
    const manifest = blob(index.manifests[0].digest) as { config: { mediaType: string; digest: string }; layers: unknown[] };
    assert.equal(manifest.config.mediaType, 'application/vnd.buildkit.cacheconfig.v0');
    assert.equal(manifest.layers.length, 3, 'the RUN, COPY, RUN layers');
    const config = blob(manifest.config.digest) as { layers: unknown[]; records: unknown[] };
    assert.equal(config.layers.length, 3);
    assert.equal(config.records.length, STEPS);
    assert.ok(fs.existsSync(path.join(localDir, 'oci-layout')));
  });

  it('--cache-from type=local: a daemon with an empty cache runs no step, the same image', () => {
    resetSecond();
    const r = ok(d2.berth(['build', '--cache-from', `type=local,src=${localDir}`, '-t', `${T}:v1`, ctx]), 'build');
    assert.equal(count(r.stdout, 'Using cache'), STEPS, r.stdout);
    assert.equal(count(r.stdout, 'Running in'), 0, r.stdout);
    assert.equal(imageId(d2, `${T}:v1`), original);
    assert.equal(ok(d2.berth(['run', '--rm', `${T}:v1`]), 'run').stdout, ok(d1.berth(['run', '--rm', `${T}:v1`]), 'run').stdout);
    ok(d2.berth(['system', 'check']), 'system check');
  });

  it('a changed file: the steps before it from the cache, the rest run', () => {
    resetSecond();
    const changed = writeContext(path.join(tmp, 'ctx2'), { Dockerfile: fs.readFileSync(path.join(ctx, 'Dockerfile'), 'utf8'), 'data.txt': 'other\n' });
    const r = ok(d2.berth(['build', '--cache-from', `type=local,src=${localDir}`, changed]), 'build');
    assert.equal(count(r.stdout, 'Using cache'), 2, r.stdout);
    assert.equal(count(r.stdout, 'Running in'), 1, r.stdout);
  });

  it('--cache-to / --cache-from type=registry through the loopback registry', () => {
    const ref = `${registry}/${T}/cache:buildcache`;
    ok(d1.berth(['build', '--cache-to', `type=registry,ref=${ref}`, '-t', `${T}:v1`, ctx]), 'build with export');
    resetSecond();
    const r = ok(d2.berth(['build', '--cache-from', `type=registry,ref=${ref}`, '-t', `${T}:v1`, ctx]), 'build');
    assert.equal(count(r.stdout, 'Using cache'), STEPS, r.stdout);
    assert.equal(imageId(d2, `${T}:v1`), original);
  });

  it('--cache-to type=inline: the pushed image carries its cache; a fresh daemon builds it with zero steps run', () => {
    const ref = `${registry}/${T}/app:inline`;
    ok(d1.berth(['build', '--cache-to', 'type=inline', '-t', ref, ctx]), 'build inline');
    const cfg = JSON.parse(ok(d1.berth(['image', 'inspect', ref]), 'inspect').stdout) as { Parent: string }[];
    assert.equal(cfg[0].Parent, original, 'the image built, with the cache in a config of its own');
    ok(d1.berth(['push', ref]), 'push');
    resetSecond();
    const r = ok(d2.berth(['build', '--cache-from', `type=registry,ref=${ref}`, '--cache-to', 'type=inline', '-t', ref, ctx]), 'build');
    assert.equal(count(r.stdout, 'Using cache'), STEPS, r.stdout);
    assert.equal(count(r.stdout, 'Running in'), 0, r.stdout);
    assert.equal(imageId(d2, ref), imageId(d1, ref));
  });

  it("mode=min (the default) exports the final image's steps; mode=max every stage's", () => {
    const multi = writeContext(path.join(tmp, 'multi'), {
      Dockerfile: `FROM ${base} AS build\nRUN date +%s%N > /built\nFROM ${base}\nCOPY --from=build /built /built\nCMD ["cat", "/built"]\n`,
    });
    const min = ok(d1.berth(['build', '--cache-to', `type=local,dest=${path.join(tmp, 'min')}`, multi]), 'build min');
    assert.match(min.stdout, /Exported the build cache \(2 steps\)/);
    const max = ok(d1.berth(['build', '--cache-to', `type=local,dest=${path.join(tmp, 'max')},mode=max`, '-t', `${T}:multi`, multi]), 'build max');
    assert.match(max.stdout, /Exported the build cache \(3 steps\)/);
    resetSecond();
    const r = ok(d2.berth(['build', '--cache-from', `type=local,src=${path.join(tmp, 'max')}`, '-t', `${T}:multi`, multi]), 'build from max');
    assert.equal(count(r.stdout, 'Using cache'), 3, r.stdout);
    assert.equal(imageId(d2, `${T}:multi`), imageId(d1, `${T}:multi`));
  });

  it('docker CLI (legacy builder): --cache-from type=local reaches the builder', () => {
    resetSecond();
    const r = ok(legacyDocker(['build', '--cache-from', `type=local,src=${localDir}`, '-t', `${T}:docker`, ctx]), 'docker build');
    assert.equal(count(r.stdout, 'Using cache'), STEPS, r.stdout);
    assert.equal(imageId(d2, `${T}:docker`), original);
  });

  it('bad input: an unknown cache type is refused; an unreadable source is a warning and the build runs', () => {
    const bad = d2.berth(['build', '--cache-to', 'type=s3,bucket=x', ctx]);
    assert.notEqual(bad.status, 0);
    assert.match(bad.stderr, /unsupported cache type "s3"/);
    resetSecond();
    const r = ok(d2.berth(['build', '--cache-from', `type=local,src=${path.join(tmp, 'nothing')}`, ctx]), 'build');
    assert.match(r.stdout, /\[Warning\] importing cache from type=local,src=.*nothing failed/);
    assert.equal(count(r.stdout, 'Running in'), 2, r.stdout);
    assert.equal(d2.berth(['ps', '-aq']).stdout.trim(), '');
  });

  it('a damaged layer blob in a cache: a warning, the step runs, nothing half-stored', () => {
    const damaged = path.join(tmp, 'damaged');
    fs.cpSync(localDir, damaged, { recursive: true });
    const index = JSON.parse(fs.readFileSync(path.join(damaged, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
    const manifest = JSON.parse(fs.readFileSync(path.join(damaged, 'blobs/sha256', index.manifests[0].digest.slice(7)), 'utf8')) as { layers: { digest: string }[] };
    fs.writeFileSync(path.join(damaged, 'blobs/sha256', manifest.layers[0].digest.slice(7)), 'not the layer');
    resetSecond();
    const r = ok(d2.berth(['build', '--cache-from', `type=local,src=${damaged}`, ctx]), 'build');
    assert.match(r.stdout, /\[Warning\] cached layer sha256:[0-9a-f]{64} could not be used/);
    assert.equal(count(r.stdout, 'Using cache'), 1, r.stdout); // ENV; the first RUN runs, and so everything after it
    ok(d2.berth(['system', 'check']), 'system check');
  });
});
