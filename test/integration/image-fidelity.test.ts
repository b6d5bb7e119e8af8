/**
 * Image list filters and image removal as Docker answers them, through the docker CLI and dockerode: `reference` with
 * wildcards, `dangling`, `label`, `before`, `since`; untag versus delete, `noprune`, conflicts with containers, `force`.
 * Also passes against Docker (`BERTH_COMPAT_DOCKER_HOST=unix:///…`, see test/helpers/engine.ts).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileEngine, TEST_LABEL } from '../helpers/engine';
import type { RunResult } from '../helpers/daemon';
import { decodeStatus } from '../../src/build/trace';

const { e, docker } = fileEngine('imgfid', () => {
  const tags = e.docker(['images', '--format', '{{.Repository}}:{{.Tag}}']).stdout.split('\n').filter((t) => t.startsWith(repo));
  if (tags.length) e.docker(['rmi', '-f', ...tags]);
  // build steps of this run (labelled) that no tag kept: children before parents, so a few rounds
  for (let round = 0; round < 4; round++) {
    const ids = e.docker(['images', '-aq', '--filter', `label=imgfid=${repo}`]).stdout.split('\n').filter(Boolean);
    if (!ids.length) break;
    e.docker(['rmi', ...new Set(ids)]);
  }
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});
const repo = `imgfid${process.pid}`;
const dirs: string[] = [];


function ok(r: RunResult, what: string): string {
  assert.equal(r.status, 0, `${what}: ${r.stderr}`);
  return r.stdout.trim();
}

const lines = (s: string): string[] => s.split('\n').filter(Boolean).sort();

/** Build a one-step image labelled for this run; `marker` makes its content (and id) unique. */
function build(tag: string, marker: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'imgfid-'));
  dirs.push(dir);
  fs.writeFileSync(path.join(dir, 'Dockerfile'), `FROM busybox\nLABEL imgfid=${repo}\nRUN echo ${marker} > /marker\n`);
  ok(e.docker(['build', '-q', '-t', tag, dir], { timeout: 120_000 }), `build ${tag}`);
  return ok(e.docker(['image', 'inspect', '-f', '{{.Id}}', tag]), 'inspect');
}

const names = (r: RunResult): string[] => lines(ok(r, 'images'));
const fmt = ['--format', '{{.Repository}}:{{.Tag}}'];

describe('image list filters', () => {
  it('reference matches repository and tag with wildcards, as path.Match (docker images, dockerode)', async () => {
    for (const t of [`${repo}/a:1`, `${repo}/a:2`, `${repo}b:x`]) ok(e.docker(['tag', 'busybox:latest', t]), `tag ${t}`);
    assert.deepEqual(names(e.docker(['images', ...fmt, '--filter', `reference=${repo}/*`])), [`${repo}/a:1`, `${repo}/a:2`]);
    assert.deepEqual(names(e.docker(['images', ...fmt, '--filter', `reference=${repo}*`])), [`${repo}b:x`]);
    assert.deepEqual(names(e.docker(['images', ...fmt, '--filter', `reference=${repo}/a:[1]`])), [`${repo}/a:1`]);
    const listed = await docker.listImages({ filters: { reference: [`*/a:2`] } });
    const tags = listed.flatMap((i) => i.RepoTags ?? []);
    assert.ok(tags.includes(`${repo}/a:2`), JSON.stringify(tags));
    assert.ok(!tags.includes(`${repo}/a:1`), JSON.stringify(tags));
  });

  it('dangling, label, before and since', async () => {
    const old = build(`${repo}/built:1`, 'one');
    const cur = build(`${repo}/built:1`, 'two');
    assert.notEqual(old, cur);
    const dangling = lines(ok(e.docker(['images', '-q', '--no-trunc', '--filter', 'dangling=true']), 'dangling'));
    assert.ok(dangling.includes(old), `${old} not in ${dangling}`);
    assert.ok(!dangling.includes(cur));
    const labelled = lines(ok(e.docker(['images', '-q', '--no-trunc', '--filter', `label=imgfid=${repo}`]), 'label'));
    assert.ok(labelled.includes(old) && labelled.includes(cur), labelled.join());
    const byKey = await docker.listImages({ filters: { label: ['imgfid'] } });
    assert.ok(byKey.some((i) => i.Id === cur));
    assert.ok(!(await docker.listImages({ filters: { label: [`imgfid=not${repo}`] } })).some((i) => i.Id === cur));
    const since = lines(ok(e.docker(['images', '-q', '--no-trunc', '--filter', 'since=busybox:latest']), 'since'));
    assert.ok(since.includes(cur));
    assert.ok(!since.includes(ok(e.docker(['image', 'inspect', '-f', '{{.Id}}', 'busybox:latest']), 'busybox id')));
    const before = lines(ok(e.docker(['images', '-q', '--no-trunc', '--filter', `before=${repo}/built:1`]), 'before'));
    assert.ok(!before.includes(cur));
    assert.ok(before.includes(ok(e.docker(['image', 'inspect', '-f', '{{.Id}}', 'busybox:latest']), 'busybox id')));
    ok(e.docker(['rmi', old]), 'rmi dangling');
  });

  // Docker 24 writes "invalid filter", 20.10 "Invalid filter"
  it('refuses an unknown filter and a bad dangling value with 400', async () => {
    await assert.rejects(docker.listImages({ filters: { nosuch: ['x'] } }), (err: { statusCode?: number; message: string }) => err.statusCode === 400 && /invalid filter 'nosuch'/i.test(err.message));
    await assert.rejects(docker.listImages({ filters: { dangling: ['maybe'] } }), (err: { statusCode?: number; message: string }) => err.statusCode === 400 && /invalid filter 'dangling=\[maybe\]'/i.test(err.message));
  });
});

describe('image remove', () => {
  it('untags while other tags remain; an id with several tags needs force', () => {
    const id = build(`${repo}/rm:1`, 'rm');
    ok(e.docker(['tag', `${repo}/rm:1`, `${repo}/rm:2`]), 'tag');
    const byId = e.docker(['rmi', id]);
    assert.notEqual(byId.status, 0);
    assert.match(byId.stderr, new RegExp(`conflict: unable to delete ${id.slice(7, 19)} \\(must be forced\\) - image is referenced in multiple repositories`));
    assert.equal(ok(e.docker(['rmi', `${repo}/rm:2`]), 'untag'), `Untagged: ${repo}/rm:2`);
    const out = ok(e.docker(['rmi', `${repo}/rm:1`]), 'delete').split('\n');
    assert.equal(out[0], `Untagged: ${repo}/rm:1`);
    assert.ok(out.includes(`Deleted: ${id}`), out.join('\n'));
  });

  it('noprune deletes the image alone, keeping its untagged parents (dockerode)', async () => {
    const id = build(`${repo}/np:1`, 'np');
    const parent = ok(e.docker(['image', 'inspect', '-f', '{{.Parent}}', id]), 'parent');
    const res = (await docker.getImage(`${repo}/np:1`).remove({ noprune: true })) as { Untagged?: string; Deleted?: string }[];
    // the image first; what follows are its layers (Docker) — never the parent image
    const deleted = res.filter((r) => r.Deleted).map((r) => r.Deleted);
    assert.equal(deleted[0], id);
    assert.ok(!deleted.includes(parent), deleted.join());
    if (parent) assert.equal(e.docker(['image', 'inspect', parent]).status, 0, 'parent kept');
  });

  it('a tag a container uses needs force; a running container\'s image cannot be deleted even forced', () => {
    const id = build(`${repo}/used:1`, 'used');
    const name = `imgfid-used-${process.pid}`;
    ok(e.docker(['run', '-d', '--label', TEST_LABEL, '--name', name, `${repo}/used:1`, 'sleep', '300']), 'run');
    const tagged = e.docker(['rmi', `${repo}/used:1`]);
    assert.notEqual(tagged.status, 0);
    assert.match(tagged.stderr, new RegExp(`unable to remove repository reference "${repo}/used:1" \\(must force\\) - container [0-9a-f]{12} is using its referenced image ${id.slice(7, 19)}`));
    assert.equal(ok(e.docker(['rmi', '-f', `${repo}/used:1`]), 'forced untag'), `Untagged: ${repo}/used:1`);
    const running = e.docker(['rmi', '-f', id]);
    assert.notEqual(running.status, 0);
    assert.match(running.stderr, new RegExp(`unable to delete ${id.slice(7, 19)} \\(cannot be forced\\) - image is being used by running container`));
    ok(e.docker(['rm', '-f', name]), 'rm');
    ok(e.docker(['rmi', id]), 'rmi');
  });

  it('an unknown image is 404 naming it', () => {
    const r = e.docker(['rmi', `${repo}/nosuch:1`]);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, new RegExp(`No such image: ${repo}/nosuch:1`));
  });
});

describe('builds through a BuildKit session (dockerode buildImage with version 2)', () => {
  type Msg = { id?: string; aux?: unknown; error?: string };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'imgfid-'));
  dirs.push(dir);
  const run = `RUN echo v2-${process.pid} > /v2 && echo built-${process.pid}`;
  fs.writeFileSync(path.join(dir, 'Dockerfile'), `FROM busybox\nLABEL imgfid=${repo}\n${run}\n`);
  const build = async (): Promise<Msg[]> => {
    const stream = await docker.buildImage({ context: dir, src: ['Dockerfile'] }, { t: `${repo}/v2:1`, version: '2' });
    return new Promise<Msg[]>((resolve, reject) => docker.modem.followProgress(stream, (err: Error | null, out: Msg[]) => (err ? reject(err) : resolve(out))));
  };
  /** The RUN step as BuildKit's progress reports it (its vertex updates merged, its logs joined). */
  const runStep = (messages: Msg[]): { completed: boolean; cached: boolean; log: string } => {
    const updates = messages.filter((m) => m.id === 'moby.buildkit.trace').map((m) => decodeStatus(Buffer.from(m.aux as string, 'base64')));
    const vertexes = updates.flatMap((u) => u.vertexes).filter((v) => v.name === `[2/2] ${run}`);
    assert.ok(vertexes.length, `no vertex [2/2] ${run} in ${JSON.stringify(updates.flatMap((u) => u.vertexes.map((v) => v.name)))}`);
    const digest = vertexes[0].digest;
    return {
      completed: vertexes.some((v) => v.completed),
      cached: vertexes.some((v) => v.cached),
      log: updates.flatMap((u) => u.logs).filter((l) => l.vertex === digest).map((l) => l.data.toString()).join(''),
    };
  };

  it('opens the session, builds the body context, reports BuildKit progress and names the image in moby.image.id', async () => {
    const messages = await build();
    assert.equal(messages.find((m) => m.error)?.error, undefined);
    const id = (messages.find((m) => m.id === 'moby.image.id')?.aux as { ID?: string } | undefined)?.ID;
    assert.match(id ?? '', /^sha256:[0-9a-f]{64}$/, JSON.stringify(messages.slice(-3)));
    assert.equal(ok(e.docker(['image', 'inspect', '-f', '{{.Id}}', `${repo}/v2:1`]), 'inspect'), id);
    assert.equal(ok(e.docker(['run', '--rm', '--label', TEST_LABEL, `${repo}/v2:1`, 'cat', '/v2']), 'run'), `v2-${process.pid}`);
    const step = runStep(messages);
    assert.equal(step.completed, true);
    assert.equal(step.cached, false);
    assert.match(step.log, new RegExp(`built-${process.pid}\n`));
  });

  it('reports the same step as cached when built again', async () => {
    const step = runStep(await build());
    assert.equal(step.cached, true);
    assert.equal(step.completed, true);
  });
});
