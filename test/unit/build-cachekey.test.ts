import { test, beforeEach, afterEach } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { hashSources, stepCacheKey } from '../../src/build/cachekey';
import { StageScope } from '../../src/build/expand';
import { evaluateInstruction, parseInstructions, type Instruction } from '../../src/build/instructions';

let ctx = '';
beforeEach(() => {
  ctx = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-cache-'));
  fs.mkdirSync(path.join(ctx, 'pkg'));
  fs.writeFileSync(path.join(ctx, 'requirements.txt'), 'flask==3.0\n');
  fs.writeFileSync(path.join(ctx, 'app.py'), 'print("hi")\n');
  fs.writeFileSync(path.join(ctx, 'pkg/mod.py'), 'x = 1\n');
  fs.symlinkSync('mod.py', path.join(ctx, 'pkg/alias.py'));
});
afterEach(() => fs.rmSync(ctx, { recursive: true, force: true }));

test('hashSources: mtime does not count; content, mode, names and symlink targets do', async () => {
  const h0 = await hashSources(ctx, ['.']);
  assert.match(h0, /^sha256:[0-9a-f]{64}$/);
  const later = new Date(Date.now() + 3600e3);
  fs.utimesSync(path.join(ctx, 'app.py'), later, later);
  fs.utimesSync(path.join(ctx, 'pkg'), later, later);
  assert.equal(await hashSources(ctx, ['.']), h0, 'touch keeps the cache');

  fs.writeFileSync(path.join(ctx, 'app.py'), 'print("bye")\n');
  const h1 = await hashSources(ctx, ['.']);
  assert.notEqual(h1, h0, 'content');
  fs.chmodSync(path.join(ctx, 'app.py'), 0o755);
  const h2 = await hashSources(ctx, ['.']);
  assert.notEqual(h2, h1, 'mode');
  fs.renameSync(path.join(ctx, 'pkg/mod.py'), path.join(ctx, 'pkg/mod2.py'));
  const h3 = await hashSources(ctx, ['.']);
  assert.notEqual(h3, h2, 'name');
  fs.unlinkSync(path.join(ctx, 'pkg/alias.py'));
  fs.symlinkSync('mod2.py', path.join(ctx, 'pkg/alias.py'));
  assert.notEqual(await hashSources(ctx, ['.']), h3, 'symlink target');
});

test('hashSources: only the selected paths count, in order; skip leaves paths out', async () => {
  const req = await hashSources(ctx, ['requirements.txt']);
  fs.writeFileSync(path.join(ctx, 'app.py'), 'changed\n');
  assert.equal(await hashSources(ctx, ['requirements.txt']), req, 'COPY requirements.txt stays cached when app.py changes');
  assert.notEqual(await hashSources(ctx, ['requirements.txt', 'app.py']), await hashSources(ctx, ['app.py', 'requirements.txt']));
  const withSkip = await hashSources(ctx, ['.'], (rel) => rel === 'app.py');
  fs.writeFileSync(path.join(ctx, 'app.py'), 'changed again\n');
  assert.equal(await hashSources(ctx, ['.'], (rel) => rel === 'app.py'), withSkip);
  await assert.rejects(hashSources(ctx, ['../x']), /forbidden path outside the build context/);
});

function evaluated(body: string, buildArgs: Record<string, string> = {}): Array<{ inst: Instruction; args: Record<string, string> }> {
  const scope = new StageScope(buildArgs);
  return parseInstructions(`FROM python-base\n${body}\n`).stages[0].instructions.map((i) => ({
    inst: evaluateInstruction(i, scope).inst,
    args: scope.argValues(),
  }));
}

test('stepCacheKey: parent, substituted instruction, args in scope and sources all count; line numbers do not', () => {
  const base = 'sha256:' + 'a'.repeat(64);
  const [run] = evaluated('RUN pip install -r requirements.txt');
  const k = stepCacheKey({ parent: base, instruction: run.inst, args: run.args });
  assert.match(k, /^sha256:[0-9a-f]{64}$/);
  const [moved] = evaluated('\n\nRUN pip install -r requirements.txt');
  assert.equal(stepCacheKey({ parent: base, instruction: moved.inst, args: moved.args }), k, 'only the location differs');
  assert.notEqual(stepCacheKey({ parent: 'sha256:' + 'b'.repeat(64), instruction: run.inst, args: run.args }), k);
  const [other] = evaluated('RUN pip install --no-cache-dir -r requirements.txt');
  assert.notEqual(stepCacheKey({ parent: base, instruction: other.inst, args: other.args }), k);

  const v1 = evaluated('ARG PY=3.11\nRUN echo $PY')[1];
  const v2 = evaluated('ARG PY=3.11\nRUN echo $PY', { PY: '3.12' })[1];
  assert.notEqual(stepCacheKey({ parent: base, instruction: v1.inst, args: v1.args }),
    stepCacheKey({ parent: base, instruction: v2.inst, args: v2.args }), 'a build arg used by RUN changes the key');
  const p1 = evaluated('RUN make', { HTTP_PROXY: 'http://a' })[0];
  const p2 = evaluated('RUN make', { HTTP_PROXY: 'http://b' })[0];
  assert.equal(stepCacheKey({ parent: base, instruction: p1.inst, args: p1.args }),
    stepCacheKey({ parent: base, instruction: p2.inst, args: p2.args }), 'undeclared proxy args do not');

  const c1 = evaluated('ENV DIR=/a\nCOPY x $DIR/')[1];
  const c2 = evaluated('ENV DIR=/b\nCOPY x $DIR/')[1];
  assert.notEqual(stepCacheKey({ parent: base, instruction: c1.inst }), stepCacheKey({ parent: base, instruction: c2.inst }),
    'the substituted destination counts');
  assert.notEqual(stepCacheKey({ parent: base, instruction: c1.inst, sources: 'sha256:1' }),
    stepCacheKey({ parent: base, instruction: c1.inst, sources: 'sha256:2' }), 'source content counts');
});
