/** BuildKit's terminal view of a build (`berth build --progress=tty`), frame by frame. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { renderFrame } from '../../src/cli/commands/build-progress';

describe('build progress tty frame', () => {
  const t = (s: number): Date => new Date(1_700_000_000_000 + s * 1000);

  it('a header with the count, a line per step with its time, the running step\'s last lines, FINISHED at the end', () => {
    const steps = [
      { name: '[1/2] FROM busybox', started: t(0), completed: t(0), cached: false, tail: [] },
      { name: '[2/2] RUN make', started: t(0), cached: false, tail: ['compiling a', 'compiling b'] },
    ];
    assert.deepEqual(renderFrame(steps, 1.5, t(1.2), false, 40), [
      '[+] Building 1.5s (1/2)',
      ' => [1/2] FROM busybox              0.0s',
      ' => [2/2] RUN make                  1.2s',
      ' => => # compiling a',
      ' => => # compiling b',
    ]);
    const done = renderFrame([steps[0], { ...steps[1], completed: t(2), cached: true }], 2.5, t(2.5), true, 40);
    assert.deepEqual(done, ['[+] Building 2.5s (2/2) FINISHED', ' => [1/2] FROM busybox              0.0s', ' => CACHED [2/2] RUN make           2.0s']);
  });

  it('a failed step says ERROR and keeps its output; long names are cut to the width', () => {
    const lines = renderFrame([{ name: `[1/1] RUN ${'x'.repeat(60)}`, started: t(0), completed: t(1), cached: false, error: 'exit 1', tail: ['boom'] }], 1, t(1), true, 40);
    assert.equal(lines[0], '[+] Building 1.0s (1/1) FAILED');
    assert.equal(lines[1].length, 40);
    assert.match(lines[1], /^ => ERROR \[1\/1\] RUN x+\.\.\. 1\.0s$/);
    assert.equal(lines[2], ' => => # boom');
  });
});
