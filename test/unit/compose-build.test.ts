/** `compose build`'s arguments for `berth build` (secrets, cache_from, platforms) and what `compose pull` skips: pure parts. */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { buildPlan } from '../../src/cli/compose/build';
import { loadProject } from '../../src/cli/compose/loader';
import { pullSkip } from '../../src/cli/compose/registry';

describe('compose build plan', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-compose-build-'));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const load = (build: string, extra = '') => {
    fs.writeFileSync(path.join(dir, 'compose.yaml'), `name: p\nservices:\n  app:\n${extra}    build:\n${build}\nsecrets:\n  tok: {file: ./tok.txt}\n  env: {environment: TOK}\n`);
    return loadProject({ files: [], envFiles: [], profiles: [], env: { TOK: 'from-env' }, cwd: dir });
  };

  it('passes secrets by id (file sources as they are, others through a private file), cache_from and one platform', () => {
    const p = load('      context: .\n      secrets: [tok, {source: env, target: token}]\n      cache_from: [cache/app:1, "type=registry,ref=cache/app:2"]\n      platforms: [linux/amd64]');
    const plan = buildPlan(p, 'app', '/private');
    assert.deepEqual(plan.argv, ['-t', 'p-app', '-f', 'Dockerfile', '-q', '--cache-from', 'cache/app:1', '--cache-from', 'type=registry,ref=cache/app:2', '--platform', 'linux/amd64',
      '--secret', `id=tok,src=${path.join(dir, 'tok.txt')}`, '--secret', 'id=token,src=/private/secret-0', dir]);
    assert.deepEqual(plan.files, [{ path: '/private/secret-0', content: 'from-env' }]);
  });

  it('writes an inline Dockerfile to the private directory', () => {
    const plan = buildPlan(load('      context: .\n      dockerfile_inline: FROM busybox'), 'app', '/private', true);
    assert.deepEqual(plan.argv, ['-t', 'p-app', '-f', '/private/Dockerfile', '-q', '--no-cache', dir]);
    assert.deepEqual(plan.files, [{ path: '/private/Dockerfile', content: 'FROM busybox' }]);
  });

  it('builds several platforms as one list, a local cache from the project directory; refuses a platform outside build.platforms and undefined secrets', () => {
    assert.deepEqual(buildPlan(load('      context: .\n      platforms: [linux/amd64, linux/arm64]'), 'app', '/x').argv.slice(5, 7), ['--platform', 'linux/amd64,linux/arm64']);
    assert.deepEqual(buildPlan(load('      context: .', '    platform: linux/arm64\n'), 'app', '/x').argv.slice(5, 7), ['--platform', 'linux/arm64']);
    assert.throws(() => buildPlan(load('      context: .\n      platforms: [linux/amd64]', '    platform: linux/arm64\n'), 'app', '/x'),
      /service\.platform "linux\/arm64" should be part of the service\.build\.platforms: \["linux\/amd64"\]/);
    assert.deepEqual(buildPlan(load('      context: .\n      platforms: [linux/arm64, linux/amd64]', '    platform: linux/amd64\n'), 'app', '/x').argv.slice(5, 7), ['--platform', 'linux/arm64,linux/amd64']);
    assert.deepEqual(buildPlan(load('      context: .\n      cache_from: ["type=local,src=cache"]'), 'app', '/x').argv.slice(5, 7), ['--cache-from', `type=local,src=${path.join(dir, 'cache')}`]);
    assert.throws(() => buildPlan(load('      context: .\n      secrets: [nope]'), 'app', '/x'), /undefined build secret nope/);
  });
});

describe('compose pull', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-compose-pull-'));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('skips services without image, pull_policy never/build, present images under missing, buildable ones when asked', () => {
    fs.writeFileSync(path.join(dir, 'compose.yaml'), [
      'services:',
      '  built: {build: .}',
      '  plain: {image: a}',
      '  never: {image: a, pull_policy: never}',
      '  missing: {image: a, pull_policy: missing}',
      '  both: {image: a, build: .}',
    ].join('\n'));
    const p = loadProject({ files: [], envFiles: [], profiles: [], env: {}, cwd: dir });
    assert.equal(pullSkip(p, 'built', false, false), 'Skipped - No image to be pulled');
    assert.equal(pullSkip(p, 'plain', true, false), undefined);
    assert.equal(pullSkip(p, 'never', false, false), 'Skipped');
    assert.equal(pullSkip(p, 'missing', true, false), 'Skipped - Image is already present locally');
    assert.equal(pullSkip(p, 'missing', false, false), undefined);
    assert.equal(pullSkip(p, 'both', false, true), 'Skipped - Image can be built');
    assert.equal(pullSkip(p, 'both', false, false), undefined);
  });
});
