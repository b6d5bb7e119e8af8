/**
 * Crash safety pieces one by one: the data-root lock, removal through the trash, `berth system check` finding (only
 * this daemon's) leftovers and broken images and repairing them, and a container whose conmon died.
 */
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BERTHD, TestDaemon, type RunResult } from '../helpers/daemon';

interface Report {
  Checked: { Blobs: number; Layers: number; Images: number; Containers: number };
  Problems: { Kind: string; Object: string; Problem: string; Repaired: boolean }[];
  Remaining: number;
}

describe('crash safety: lock, trash, system check', () => {
  const d = new TestDaemon('check');
  const other = new TestDaemon('check-other');
  let work: string;
  const cleanups: (() => void)[] = [];

  const ok = (r: RunResult, what: string): string => {
    assert.equal(r.status, 0, `${what}: ${r.stderr}\n${r.stdout}`);
    return r.stdout;
  };
  const check = (repair = false): { status: number; report: Report } => {
    const r = d.berth(['system', 'check', '--format', 'json', ...(repair ? ['--repair'] : [])]);
    return { status: r.status, report: JSON.parse(r.stdout) as Report };
  };
  const sh = (cmd: string, args: string[]): RunResult => {
    const r = spawnSync(cmd, args);
    return { status: r.status ?? -1, stdout: r.stdout?.toString() ?? '', stderr: r.stderr?.toString() ?? '' };
  };
  const idOf = (name: string): string => ok(d.berth(['inspect', '-f', '{{.Id}}', name]), 'inspect').trim();

  before(async () => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-check-'));
    await d.start();
    d.importBusybox();
  });

  after(async () => {
    for (const c of cleanups.reverse()) c();
    await other.stop();
    await d.stop();
    fs.rmSync(work, { recursive: true, force: true });
  });

  it('a second berthd on the same data root refuses and names the holder; kill -9 leaves no stale lock', async () => {
    const sock = path.join(d.execRoot, 'second.sock');
    const execRoot = fs.mkdtempSync('/run/bt-');
    cleanups.push(() => fs.rmSync(execRoot, { recursive: true, force: true }));
    const second = () =>
      spawnSync(BERTHD, ['--data-root', d.dataRoot, '--exec-root', execRoot, '-H', `unix://${sock}`, '--bridge', d.bridge, '--bip', d.subnet, '--bridge-prefix', d.bridge], { timeout: 30_000 });
    const r = second();
    assert.notEqual(r.status, 0, 'the second daemon must not run');
    assert.match(r.stderr.toString(), new RegExp(`in use by another berthd \\(pid ${d.pid}\\)`));
    assert.ok(!fs.existsSync(sock), 'it never served');
    await d.crash();
    await d.start(); // the lock died with the process
    assert.equal(fs.readFileSync(path.join(d.dataRoot, 'berthd.lock'), 'utf8').trim(), String(d.pid));
  });

  it('a clean daemon passes: exit 0, a summary line, and JSON with --format json', () => {
    const text = d.berth(['system', 'check']);
    assert.equal(text.status, 0, text.stderr + text.stdout);
    assert.match(text.stdout, /^Checked 3 blobs, 1 layers, 1 images, 0 containers: no problems found\.$/m);
    const { status, report } = check();
    assert.equal(status, 0);
    assert.deepEqual(report, { Checked: { Blobs: 3, Layers: 1, Images: 1, Containers: 0 }, Problems: [], Remaining: 0 });
  });

  it('rm is whole or gone: a container whose files cannot all be deleted is gone at once, the rest waits in the trash', () => {
    ok(d.berth(['run', '--name', 'stuck', 'busybox', 'sh', '-c', 'echo x > /x']), 'run');
    const id = idOf('stuck');
    const file = path.join(d.dataRoot, 'containers', id, 'upper/x');
    ok(sh('chattr', ['+i', file]), 'chattr');
    let immutable = true;
    const release = (): void => {
      if (immutable) spawnSync('chattr', ['-i', ...fs.readdirSync(path.join(d.dataRoot, 'trash')).map((n) => path.join(d.dataRoot, 'trash', n, 'upper/x')), file]);
      immutable = false;
    };
    cleanups.push(release);
    ok(d.berth(['rm', 'stuck']), 'rm');
    assert.equal(d.berth(['inspect', 'stuck']).status, 1, 'gone from the API');
    assert.ok(!fs.existsSync(path.join(d.dataRoot, 'containers', id)), 'its directory left its name');
    const trash = check();
    assert.equal(trash.status, 1);
    assert.deepEqual(trash.report.Problems.map((p) => p.Kind), ['trash']);
    assert.match(trash.report.Problems[0].Object, new RegExp(`^container-${id}-`));
    release();
    assert.equal(check(true).report.Remaining, 0);
    assert.equal(check().status, 0);
    assert.deepEqual(fs.readdirSync(path.join(d.dataRoot, 'trash')), []);
  });

  it('finds leftovers of this daemon only (netns, mount, cgroup, dirs, temps, trash) and --repair removes them', async () => {
    await other.start(); // a second daemon's leftovers are not ours to report
    const id = idOf(ok(d.berth(['create', '--name', 'idle', 'busybox', 'true']), 'create').trim());
    const mine = `${d.bridge}-${'a'.repeat(12)}`;
    const theirs = `${other.bridge}-${'b'.repeat(12)}`;
    for (const ns of [mine, theirs]) {
      ok(sh('ip', ['netns', 'add', ns]), 'netns add');
      cleanups.push(() => spawnSync('ip', ['netns', 'del', ns]));
    }
    // a root filesystem left mounted for a container that is not running (in the daemon's mount namespace)
    const merged = path.join(d.dataRoot, 'containers', id, 'merged');
    fs.mkdirSync(merged, { recursive: true });
    ok(sh('nsenter', ['-t', String(d.pid), '-m', 'mount', '-t', 'tmpfs', 'leftover', merged]), 'mount');
    const cgroup = `/sys/fs/cgroup/pids/berth/${id}`;
    fs.mkdirSync(cgroup, { recursive: true });
    cleanups.push(() => fs.existsSync(cgroup) && fs.rmdirSync(cgroup));
    const strayDir = path.join(d.dataRoot, 'containers', 'c'.repeat(64));
    fs.mkdirSync(path.join(strayDir, 'upper'), { recursive: true });
    fs.writeFileSync(path.join(d.dataRoot, 'image/content/ingest/1-abc'), 'partial');
    fs.mkdirSync(path.join(d.dataRoot, 'trash/volume-old-1234/_data'), { recursive: true });

    const found = check();
    assert.equal(found.status, 1);
    const got = found.report.Problems.map((p) => `${p.Kind} ${p.Object}`).sort();
    assert.deepEqual(got, [
      `cgroup ${cgroup}`,
      `container ${strayDir}`,
      `ingest ${path.join(d.dataRoot, 'image/content/ingest/1-abc')}`,
      `mount ${merged}`,
      `netns ${mine}`,
      'trash volume-old-1234',
    ]);
    const text = d.berth(['system', 'check']);
    assert.equal(text.status, 1);
    assert.match(text.stdout, /^KIND\s+OBJECT\s+PROBLEM\s+STATUS$/m);
    assert.match(text.stdout, /6 problems\.$/m);

    const repaired = check(true);
    assert.equal(repaired.status, 0, JSON.stringify(repaired.report.Problems));
    assert.ok(repaired.report.Problems.every((p) => p.Repaired));
    assert.deepEqual(check().report.Problems, []);
    const netns = spawnSync('ip', ['netns', 'list']).stdout.toString();
    assert.ok(!netns.includes(mine) && netns.includes(theirs), 'ours removed, the other daemon\'s kept');
    assert.ok(!fs.existsSync(cgroup) && !fs.existsSync(strayDir));
    ok(d.berth(['start', '-a', 'idle']), 'the container is fine after the repair');
    ok(d.berth(['rm', 'idle']), 'rm');
  });

  it('a corrupt layer blob: check names the blob and the image (exit 1); --repair removes that image only', () => {
    const ctx = path.join(work, 'ctx');
    fs.mkdirSync(ctx);
    fs.writeFileSync(path.join(ctx, 'Dockerfile'), 'FROM busybox\nCOPY f /f\n');
    fs.writeFileSync(path.join(ctx, 'f'), crypto.randomBytes(50_000));
    ok(d.berth(['build', '-q', '-t', 'victim', ctx]), 'build');
    const id = idOf('victim');
    const blobs = path.join(d.dataRoot, 'image/content/blobs/sha256');
    const manifest = JSON.parse(ok(d.berth(['image', 'inspect', '-f', '{{json .RootFS}}', 'victim']), 'inspect')) as { Layers: string[] };
    assert.equal(manifest.Layers.length, 2);
    // the layer blob only victim has: the newest blob that is neither busybox's nor victim's config/manifest
    const rec = JSON.parse(fs.readFileSync(path.join(d.dataRoot, 'image/images', `${id.slice(7)}.json`), 'utf8')) as { manifest: string };
    const m = JSON.parse(fs.readFileSync(path.join(blobs, rec.manifest.slice(7)), 'utf8')) as { layers: { digest: string }[] };
    const layerBlob = m.layers[1].digest;
    fs.appendFileSync(path.join(blobs, layerBlob.slice(7)), 'garbage');

    const { status, report } = check();
    assert.equal(status, 1);
    assert.deepEqual(report.Problems.map((p) => [p.Kind, p.Object]), [['blob', layerBlob], ['image', id]]);
    assert.match(report.Problems[1].Problem, /corrupt/);
    assert.equal(check(true).report.Remaining, 0);
    assert.equal(d.berth(['image', 'inspect', 'victim']).status, 1, 'the broken image is gone');
    assert.equal(check().status, 0);
    ok(d.berth(['run', '--rm', 'busybox', 'true']), 'busybox untouched');
  });

  it('a container whose conmon was killed is marked exited (137) at the next start, not left running unsupervised', async () => {
    ok(d.berth(['run', '-d', '--name', 'orphaned', 'busybox', 'sleep', '100000']), 'run');
    const id = idOf('orphaned');
    const conmon = Number(fs.readFileSync(path.join(d.execRoot, 'ctr', id, 'conmon.pid'), 'utf8'));
    process.kill(conmon, 'SIGKILL');
    await d.crash();
    await d.start();
    const state = JSON.parse(ok(d.berth(['inspect', '-f', '{{json .State}}', 'orphaned']), 'inspect')) as { Running: boolean; ExitCode: number };
    assert.deepEqual([state.Running, state.ExitCode], [false, 137]);
    const { status, report } = check();
    assert.equal(status, 0, JSON.stringify(report.Problems));
    ok(d.berth(['start', 'orphaned']), 'it starts again');
    ok(d.berth(['rm', '-f', 'orphaned']), 'rm');
  });

  it('a start a crash interrupted (conmon and container made, the record not yet naming them) is undone at the next start', async () => {
    ok(d.berth(['run', '-d', '--name', 'halfway', 'busybox', 'sleep', '100000']), 'run');
    const id = idOf('halfway');
    await d.crash();
    // what a kill between `conmon create` and the record's save leaves: the record as create wrote it
    const file = path.join(d.dataRoot, 'containers', id, 'container.json');
    const rec = JSON.parse(fs.readFileSync(file, 'utf8')) as { Instance?: unknown; State: Record<string, unknown> };
    delete rec.Instance;
    Object.assign(rec.State, { Status: 'created', Running: false, Pid: 0, StartedAt: '0001-01-01T00:00:00Z' });
    fs.writeFileSync(file, JSON.stringify(rec));
    await d.start();
    const { status, report } = check();
    assert.equal(status, 0, JSON.stringify(report.Problems));
    assert.equal(ok(d.berth(['inspect', '-f', '{{.State.Status}}', 'halfway']), 'inspect').trim(), 'created');
    ok(d.berth(['start', 'halfway']), 'it starts');
    ok(d.berth(['rm', '-f', 'halfway']), 'rm');
  });
});
