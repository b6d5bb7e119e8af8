import { test } from 'node:test';
import assert from 'node:assert/strict';
import { absoluteCachePaths, parseCacheSpec, rejoinCacheSpecs } from '../../src/build/buildflags';
import { CACHE_CONFIG_TYPE, cacheConfigOf, chainOf, inlineCacheOf, stepsOfCacheConfig, stepsOfInlineCache, type CachedStep } from '../../src/build/cacheformat';

const key = (c: string): string => `sha256:${c.repeat(64)}`;
const layer = (blob: string, diff: string): CachedStep['layer'] => ({ desc: { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: key(blob), size: 10 }, diffId: key(diff) });

const STEPS: CachedStep[] = [
  { key: key('1'), created: '2026-01-01T00:00:01Z' },
  { key: key('2'), parentKey: key('1'), created: '2026-01-01T00:00:02Z', layer: layer('a', 'b') },
  { key: key('3'), parentKey: key('2'), created: '2026-01-01T00:00:03Z' },
  { key: key('4'), parentKey: key('3'), created: '2026-01-01T00:00:04Z', layer: layer('c', 'd') },
];

test('cache config: BuildKit layout (layers with parents and annotations, records linked by inputs) and back', () => {
  const { config, blobs } = cacheConfigOf([...STEPS, STEPS[1]]);
  assert.equal(CACHE_CONFIG_TYPE, 'application/vnd.buildkit.cacheconfig.v0');
  assert.deepEqual(blobs.map((b) => b.digest), [key('a'), key('c')]);
  assert.equal(blobs[0].annotations?.['containerd.io/uncompressed'], key('b'));
  assert.deepEqual(config.layers?.map((l) => [l.blob, l.parent, l.annotations?.diffID]), [[key('a'), -1, key('b')], [key('c'), 0, key('d')]]);
  assert.deepEqual(config.records?.[1], { digest: key('2'), layers: [{ layer: 0, createdAt: '2026-01-01T00:00:02Z' }], inputs: [[{ link: 0 }]] });
  assert.deepEqual(config.records?.[2], { digest: key('3'), chains: [{ layers: [], createdAt: '2026-01-01T00:00:03Z' }], inputs: [[{ link: 1 }]] });
  const back = stepsOfCacheConfig(JSON.parse(JSON.stringify(config)));
  assert.deepEqual([...back.values()], STEPS.map(({ parentKey: _p, ...s }) => s));
});

test('cache config: records Berth cannot use are skipped, not fatal', () => {
  const steps = stepsOfCacheConfig({
    layers: [{ blob: key('a') }],
    records: [{ digest: 'sha256:short' }, { digest: key('5'), layers: [{ layer: 0, createdAt: 'x' }] }, { digest: key('6'), layers: [{ layer: 7, createdAt: 'x' }] }, { digest: key('7') }],
  });
  assert.equal(steps.size, 0);
});

test('inline cache: layers counted in the image; steps whose layer the image lacks are left out', () => {
  const diffIds = [key('0'), key('b'), key('d')];
  const value = inlineCacheOf([...STEPS, { key: key('8'), created: 't', layer: layer('e', 'f') }], diffIds);
  const recs = JSON.parse(Buffer.from(value, 'base64').toString('utf8')) as { digest: string; layers?: { layer: number }[] }[];
  assert.deepEqual(recs.map((r) => [r.digest, r.layers?.[0].layer]), [[key('1'), undefined], [key('2'), 1], [key('3'), undefined], [key('4'), 2]]);
  const layers = diffIds.map((_, i) => ({ mediaType: 'm', digest: key(String(i + 1)), size: i }));
  const back = stepsOfInlineCache(value, layers, diffIds);
  assert.deepEqual(back.get(key('4'))?.layer, { desc: layers[2], diffId: key('d') });
  assert.equal(stepsOfInlineCache('not json', layers, diffIds).size, 0);
});

test('--cache-to / --cache-from values as buildx reads them', () => {
  assert.equal(parseCacheSpec('user/app:cache', 'cache-from'), undefined);
  assert.deepEqual(parseCacheSpec('type=local,dest=/tmp/c', 'cache-to'), { type: 'local', attrs: { dest: '/tmp/c' } });
  assert.deepEqual(parseCacheSpec('type=registry,ref=localhost:5000/a:b,mode=max', 'cache-to'), { type: 'registry', attrs: { ref: 'localhost:5000/a:b', mode: 'max' } });
  assert.deepEqual(parseCacheSpec('type=inline', 'cache-to'), { type: 'inline', attrs: {} });
  assert.throws(() => parseCacheSpec('type=inline', 'cache-from'), /unsupported cache type "inline"/);
  assert.throws(() => parseCacheSpec('type=s3,bucket=b', 'cache-to'), /unsupported cache type "s3" \(use local, registry, inline\)/);
  assert.throws(() => parseCacheSpec('type=local', 'cache-from'), /type=local needs src=/);
  assert.throws(() => parseCacheSpec('type=local,dest=rel', 'cache-to'), /dest must be an absolute path/);
  assert.equal(absoluteCachePaths('type=local,dest=out/c', '/work'), 'type=local,dest=/work/out/c');
  assert.equal(absoluteCachePaths('type=registry,ref=r', '/work'), 'type=registry,ref=r');
  assert.deepEqual(rejoinCacheSpecs(['img:1', 'type=local', 'src=/c', 'type=registry', 'ref=r:1', 'img:2']), ['img:1', 'type=local,src=/c', 'type=registry,ref=r:1', 'img:2']);
});

test("mode=min: the chain of the final step's parents, first to last", () => {
  const other = { key: key('9'), created: 't' };
  assert.deepEqual(chainOf([other, ...STEPS], key('4')).map((s) => s.key), [key('1'), key('2'), key('3'), key('4')]);
  assert.deepEqual(chainOf(STEPS, key('2')).map((s) => s.key), [key('1'), key('2')]);
  assert.deepEqual(chainOf(STEPS, undefined), []);
});
