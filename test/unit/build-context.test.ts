import { resolveInRoot } from '../../src/common/rootpath';
import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  goGlobMatch, hasWildcards, IgnoreMatcher, normalizeDest, parseDockerignore, resolveCopySources,
} from '../../src/build/context';

let ctx = '';
const write = (rel: string, data = rel): void => {
  fs.mkdirSync(path.join(ctx, path.dirname(rel)), { recursive: true });
  fs.writeFileSync(path.join(ctx, rel), data);
};

before(() => {
  ctx = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-ctx-'));
  write('app.py');
  write('requirements.txt');
  write('README.md');
  write('src/main.go');
  write('src/util.go');
  write('src/sub/deep.txt');
  write('docs/a.md');
  write('secret.key');
  fs.symlinkSync('src', path.join(ctx, 'link-to-src'));
  fs.symlinkSync('/etc', path.join(ctx, 'abs-link'));
  fs.symlinkSync('../../../../outside', path.join(ctx, 'up-link'));
  write('etc/hosts', 'context hosts');
});
after(() => fs.rmSync(ctx, { recursive: true, force: true }));

test('dockerignore: parsing', () => {
  assert.deepEqual(parseDockerignore('# comment\n\n  *.md  \n/abs/path/\n!README.md\n./x/../y\n! spaced\n'),
    ['*.md', 'abs/path', '!README.md', 'y', '!spaced']);
});

test('dockerignore: matching with exceptions, ** and parent directories', () => {
  const m = IgnoreMatcher.fromText('*.md\n!README.md\nsrc/**/*.txt\n**/*.key\nnode_modules\ntemp?\n');
  assert.equal(m.matches('docs/a.md'), false, '*.md only matches at the top level');
  assert.equal(m.matches('CHANGES.md'), true);
  assert.equal(m.matches('README.md'), false);
  assert.equal(m.matches('src/sub/deep.txt'), true);
  assert.equal(m.matches('src/top.txt'), true, '** matches zero directories');
  assert.equal(m.matches('a/b/c.key'), true);
  assert.equal(m.matches('secret.key'), true);
  assert.equal(m.matches('node_modules/x/y.js'), true, 'a matching parent excludes its content');
  assert.equal(m.matches('temp1'), true);
  assert.equal(m.matches('temp12'), false);
  assert.equal(m.matches('.'), false);
  const all = new IgnoreMatcher(['**', '!keep/**']);
  assert.equal(all.matches('x/y'), true);
  assert.equal(all.matches('keep/y'), false);
  assert.throws(() => new IgnoreMatcher(['!']), /illegal exclusion pattern/);
  assert.throws(() => new IgnoreMatcher(['[a-']), /syntax error in pattern/);
});

test('dockerignore: -, [, ], and \\ in patterns as docker\'s patternmatcher (no RegExp errors)', () => {
  const m = IgnoreMatcher.fromText('foo-bar\nx\\-y\nlog[0-9].txt\n[^a]z\nq\\[1\\]\nbr]\n');
  assert.equal(m.matches('foo-bar'), true);
  assert.equal(m.matches('x-y'), true, 'an escaped - is the character');
  assert.equal(m.matches('log5.txt'), true);
  assert.equal(m.matches('logx.txt'), false);
  assert.equal(m.matches('bz'), true, '[^a] negates');
  assert.equal(m.matches('az'), false);
  assert.equal(m.matches('q[1]'), true, 'escaped brackets are literal');
  assert.equal(m.matches('br]'), true, 'a ] outside a class is literal, as in Go');
  assert.throws(() => new IgnoreMatcher(['v[a-]x']), /syntax error in pattern/);
  assert.throws(() => new IgnoreMatcher(['a[b']), /syntax error in pattern/);
  assert.equal(goGlobMatch('*-?.txt', 'a-b.txt'), true);
  assert.equal(goGlobMatch('[a-c]-x', 'b-x'), true);
});

test('glob: Go filepath.Match semantics', () => {
  assert.equal(goGlobMatch('*.go', 'main.go'), true);
  assert.equal(goGlobMatch('*.go', 'src/main.go'), false);
  assert.equal(goGlobMatch('src/*.go', 'src/main.go'), true);
  assert.equal(goGlobMatch('a?c', 'abc'), true);
  assert.equal(goGlobMatch('a?c', 'a/c'), false);
  assert.equal(goGlobMatch('[a-c]x', 'bx'), true);
  assert.equal(goGlobMatch('[^a-c]x', 'dx'), true);
  assert.equal(goGlobMatch('[^a-c]x', 'bx'), false);
  assert.equal(goGlobMatch('\\*x', '*x'), true);
  assert.equal(goGlobMatch('\\*x', 'ax'), false);
  assert.equal(goGlobMatch('a.b', 'axb'), false);
  assert.throws(() => goGlobMatch('[]a]', 'a'), /syntax error in pattern/);
  assert.throws(() => goGlobMatch('x\\', 'x'), /syntax error in pattern/);
  assert.throws(() => goGlobMatch('[z-a]', 'a'), /syntax error in pattern/);
  assert.equal(hasWildcards('a/*.txt'), true);
  assert.equal(hasWildcards('a\\*b'), false);
  assert.equal(hasWildcards('plain'), false);
});

test('context: symlinks resolve inside the context, never outside', async () => {
  assert.equal(resolveInRoot(ctx, 'link-to-src/main.go'), 'src/main.go');
  assert.equal(resolveInRoot(ctx, 'abs-link/hosts'), 'etc/hosts');
  assert.equal(resolveInRoot(ctx, 'up-link'), 'outside');
  assert.equal(resolveInRoot(ctx, '.'), '.');
});

test('context: COPY sources (seed app) and docker destination rules', async () => {
  const c = (sources: string[], dest: string, extra: object = {}) =>
    resolveCopySources(ctx, { kind: 'COPY', sources, heredocs: [], dest, ...extra }, { workdir: '/app' });
  const req = await c(['requirements.txt'], '.');
  assert.deepEqual(req, { sources: [{ rel: 'requirements.txt', resolved: 'requirements.txt', isDir: false }], urls: [], gits: [], dest: '/app', destIsDir: false });
  const all = await c(['.'], '.');
  assert.deepEqual([all.sources, all.dest, all.destIsDir], [[{ rel: '.', resolved: '.', isDir: true }], '/app', true]);
  const glob = await c(['src/*.go', '*.txt'], './bin/');
  assert.deepEqual(glob.sources.map((s) => s.rel), ['src/main.go', 'src/util.go', 'requirements.txt']);
  assert.deepEqual([glob.dest, glob.destIsDir], ['/app/bin/', true]);
  const viaLink = await c(['link-to-src/main.go'], '/x');
  assert.deepEqual(viaLink.sources, [{ rel: 'link-to-src/main.go', resolved: 'src/main.go', isDir: false }]);
  await assert.rejects(c(['app.py', 'README.md'], '/dst'),
    /^Error: When using COPY with more than one source file, the destination must be a directory and end with a \/$/);
  await assert.rejects(c(['src/*.go'], '.'), /must be a directory and end with a \//);
  await assert.rejects(c(['missing.txt'], '.'),
    /COPY failed: file not found in build context or excluded by \.dockerignore: stat missing.txt: file does not exist/);
  await assert.rejects(c(['*.nothing'], '.'), /COPY failed: no source files were specified/);
  await assert.rejects(c(['../etc/passwd'], '.'), /COPY failed: forbidden path outside the build context: \.\.\/etc\/passwd/);
  await assert.rejects(c(['https://example.com/x'], '.'), /COPY failed: source can't be a URL for COPY/);
  await assert.rejects(c(['[a-'], '.'), /COPY failed: syntax error in pattern/);
  const hd = await c([], '/etc/conf', { heredocs: [{ name: 'EOF', content: 'x', expand: true, chomp: false, fd: 0 }] });
  assert.deepEqual([hd.sources, hd.dest], [[], '/etc/conf']);
});

test('context: ADD URLs and .dockerignore exclusions', async () => {
  const add = await resolveCopySources(ctx, { kind: 'ADD', sources: ['https://example.com/a.tgz', 'app.py'], heredocs: [], dest: '/opt/' });
  assert.deepEqual([add.urls, add.sources.map((s) => s.rel)], [['https://example.com/a.tgz'], ['app.py']]);
  const ignore = IgnoreMatcher.fromText('*.key\nsrc/sub\n');
  await assert.rejects(resolveCopySources(ctx, { kind: 'COPY', sources: ['secret.key'], heredocs: [], dest: '.' }, { ignore }),
    /excluded by \.dockerignore: stat secret.key/);
  const globbed = await resolveCopySources(ctx, { kind: 'COPY', sources: ['src/*'], heredocs: [], dest: '/s/' }, { ignore });
  assert.deepEqual(globbed.sources.map((s) => s.rel), ['src/main.go', 'src/util.go']);
});

test('normalizeDest keeps the trailing slash and resolves against WORKDIR', () => {
  assert.equal(normalizeDest('/app', '.'), '/app');
  assert.equal(normalizeDest('/app', './'), '/app/');
  assert.equal(normalizeDest('/app', 'bin/'), '/app/bin/');
  assert.equal(normalizeDest('/app', '/abs'), '/abs');
  assert.equal(normalizeDest('', 'x'), '/x');
});
