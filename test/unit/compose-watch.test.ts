/** compose watch's pure parts: rules from develop.watch, what a path maps to, a batch's plan, initial files, watch roots. */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadProject } from '../../src/cli/compose/loader';
import { watchRoots } from '../../src/cli/compose/watch';
import { initialFiles, isEphemeral, mapPath, planBatch, watchRules } from '../../src/cli/compose/watch-rules';

describe('compose watch rules', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-compose-watch-'));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const put = (rel: string, text = ''): string => {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), text);
    return path.join(dir, rel);
  };
  put('.dockerignore', 'src/*.log\n');
  put('src/a.txt');
  put('src/sub/b.txt');
  put('src/node_modules/m.js');
  put('src/x.log');
  put('req.txt');
  put('compose.yaml', [
    'services:',
    '  web:',
    '    build: .',
    '    volumes: [./mounted:/mounted]',
    '    develop:',
    '      watch:',
    '        - {path: ./src, target: /app, action: sync, ignore: [node_modules/]}',
    '        - {path: ./src/sub, target: /sub, action: sync+restart, include: ["*.txt"]}',
    '        - {path: req.txt, action: rebuild}',
    '        - {path: ./mounted/x, target: /x, action: sync}',
    '  db:',
    '    image: busybox',
  ].join('\n'));
  const p = loadProject({ files: [], envFiles: [], profiles: [], env: {}, cwd: dir });
  const { rules, warnings } = watchRules(p, ['web', 'db']);
  const src = path.join(dir, 'src');

  it('resolves paths, skips a bind-mounted sync path with compose\'s warning', () => {
    assert.deepEqual(rules.map((r) => [r.action, r.path, r.target]), [
      ['sync', src, '/app'], ['sync+restart', path.join(src, 'sub'), '/sub'], ['rebuild', path.join(dir, 'req.txt'), undefined],
    ]);
    assert.deepEqual(warnings, [`path '${path.join(dir, 'mounted/x')}' also declared by a bind mount volume, this path won't be monitored!`]);
  });

  it('maps host paths to container paths, less ignore, .dockerignore, .git and editor files', () => {
    const sync = rules[0];
    assert.equal(mapPath(sync, path.join(src, 'a.txt')), '/app/a.txt');
    assert.equal(mapPath(sync, path.join(src, 'sub/deep/c')), '/app/sub/deep/c');
    assert.equal(mapPath(sync, src), '/app');
    assert.equal(mapPath(sync, path.join(src, 'node_modules/m.js')), undefined);
    assert.equal(mapPath(sync, path.join(src, 'x.log')), undefined, '.dockerignore');
    assert.equal(mapPath(sync, path.join(dir, 'srcx/a')), undefined, 'a sibling with the same prefix');
    assert.equal(mapPath(rules[1], path.join(src, 'sub/b.md')), undefined, 'include');
    assert.equal(mapPath(rules[2], path.join(dir, 'req.txt')), '');
    for (const f of ['.git/HEAD', 'sub/.a.txt.swp', 'a.txt~', '4913', '.#a.txt', '#a#', '.idea/x']) assert.ok(isEphemeral(f), f);
    assert.equal(isEphemeral('sub/a.txt'), false);
    assert.equal(mapPath(sync, path.join(src, 'sub/.git/config')), undefined);
  });

  it('plans a batch: rebuilds, syncs per service (each path once) and restarts', () => {
    const plan = planBatch(rules, [path.join(src, 'a.txt'), path.join(src, 'sub/b.txt'), path.join(dir, 'req.txt'), path.join(src, 'a.txt'), path.join(dir, 'other')]);
    assert.deepEqual(plan.rebuild, ['web']);
    assert.deepEqual(plan.restart, ['web']);
    assert.deepEqual(plan.sync.get('web'), [
      { host: path.join(src, 'a.txt'), container: '/app/a.txt' },
      { host: path.join(src, 'sub/b.txt'), container: '/app/sub/b.txt' },
      { host: path.join(src, 'sub/b.txt'), container: '/sub/b.txt' },
    ]);
    assert.deepEqual(planBatch(rules, [path.join(src, 'x.log')]), { rebuild: [], sync: new Map(), restart: [] });
  });

  it('lists the initial files of a rule, and watches each directory once', () => {
    assert.deepEqual(initialFiles(rules[0]).map((m) => m.container), ['/app/a.txt', '/app/sub/b.txt']);
    assert.deepEqual(watchRoots([src, path.join(src, 'sub'), path.join(dir, 'req.txt'), src]), [{ dir: src, recursive: true }, { dir, recursive: false }]);
  });

  it('refuses rebuild without a build section', () => {
    put('bad.yaml', 'services:\n  a:\n    image: busybox\n    develop:\n      watch: [{path: ., action: rebuild}]\n');
    const bad = loadProject({ files: ['bad.yaml'], envFiles: [], profiles: [], env: {}, cwd: dir });
    assert.throws(() => watchRules(bad, ['a']), /can't watch service "a" with action rebuild without a build context/);
  });
});
