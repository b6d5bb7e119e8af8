/**
 * Crash-safe removal (issue #14): `rm` of a container, image, volume or network renames the object into the data
 * root's trash, then deletes it. berthd is killed (SIGKILL, through the `trash:<kind>` failpoint) right after the
 * rename, the worst moment: the object has left its name but its bytes are all there. The next start must finish
 * the removal: the object is gone for good (no tag, no record, no bridge left), the trash is empty and
 * `berth system check` finds nothing.
 */
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { TestDaemon, type RunResult } from '../helpers/daemon';

describe('crash-safe removal: killed between the rename into the trash and the delete', () => {
  const d = new TestDaemon('removal');
  const trash = () => fs.readdirSync(path.join(d.dataRoot, 'trash'));
  const ok = (r: RunResult, what: string): string => {
    assert.equal(r.status, 0, `${what}: ${r.stderr}\n${r.stdout}`);
    return r.stdout.trim();
  };
  /** Bridges of this daemon's user networks (the default bridge is d.bridge itself). */
  const userBridges = (): string[] =>
    (spawnSync('ip', ['-o', 'link', 'show', 'type', 'bridge']).stdout?.toString() ?? '').split('\n').map((l) => l.split(': ')[1]?.split('@')[0] ?? '').filter((b) => b.startsWith(d.bridge) && b !== d.bridge);

  /** Restart berthd with the failpoint armed, run the removal (which kills it), then restart it clean. */
  const crashIn = async (kind: string, rm: string[]): Promise<RunResult> => {
    process.kill(d.pid!, 'SIGTERM');
    await d.exited();
    process.env.BERTH_FAILPOINTS = `trash:${kind}`;
    try {
      await d.start();
    } finally {
      delete process.env.BERTH_FAILPOINTS;
    }
    const r = d.berth(rm);
    assert.equal(await d.exited(), null, 'berthd died at the failpoint (killed by a signal, no exit code)');
    assert.ok(trash().some((n) => n.startsWith(`${kind}-`)), `the ${kind} was in the trash when berthd died: ${trash().join(', ')}`);
    await d.start();
    return r;
  };
  const checkClean = (): void => {
    const r = d.berth(['system', 'check']);
    assert.equal(r.status, 0, `system check after the restart: ${r.stdout}${r.stderr}`);
    assert.deepEqual(trash(), [], 'the start finished the removal');
  };

  before(async () => {
    await d.start();
    d.importBusybox();
  });
  after(() => d.stop());

  it('container: gone, its files too', async () => {
    if (!d.pid) await d.start(); // an earlier case failed with the daemon down
    const id = ok(d.berth(['create', '--name', 'rm-c', 'busybox', 'true']), 'create');
    const r = await crashIn('container', ['rm', 'rm-c']);
    assert.notEqual(r.status, 0, 'the client saw the daemon die');
    assert.match(d.berth(['inspect', 'rm-c']).stderr, /No such object/);
    assert.ok(!fs.existsSync(path.join(d.dataRoot, 'containers', id)));
    checkClean();
  });

  it('image: gone with every tag and its own layer, the shared base stays', async () => {
    if (!d.pid) await d.start(); // an earlier case failed with the daemon down
    ok(d.berth(['run', '--name', 'rm-mk', 'busybox', 'sh', '-c', 'echo own > /own']), 'run');
    const id = ok(d.berth(['commit', 'rm-mk', 'rm-img:1']), 'commit');
    ok(d.berth(['tag', 'rm-img:1', 'rm-img:2']), 'tag');
    ok(d.berth(['rm', 'rm-mk']), 'rm');
    const layers = () => fs.readdirSync(path.join(d.dataRoot, 'image', 'layers')).filter((n) => /^[0-9a-f]{64}$/.test(n)).length;
    const before = layers();
    await crashIn('image', ['rmi', '-f', id]);
    assert.equal(ok(d.berth(['images', '-q', 'rm-img']), 'images'), '', 'no tag of it is left');
    assert.match(d.berth(['image', 'inspect', id]).stderr, /No such image/);
    assert.equal(layers(), before - 1, 'its own layer went, busybox stays');
    ok(d.berth(['run', '--rm', 'busybox', 'true']), 'busybox still runs');
    checkClean();
  });

  it('volume: gone, its data too', async () => {
    if (!d.pid) await d.start(); // an earlier case failed with the daemon down
    ok(d.berth(['run', '--rm', '-v', 'rm-v:/data', 'busybox', 'sh', '-c', 'echo kept > /data/f']), 'run');
    await crashIn('volume', ['volume', 'rm', 'rm-v']);
    assert.match(d.berth(['volume', 'inspect', 'rm-v']).stderr, /no such volume/i);
    assert.ok(!fs.existsSync(path.join(d.dataRoot, 'volumes', 'rm-v')));
    checkClean();
  });

  it('network: gone, its bridge too', async () => {
    if (!d.pid) await d.start(); // an earlier case failed with the daemon down
    ok(d.berth(['network', 'create', 'rm-n']), 'network create');
    ok(d.berth(['run', '-d', '--name', 'rm-n-user', '--network', 'rm-n', 'busybox', 'sleep', '60']), 'run');
    ok(d.berth(['rm', '-f', 'rm-n-user']), 'rm');
    await crashIn('network', ['network', 'rm', 'rm-n']);
    assert.match(d.berth(['network', 'inspect', 'rm-n']).stderr, /not found/);
    assert.deepEqual(userBridges(), [], 'no bridge of a user network is left');
    ok(d.berth(['network', 'create', 'rm-n']), 'the name is free again');
    ok(d.berth(['network', 'rm', 'rm-n']), 'network rm');
    checkClean();
  });
});
