import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CacheMounts, type CacheRequest } from '../../src/build/cachemounts';

const req = (over: Partial<CacheRequest> = {}): CacheRequest => ({ id: '/root/.cache', origin: '', sharing: 'shared', mode: 0o755, uid: 0, gid: 0, ...over });

test('cache mounts: shared reuses, private takes another instance while one is in use, locked waits', async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'cm-'));
  try {
    const c = new CacheMounts(root);
    const a = await c.acquire(req({ mode: 0o700, uid: 1000, gid: 1000 }));
    const st = fs.statSync(a.dir);
    assert.deepEqual([st.mode & 0o777, st.uid, st.gid], [0o700, 1000, 1000]);
    const b = await c.acquire(req());
    assert.equal(a.dir, b.dir, 'shared: the same dir');
    const p = await c.acquire(req({ sharing: 'private' }));
    assert.notEqual(p.dir, a.dir, 'private: another instance while in use');
    a.release(); b.release(); p.release();
    const p2 = await c.acquire(req({ sharing: 'private' }));
    assert.equal(p2.dir, a.dir, 'private: the first instance once free');
    p2.release();

    const order: string[] = [];
    const l1 = await c.acquire(req({ id: 'lock', sharing: 'locked' }));
    const waiting = c.acquire(req({ id: 'lock', sharing: 'locked' })).then((l) => { order.push('second'); return l; });
    await new Promise((r) => setTimeout(r, 30));
    order.push('first-release');
    l1.release();
    (await waiting).release();
    assert.deepEqual(order, ['first-release', 'second']);

    const other = await c.acquire(req({ id: 'other' }));
    assert.notEqual(other.dir, a.dir, 'another id, another cache');
    other.release();
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('cache mounts: a failed seed leaves nothing; prune by age, by storage cap, never one in use', async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'cm-'));
  try {
    const c = new CacheMounts(root);
    await assert.rejects(c.acquire(req({ id: 'seeded', seed: async () => { throw new Error('seed failed'); } })), /seed failed/);
    assert.deepEqual(fs.readdirSync(root), ['.tmp']);
    assert.deepEqual(fs.readdirSync(path.join(root, '.tmp')), []);

    for (const [id, size] of [['a', 1000], ['b', 2000]] as const) {
      const m = await c.acquire(req({ id }));
      fs.writeFileSync(path.join(m.dir, 'f'), Buffer.alloc(size));
      m.release();
    }
    const busy = await c.acquire(req({ id: 'busy' }));
    assert.deepEqual((await c.prune({ before: Date.now() - 3600_000 })).removed, [], 'all are fresh');
    const unused = (await c.records()).filter((r) => !r.InUse).reduce((n, r) => n + r.Size, 0);
    const capped = await c.prune({ keepStorage: unused - 1 });
    assert.equal(capped.removed.length, 1, 'the least recently used goes first until the rest fit');
    assert.ok(capped.reclaimed >= 1000);
    const all = await c.prune({});
    assert.equal(all.removed.length, 1, 'the one in use stays');
    assert.equal((await c.records()).length, 1);
    busy.release();
    assert.equal((await c.prune({})).removed.length, 1);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});
