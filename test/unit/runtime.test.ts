/**
 * ConmonRuntime against real conmon + crun/runc on a throwaway busybox rootfs (needs root). On a hybrid-cgroup host
 * this file re-runs itself inside the runtime mount namespace first (enterRuntimeNamespace), as berthd does.
 * Set BERTH_RUNTIME_BENCH=1 to also print lifecycle timings (median of 10).
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { cgroupsPathFor, enterRuntimeNamespace } from '../../src/runtime/cgroups';
import { ConmonRuntime } from '../../src/runtime/conmon';
import type { RuntimeName } from '../../src/runtime/types';
import { boundingCaps } from '../../src/spec/caps';
import { defaultNofile } from '../../src/spec/host';
import { buildSpec } from '../../src/spec/spec';

const isRoot = process.getuid?.() === 0;
// The wrapper half of the re-exec must not load node:test, or it would print a second (empty) report.
if (!isRoot || enterRuntimeNamespace()) defineTests();

function defineTests(): void {
  const { test } = require('node:test') as typeof import('node:test');
  const skip = isRoot ? false : 'needs root';
  const paths = { crun: '/usr/bin/crun', runc: '/usr/sbin/runc' };
  const caps = isRoot ? boundingCaps() : [];
  const nofile = defaultNofile();

  /** A rootfs with busybox and relative applet links (absolute ones would dangle inside the container). */
  function makeRootfs(dir: string): void {
    const bin = path.join(dir, 'bin');
    fs.mkdirSync(bin, { recursive: true });
    for (const d of ['proc', 'dev', 'sys', 'tmp', 'etc']) fs.mkdirSync(path.join(dir, d));
    fs.copyFileSync('/bin/busybox', path.join(bin, 'busybox'));
    fs.chmodSync(path.join(bin, 'busybox'), 0o755);
    const list = require('node:child_process').execFileSync('/bin/busybox', ['--list'], { encoding: 'utf8' }) as string;
    for (const applet of list.split('\n').filter((a) => a && a !== 'busybox')) fs.symlinkSync('busybox', path.join(bin, applet));
  }

  interface Env { root: string; rt: ConmonRuntime; rootfs: string; created: { id: string; runtime: RuntimeName; conmonPid?: number }[] }

  async function withEnv(fn: (env: Env) => Promise<void>): Promise<void> {
    const root = fs.mkdtempSync('/tmp/brt-');
    const rootfs = path.join(root, 'rootfs');
    makeRootfs(rootfs);
    const env: Env = { root, rt: new ConmonRuntime({ runRoot: path.join(root, 'run'), runtimePaths: paths }), rootfs, created: [] };
    try {
      await fn(env);
    } finally {
      for (const c of env.created) {
        await env.rt.delete(c.id, c.runtime, true).catch(() => undefined);
        if (c.conmonPid) {
          try {
            process.kill(c.conmonPid, 'SIGKILL');
          } catch {
            /* already gone */
          }
        }
        env.rt.cleanup(c.id);
      }
      env.rt.close();
      fs.rmSync(root, { recursive: true, force: true });
    }
  }

  let seq = 0;
  /** Write a bundle for `args` and create the container; returns its id, log path and pids. */
  async function create(env: Env, args: string[], runtime: RuntimeName = 'crun') {
    const id = `${process.pid.toString(16)}${(seq++).toString(16).padStart(4, '0')}`.padEnd(64, '0');
    const bundleDir = path.join(env.root, `b-${id.slice(0, 12)}`);
    fs.mkdirSync(bundleDir);
    const spec = buildSpec({
      args,
      env: ['PATH=/bin'],
      cwd: '/',
      user: { uid: 0, gid: 0, additionalGids: [0] },
      terminal: false,
      hostname: id.slice(0, 12),
      rootfs: env.rootfs,
      mounts: [],
      network: { mode: 'none' },
      availableCaps: caps,
      nofile,
      cgroupsPath: cgroupsPathFor(id),
    });
    fs.writeFileSync(path.join(bundleDir, 'config.json'), JSON.stringify(spec));
    const logPath = path.join(env.root, `${id.slice(0, 12)}.log`);
    const entry: Env['created'][number] = { id, runtime };
    env.created.push(entry);
    const req = { id, name: `t${seq}`, bundleDir, logPath, runtime, tty: false, openStdin: false, stdinOnce: false };
    const res = await env.rt.create(req);
    entry.conmonPid = res.conmonPid;
    return { id, logPath, ...res };
  }

  function exitOf(env: Env, id: string, timeoutMs = 10000): Promise<number> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no exit seen for ${id}`)), timeoutMs);
      env.rt.onExit((exited, code) => {
        if (exited !== id) return;
        clearTimeout(timer);
        resolve(code);
      });
    });
  }

  const ppidOf = (pid: number): number => {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  };

  for (const runtime of ['crun', 'runc'] as const) {
    test(`${runtime}: echo hi logs "stdout F hi" and exits 0`, { skip }, () =>
      withEnv(async (env) => {
        const c = await create(env, ['echo', 'hi'], runtime);
        assert.ok(c.pid > 0);
        const exited = exitOf(env, c.id);
        await env.rt.start(c.id, runtime);
        assert.equal(await exited, 0);
        assert.equal(env.rt.exitCode(c.id), 0);
        assert.match(fs.readFileSync(c.logPath, 'utf8'), /^\S+ stdout F hi$/m);
      }));
  }

  test('exit code of sh -c "exit 3" is 3', { skip }, () =>
    withEnv(async (env) => {
      const c = await create(env, ['sh', '-c', 'exit 3']);
      const exited = exitOf(env, c.id);
      await env.rt.start(c.id, 'crun');
      assert.equal(await exited, 3);
      assert.equal(env.rt.exitCode(c.id), 3);
    }));

  test('running container: conmon detached, exec ls /, KILL gives 137', { skip }, () =>
    withEnv(async (env) => {
      const c = await create(env, ['sleep', '100']);
      await env.rt.start(c.id, 'crun');
      assert.deepEqual(await env.rt.state(c.id, 'crun'), { status: 'running', pid: c.pid });
      assert.notEqual(ppidOf(c.conmonPid), process.pid);
      assert.notEqual(fs.readFileSync(`/proc/${c.conmonPid}/stat`, 'utf8').split(' ')[5], fs.readFileSync('/proc/self/stat', 'utf8').split(' ')[5]);
      assert.equal(env.rt.exitCode(c.id), undefined);

      const ex = await env.rt.exec({ id: c.id, runtime: 'crun', process: { args: ['ls', '/'], env: ['PATH=/bin'], cwd: '/', user: { uid: 0, gid: 0 }, terminal: false }, tty: false, stdin: false, attach: true });
      let out = '';
      ex.attach!.on('data', (p: { stream: string; data: Buffer }) => (out += p.stream === 'stdout' ? p.data.toString() : ''));
      const drained = new Promise((r) => ex.attach!.once('end', r));
      assert.equal(await ex.exited, 0);
      await drained;
      assert.deepEqual(out.split('\n').filter(Boolean).sort(), ['bin', 'dev', 'etc', 'proc', 'sys', 'tmp']);

      env.rt.resize(c.id, 40, 132); // not a tty: conmon ignores it, but the ctl fifo must accept the write
      const exited = exitOf(env, c.id);
      await env.rt.kill(c.id, 'crun', 'SIGKILL');
      assert.equal(await exited, 137);
      assert.equal((await env.rt.state(c.id, 'crun'))?.status, 'stopped');
      await env.rt.delete(c.id, 'crun');
      assert.equal(await env.rt.state(c.id, 'crun'), undefined);
      await env.rt.delete(c.id, 'crun'); // already gone: no error
    }));

  test('a missing command surfaces the runtime message', { skip }, () =>
    withEnv(async (env) => {
      await assert.rejects(create(env, ['nosuch']), /executable file `nosuch` not found in \$PATH/);
      await assert.rejects(create(env, ['nosuch'], 'runc'), /nosuch.*(not found|no such file)/i);
    }));

  test('lifecycle timings (BERTH_RUNTIME_BENCH=1)', { skip: process.env.BERTH_RUNTIME_BENCH ? skip : 'set BERTH_RUNTIME_BENCH=1' }, async (t) => {
    const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    for (const runtime of ['crun', 'runc'] as const) {
      await withEnv(async (env) => {
        const rows: number[][] = [];
        for (let i = 0; i < 11; i++) {
          const t0 = performance.now();
          const c = await create(env, ['true'], runtime);
          const t1 = performance.now();
          const exited = exitOf(env, c.id);
          await env.rt.start(c.id, runtime);
          const t2 = performance.now();
          await exited;
          const t3 = performance.now();
          await env.rt.delete(c.id, runtime);
          const t4 = performance.now();
          if (i > 0) rows.push([t1 - t0, t2 - t1, t3 - t2, t4 - t3, t4 - t0]); // first run warms caches
        }
        const cols = ['create', 'start', 'exit seen', 'delete', 'total'];
        t.diagnostic(`${runtime} (${os.loadavg()[0].toFixed(1)} load): ${cols.map((n, i) => `${n} ${median(rows.map((r) => r[i])).toFixed(1)} ms`).join(', ')}`);
      });
    }
  });
}
