import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { applyChange, applyChanges, splitWords } from '../../src/image/changes';

test('CMD and ENTRYPOINT: JSON form as is, shell form through /bin/sh -c, bad JSON falls back to shell form', () => {
  assert.deepEqual(applyChange({}, 'CMD ["sh"]').Cmd, ['sh']);
  assert.deepEqual(applyChange({}, 'cmd echo "hi there"').Cmd, ['/bin/sh', '-c', 'echo "hi there"']);
  assert.deepEqual(applyChange({}, 'ENTRYPOINT ["/bin/tini", "--"]').Entrypoint, ['/bin/tini', '--']);
  assert.deepEqual(applyChange({}, 'CMD [sh]').Cmd, ['/bin/sh', '-c', '[sh]']);
  assert.deepEqual(applyChange({ Shell: ['/bin/ash', '-eo'] }, 'CMD ls').Cmd, ['/bin/ash', '-eo', 'ls']);
});

test('ENV: key=value pairs with quotes, the legacy space form, replacing an existing key', () => {
  const c = applyChanges({ Env: ['PATH=/bin', 'A=0'] }, ['ENV A=1 B="two words" C=x\\ y', 'ENV LEGACY some value']);
  assert.deepEqual(c.Env, ['PATH=/bin', 'A=1', 'B=two words', 'C=x y', 'LEGACY=some value']);
  assert.throws(() => applyChange({}, 'ENV =x'), /names can not be blank/);
  assert.throws(() => applyChange({}, 'ENV'), /requires at least one argument/);
});

test('WORKDIR is resolved against the previous one; USER, STOPSIGNAL take one word', () => {
  const c = applyChanges({}, ['WORKDIR /app', 'WORKDIR sub', 'USER nobody', 'STOPSIGNAL SIGQUIT']);
  assert.equal(c.WorkingDir, '/app/sub');
  assert.equal(c.User, 'nobody');
  assert.equal(c.StopSignal, 'SIGQUIT');
  assert.throws(() => applyChange({}, 'USER a b'), /exactly one argument/);
});

test('EXPOSE, LABEL, VOLUME', () => {
  const c = applyChanges({}, ['EXPOSE 80 53/udp 8000-8001', 'LABEL a=b "c d"=e', 'LABEL old style', 'VOLUME ["/data"]', 'VOLUME /a /b']);
  assert.deepEqual(Object.keys(c.ExposedPorts ?? {}), ['80/tcp', '53/udp', '8000/tcp', '8001/tcp']);
  assert.deepEqual(c.Labels, { a: 'b', 'c d': 'e', old: 'style' });
  assert.deepEqual(Object.keys(c.Volumes ?? {}), ['/data', '/a', '/b']);
  assert.throws(() => applyChange({}, 'EXPOSE http'), /invalid containerPort: http/);
});

test('instructions that are not config changes are refused with docker wording', () => {
  assert.throws(() => applyChange({}, 'RUN rm -rf /'), { message: 'RUN is not a valid change command' });
  assert.throws(() => applyChange({}, 'FROM busybox'), { message: 'FROM is not a valid change command' });
});

test('the input config is not modified', () => {
  const before = { Env: ['A=1'] };
  applyChange(before, 'ENV A=2');
  assert.deepEqual(before, { Env: ['A=1'] });
});

test('splitWords', () => {
  assert.deepEqual(splitWords(`a "b c" 'd "e"' f\\ g ""`), ['a', 'b c', 'd "e"', 'f g', '']);
  assert.throws(() => splitWords('"open'), /unterminated quote/);
});
