import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { expandWord, lookupFrom, MAX_EXPANSION, processWord, StageScope } from '../../src/build/expand';

const env = lookupFrom({ HOME: '/root', EMPTY: '', SPACED: 'a  b', NAME: 'app' });
const x = (s: string, escape?: string): string => expandWord(s, env, { escape });

test('expand: $VAR and ${VAR}', () => {
  assert.equal(x('$HOME/x'), '/root/x');
  assert.equal(x('${HOME}x'), '/rootx');
  assert.equal(x('$HOMEx'), '');
  assert.equal(x('$UNSET-$NAME'), '-app');
  assert.equal(x('cost: $'), 'cost: $');
  assert.equal(x('$1abc'), 'abc');
});

test('expand: default and alternative modifiers (with and without colon)', () => {
  assert.equal(x('${UNSET:-dflt}'), 'dflt');
  assert.equal(x('${EMPTY:-dflt}'), 'dflt');
  assert.equal(x('${EMPTY-dflt}'), '');
  assert.equal(x('${UNSET-dflt}'), 'dflt');
  assert.equal(x('${NAME:-dflt}'), 'app');
  assert.equal(x('${NAME:+alt}'), 'alt');
  assert.equal(x('${EMPTY:+alt}'), '');
  assert.equal(x('${EMPTY+alt}'), 'alt');
  assert.equal(x('${UNSET+alt}'), '');
  assert.equal(x('${UNSET:-${NAME}-x}'), 'app-x');
  assert.equal(x('${NAME:?must be set}'), 'app');
  assert.throws(() => x('${UNSET:?must be set}'), /UNSET: must be set/);
});

test('expand: quotes and escapes', () => {
  assert.equal(x('\\$HOME'), '$HOME');
  assert.equal(x("'$HOME'"), '$HOME');
  assert.equal(x('"$HOME \\"q\\" \\x"'), '/root "q" \\x');
  assert.equal(x('a\\ b'), 'a b');
  assert.equal(x('`$HOME', '`'), '$HOME');
  assert.equal(x('c:\\dir', '`'), 'c:\\dir');
});

test('expand: syntax errors', () => {
  assert.throws(() => x('${HOME'), /missing '}'/);
  assert.throws(() => x('${}'), /bad substitution/);
  assert.throws(() => x('"open'), /matching double-quote/);
  assert.throws(() => x("'open"), /matching single-quote/);
  assert.throws(() => x('${HOME%x}'), /missing ':' in substitution/);
  assert.throws(() => x('${HOME:=x}'), /unsupported modifier \(=\)/);
});

test('expand: word splitting keeps quoted spaces, splits variable values', () => {
  assert.deepEqual(processWord('a "b c" $SPACED', env).words, ['a', 'b c', 'a', 'b']);
  assert.deepEqual([...processWord('$HOME ${UNSET:-$NAME}', env).used].sort(), ['HOME', 'NAME', 'UNSET']);
});

test('expand: raw mode substitutes but keeps quotes (heredoc bodies)', () => {
  assert.equal(expandWord('echo "$NAME" \'$HOME\' \\$X \\n', env, { raw: true }), 'echo "app" \'/root\' $X \\n');
});

test('scope: ARG before FROM is only visible after re-declaration, build args override defaults', () => {
  const globals = StageScope.globals([{ name: 'VERSION', value: '1.0' }, { name: 'IMG', value: 'base:$VERSION' }], { VERSION: '2.0' });
  assert.deepEqual([...globals], [['VERSION', '2.0'], ['IMG', 'base:2.0']]);
  const s = new StageScope({ VERSION: '2.0', OTHER: 'o' }, globals);
  assert.equal(s.lookup('VERSION'), undefined);
  assert.equal(s.lookup('OTHER'), undefined, 'an undeclared build arg is invisible');
  s.declareArg('VERSION', undefined);
  assert.equal(s.lookup('VERSION'), '2.0');
  s.declareArg('IMG', undefined);
  assert.equal(s.lookup('IMG'), 'base:2.0');
  s.declareArg('OTHER', 'default');
  assert.equal(s.lookup('OTHER'), 'o');
  s.declareArg('NOVALUE', undefined);
  assert.equal(s.lookup('NOVALUE'), undefined);
  assert.deepEqual(s.argValues(), { VERSION: '2.0', IMG: 'base:2.0', OTHER: 'o' });
});

test('scope: ENV overrides ARG, image env is inherited, proxy args need no declaration', () => {
  const s = new StageScope({ A: 'from-arg', HTTP_PROXY: 'http://proxy:3128' }, new Map(), ['PATH=/usr/bin', 'EMPTY=']);
  s.declareArg('A', 'dflt');
  assert.equal(s.lookup('A'), 'from-arg');
  s.setEnv('A', 'from-env');
  assert.equal(s.lookup('A'), 'from-env');
  assert.equal(s.lookup('PATH'), '/usr/bin');
  assert.equal(s.lookup('EMPTY'), '');
  assert.equal(s.lookup('HTTP_PROXY'), 'http://proxy:3128');
  assert.deepEqual(s.envList(), ['PATH=/usr/bin', 'EMPTY=', 'A=from-env']);
  assert.deepEqual(s.runEnv(), ['HTTP_PROXY=http://proxy:3128'], 'A is shadowed by ENV; proxy is passed');
  assert.deepEqual(s.argValues(), { A: 'from-arg' }, 'undeclared proxy args stay out of the cache key');
});

test('expand: an ARG bomb stops at MAX_EXPANSION with a clear error, quickly; a big literal is not expansion', () => {
  const vars = new Map<string, string>([['a0', 'x'.repeat(10)]]);
  const started = Date.now();
  assert.throws(() => {
    for (let i = 1; i <= 10; i++) vars.set(`a${i}`, expandWord(`$a${i - 1}`.repeat(10), lookupFrom(vars)));
  }, new RegExp(`variable expansion is larger than ${MAX_EXPANSION} bytes`));
  assert.ok(Date.now() - started < 5000, `stopped in ${Date.now() - started} ms`);
  assert.equal(vars.size, 6, 'a5 (1 MB) still expands; a6 is refused');
  assert.equal(expandWord('x'.repeat(2 * MAX_EXPANSION), env).length, 2 * MAX_EXPANSION);
});
