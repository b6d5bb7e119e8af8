/** matchCacheFrom: docker's cache-from rules (parent chain, next history entry, layer or not, last step's config). */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CacheFromSources, matchCacheFrom, onTheWay, type StepOutcome } from '../../src/build/cachefrom';
import { scratchState, type ImageState } from '../../src/image/commit';
import type { HistoryEntry } from '../../src/image/types';

const d = (n: number): string => `sha256:${String(n).repeat(64).slice(0, 64)}`;
const desc = (n: number) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: d(n), size: n });

/** An image of `steps` (created_by, layer number or undefined for a config-only step) with config `cmd`. */
function image(id: string, steps: Array<[string, number?]>, cmd = ['sh']): ImageState {
  const base = scratchState();
  const history: HistoryEntry[] = steps.map(([by, layer]) => ({ created: '2024-01-01T00:00:00Z', created_by: by, ...(layer === undefined ? { empty_layer: true } : {}) }));
  const layers = steps.filter(([, l]) => l !== undefined).map(([, l]) => l as number);
  return {
    id,
    config: { ...base.config, config: { Cmd: cmd }, history, rootfs: { type: 'layers', diff_ids: layers.map((l) => d(l + 100)) } },
    layers: layers.map(desc),
  };
}

const run = (by: string, cmd = ['sh']): StepOutcome => ({ createdBy: by, layer: true, config: { Cmd: cmd } });

describe('matchCacheFrom', () => {
  const base = image('sha256:base', [['ADD rootfs', 1], ['CMD sh']]);
  const target = image('sha256:target', [['ADD rootfs', 1], ['CMD sh'], ['RUN a', 2], ['ENV X=1'], ['RUN b', 3]]);

  it('a step inside the source: its history entry and layer on the parent', () => {
    const hit = matchCacheFrom([target], base, run('RUN a'));
    assert.deepEqual(hit, { kind: 'step', history: target.config.history?.[2], layer: { diffId: d(102), desc: desc(2) }, source: target });
    const env = matchCacheFrom([target], image('p', [['ADD rootfs', 1], ['CMD sh'], ['RUN a', 2]]), { createdBy: 'ENV X=1', layer: false, config: {} });
    assert.deepEqual(env, { kind: 'step', history: target.config.history?.[3], layer: undefined, source: target });
  });

  it('the last step with the same config is the source itself', () => {
    const parent = image('p', [['ADD rootfs', 1], ['CMD sh'], ['RUN a', 2], ['ENV X=1']]);
    assert.deepEqual(matchCacheFrom([target], parent, run('RUN b')), { kind: 'image', id: 'sha256:target' });
    assert.equal(matchCacheFrom([target], parent, run('RUN b', ['other']))?.kind, 'step');
  });

  it('misses: another command, a layer where the source has none, another parent chain or platform', () => {
    assert.equal(matchCacheFrom([target], base, run('RUN z')), undefined);
    assert.equal(matchCacheFrom([target], base, { createdBy: 'RUN a', layer: false, config: { Cmd: ['sh'] } }), undefined);
    assert.equal(matchCacheFrom([target], image('o', [['ADD other', 9], ['CMD sh']]), run('RUN a')), undefined);
    const arm = { ...base, config: { ...base.config, architecture: 'riscv64' } };
    assert.equal(matchCacheFrom([target], arm, run('RUN a')), undefined);
    assert.equal(matchCacheFrom([base], base, run('RUN a')), undefined, 'nothing after the parent');
  });

  it('from scratch: the first entry of any source', () => {
    assert.equal(matchCacheFrom([base], scratchState(), run('ADD rootfs'))?.kind, 'step');
  });

  it('onTheWay: the source itself or an image it was built on', () => {
    assert.ok(onTheWay([target], target));
    assert.ok(onTheWay([target], image('p', [['ADD rootfs', 1], ['CMD sh'], ['RUN a', 2]])));
    assert.ok(!onTheWay([target], image('q', [['ADD rootfs', 1], ['CMD sh'], ['RUN other', 2]])));
    assert.ok(!onTheWay([], target));
  });

  it('after a match inside one source, only that source is looked at (docker narrows to it)', () => {
    // two sources share "RUN a"; the first continues with "RUN b", the second with "RUN c"
    const first = image('sha256:first', [['ADD rootfs', 1], ['CMD sh'], ['RUN a', 2], ['RUN b', 3]]);
    const second = image('sha256:second', [['ADD rootfs', 1], ['CMD sh'], ['RUN a', 2], ['RUN c', 4]]);
    const afterA = image('sha256:aftera', [['ADD rootfs', 1], ['CMD sh'], ['RUN a', 2]]);
    const sources = new CacheFromSources([first, second]);
    assert.equal(sources.match(base, run('RUN a'))?.kind, 'step');
    assert.deepEqual(sources.list, [first]);
    assert.equal(sources.match(afterA, run('RUN c')), undefined, 'the second source is no longer looked at');
    assert.equal(new CacheFromSources([first, second]).match(afterA, run('RUN c'))?.kind, 'image', 'without the narrowing it would hit');
  });
});
