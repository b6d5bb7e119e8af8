/** Containers outlive berthd: kill -9 the daemon, start it again, and everything is reconciled. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BERTH, TestDaemon } from '../helpers/daemon';

const d = new TestDaemon('restart');

before(async () => {
  await d.start();
  d.importBusybox();
});
after(() => d.stop());

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('daemon crash and restart', () => {
  it('a running container keeps running and is managed again', async () => {
    const id = d.berth(['run', '-d', '--name', 'survivor', 'busybox', 'sh', '-c', 'echo before; exec sleep 1000']).stdout.trim();
    assert.match(id, /^[0-9a-f]{64}$/);
    const pid = Number(d.berth(['inspect', '-f', '{{.State.Pid}}', id]).stdout);
    await d.crash();
    assert.ok(fs.existsSync(`/proc/${pid}`), 'the container process must survive the daemon');
    await d.start();
    const ps = d.berth(['ps']);
    assert.match(ps.stdout, /Up .*survivor/, ps.stderr + d.log().slice(-3000));
    const ex = d.berth(['exec', 'survivor', 'echo', 'still here']);
    assert.equal(ex.stdout, 'still here\n', ex.stderr + d.log().slice(-2000));
    assert.equal(d.berth(['stop', '-t', '0', 'survivor']).status, 0);
    assert.equal(d.berth(['logs', 'survivor']).stdout, 'before\n');
    assert.equal(d.berth(['rm', 'survivor']).status, 0);
  });

  it('a container that exits while the daemon is down has its exit code and logs', async () => {
    d.berth(['run', '-d', '--name', 'quitter', 'busybox', 'sh', '-c', 'sleep 1; echo bye; exit 9']);
    await d.crash();
    await sleep(2000);
    await d.start();
    const insp = d.berth(['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', 'quitter']);
    assert.equal(insp.stdout, 'exited 9\n', insp.stderr + d.log().slice(-2000));
    assert.equal(d.berth(['logs', 'quitter']).stdout, 'bye\n');
    assert.equal(d.berth(['rm', 'quitter']).status, 0);
  });

  it('kill -9 during an import leaves no half image', async () => {
    const dir = fs.mkdtempSync('/var/tmp/berth-big-');
    try {
      fs.mkdirSync(path.join(dir, 'root'));
      fs.writeFileSync(path.join(dir, 'root/big'), Buffer.alloc(64 << 20, 7));
      spawnSync('tar', ['-cf', path.join(dir, 'big.tar'), '-C', path.join(dir, 'root'), '.']);
      const imp = spawn(BERTH, ['import', path.join(dir, 'big.tar'), 'half:1'], { env: d.env, stdio: 'ignore' });
      const impExited = new Promise((r) => imp.once('exit', r));
      await sleep(150);
      await d.crash();
      await impExited;
      await d.start();
      const listed = d.berth(['images', '--format', '{{.Repository}}:{{.Tag}}']).stdout;
      if (listed.includes('half:1')) {
        // The import finished before the kill: then the image must be whole and usable.
        assert.equal(d.berth(['run', '--rm', 'half:1', 'true']).status, 127);
      }
      const ingest = path.join(d.dataRoot, 'image/content/ingest');
      const left = fs.existsSync(ingest) ? fs.readdirSync(ingest) : [];
      assert.deepEqual(left, [], 'no temp blobs survive a restart');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
