/**
 * Fault injection: a seeded loop starts an operation (pull, load, import, build, commit, run, stop, rm, rmi,
 * volume rm, network create/rm, push), SIGKILLs berthd (or a container's conmon, or the registry server) at a random
 * moment, restarts what was killed and runs `berth system check`. After every injection: check finds nothing,
 * every container that was running (and not the one operated on) still runs, every listed image is whole (its blobs
 * hash to their digests, its layers are unpacked) and every listed volume has its data.
 *
 * BERTH_FAULT_SEED replays a run (the seed is printed first); BERTH_FAULT_N sets the number of injections.
 * The figures are the test's last diagnostic line.
 */
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { BERTH, TestDaemon } from '../helpers/daemon';
import { freePort } from '../helpers/ports';

const SEED = Number(process.env.BERTH_FAULT_SEED ?? crypto.randomInt(1, 2 ** 31));
const N = Number(process.env.BERTH_FAULT_N ?? 200);

/** mulberry32: small, seedable, good enough to pick operations and delays. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));


async function waitPort(port: number): Promise<void> {
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const c = net.connect(port, '127.0.0.1', () => (c.end(), resolve(true)));
      c.on('error', () => resolve(false));
    });
    if (ok) return;
    await sleep(30);
  }
}

function exited(p: ChildProcess): Promise<void> {
  return p.exitCode !== null || p.signalCode !== null ? Promise.resolve() : new Promise((r) => p.once('exit', () => r()));
}

const sha256File = (file: string): string => `sha256:${crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex')}`;

interface CheckReport {
  Problems: { Kind: string; Object: string; Problem: string }[];
}

/** An operation: what to run (after its preparation, outside the kill window) and which container it touches. */
interface Op {
  name: string;
  args: string[];
  /** A container the operation stops or removes: not counted as lost. */
  touches?: string;
}

describe('fault injection: SIGKILL at random moments', { timeout: 1_200_000 }, () => {
  const d = new TestDaemon('fault');
  const rand = prng(SEED);
  const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)];
  let work: string;
  let registry: ChildProcess | undefined;
  let regPort = 0;
  let reg = '';
  let serial = 0;

  const ok = (args: string[], input?: string): string => {
    const r = d.berth(args, { input });
    assert.equal(r.status, 0, `berth ${args.join(' ')}: ${r.stderr}\n${r.stdout}`);
    return r.stdout;
  };
  /**
   * Preparation and read-backs go straight to the API: a CLI start costs 150 ms or more here, and they run around
   * every injection. The operations themselves are CLI commands, and so is the final `berth system check`.
   */
  const request = (method: string, p: string, body?: unknown): Promise<{ status: number; body: string }> =>
    new Promise((resolve, reject) => {
      const req = http.request({ socketPath: d.socket, path: p, method, headers: body ? { 'Content-Type': 'application/json' } : {} }, (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      });
      req.on('error', reject);
      req.end(body ? JSON.stringify(body) : undefined);
    });
  const api = async <T>(p: string, method = 'GET', body?: unknown): Promise<T> => {
    const r = await request(method, p, body);
    if (r.status >= 300) throw new Error(`${method} ${p}: ${r.status} ${r.body}`);
    return (r.body ? JSON.parse(r.body) : undefined) as T;
  };

  async function startRegistry(): Promise<void> {
    const log = fs.openSync(path.join(work, 'registry.log'), 'a');
    registry = spawn(BERTH, ['registry', 'serve', '--addr', reg, '--root', path.join(work, 'registry')], { stdio: ['ignore', log, log] });
    fs.closeSync(log);
    await waitPort(regPort);
  }

  before(async () => {
    console.log(`fault injection: seed ${SEED} (BERTH_FAULT_SEED=${SEED} replays it), ${N} injections`);
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-fault-'));
    await d.start();
    d.importBusybox();
    regPort = await freePort();
    reg = `127.0.0.1:${regPort}`;
    await startRegistry();
    ok(['tag', 'busybox', `${reg}/bb:latest`]);
    ok(['push', `${reg}/bb:latest`]);
    ok(['rmi', `${reg}/bb:latest`]);
    // an image of two layers for load (busybox + one file), saved and removed again
    fs.mkdirSync(path.join(work, 'ctx'));
    fs.writeFileSync(path.join(work, 'ctx/Dockerfile'), 'FROM busybox\nCOPY f /f\n');
    fs.writeFileSync(path.join(work, 'ctx/f'), crypto.randomBytes(200_000));
    ok(['build', '-q', '-t', 'loadme', path.join(work, 'ctx')]);
    ok(['save', '-o', path.join(work, 'loadme.tar'), 'loadme']);
    ok(['rmi', 'loadme']);
    fs.writeFileSync(path.join(work, 'ctx/Dockerfile'), 'FROM busybox\nARG N\nRUN echo $N > /n\n');
  });

  after(async () => {
    if (registry) {
      registry.kill('SIGKILL');
      await exited(registry);
    }
    await d.stop();
    fs.rmSync(work, { recursive: true, force: true });
  });

  /** Containers, images, volumes and networks this loop made (names), read back from the daemon. */
  type Ctr = { Id: string; Names: string[] };
  const containers = async (all: boolean): Promise<Map<string, string>> =>
    new Map((await api<Ctr[]>(`/containers/json?all=${all ? 1 : 0}`)).map((c) => [c.Id, c.Names[0].slice(1)]));
  const tags = async (): Promise<string[]> => (await api<{ RepoTags: string[] | null }[]>('/images/json')).flatMap((i) => i.RepoTags ?? []);
  const imageIds = async (): Promise<string[]> => (await api<{ Id: string }[]>('/images/json?all=1')).map((i) => i.Id);
  const volumes = async (): Promise<string[]> => (await api<{ Volumes: { Name: string }[] }>('/volumes')).Volumes.map((v) => v.Name);
  const networks = async (): Promise<string[]> => (await api<{ Name: string }[]>('/networks')).map((n) => n.Name);

  /** Prepare and describe one operation; preparation (making what it works on) happens before the kill window. */
  async function nextOp(): Promise<Op> {
    const n = ++serial;
    const ctrs = [...(await containers(true)).values()].filter((x) => x.startsWith('f'));
    const live = new Set((await containers(false)).values());
    const imgs = (await tags()).filter((x) => x.startsWith('fi-'));
    const nets = (await networks()).filter((x) => x.startsWith('fn'));
    const choices: (() => Promise<Op | undefined>)[] = [
      async () => {
        await request('DELETE', `/images/${reg}/bb:latest`);
        return { name: 'pull', args: ['pull', `${reg}/bb:latest`] };
      },
      async () => {
        await request('DELETE', '/images/loadme');
        return { name: 'load', args: ['load', '-i', path.join(work, 'loadme.tar')] };
      },
      async () => (imgs.length > 6 ? undefined : { name: 'import', args: ['import', '/var/tmp/berth-test-busybox.tar', `fi-imp:${n}`] }),
      async () => (imgs.length > 6 ? undefined : { name: 'build', args: ['build', '-q', '--build-arg', `N=${n}`, '-t', `fi-build:${n}`, path.join(work, 'ctx')] }),
      async () => {
        const c = ctrs.find((x) => live.has(x));
        return c && imgs.length <= 6 ? { name: 'commit', args: ['commit', c, `fi-commit:${n}`] } : undefined;
      },
      async () => (live.size >= 3 ? undefined : { name: 'run', args: ['run', '-d', '--name', `f${n}`, '-v', `/data`, 'busybox', 'sleep', '100000'], touches: `f${n}` }),
      async () => {
        const c = ctrs.find((x) => live.has(x));
        return c ? { name: 'stop', args: ['stop', '-t', '0', c], touches: c } : undefined;
      },
      async () => {
        const c = ctrs.length ? pick(ctrs) : undefined;
        return c ? { name: 'rm', args: ['rm', '-f', '-v', c], touches: c } : undefined;
      },
      async () => (imgs.length ? { name: 'rmi', args: ['rmi', '-f', pick(imgs)] } : undefined),
      async () => {
        const v = `fv${n}`;
        await api('/volumes/create', 'POST', { Name: v });
        fs.writeFileSync(path.join(d.dataRoot, 'volumes', v, '_data', 'marker'), crypto.randomBytes(100_000));
        return { name: 'volume rm', args: ['volume', 'rm', v] };
      },
      async () => (nets.length > 4 ? undefined : { name: 'network create', args: ['network', 'create', `fn${n}`] }),
      async () => {
        return nets.length ? { name: 'network rm', args: ['network', 'rm', pick(nets)] } : undefined;
      },
      async () => {
        await api(`/images/busybox/tag?repo=${reg}/pushed&tag=${n}`, 'POST');
        return { name: 'push', args: ['push', `${reg}/pushed:${n}`] };
      },
    ];
    for (;;) {
      const op = await pick(choices)();
      if (op) return op;
    }
  }

  /** Every listed image whole: record, config and manifest blobs hashing to their digests, layer blobs too, layers unpacked. */
  async function brokenImages(): Promise<string[]> {
    const root = path.join(d.dataRoot, 'image');
    const blob = (digest: string): string => path.join(root, 'content/blobs/sha256', digest.slice(7));
    const broken: string[] = [];
    for (const id of await imageIds()) {
      try {
        const rec = JSON.parse(fs.readFileSync(path.join(root, 'images', `${id.slice(7)}.json`), 'utf8')) as { manifest: string };
        for (const dg of [id, rec.manifest]) assert.equal(sha256File(blob(dg)), dg);
        const m = JSON.parse(fs.readFileSync(blob(rec.manifest), 'utf8')) as { layers: { digest: string; size: number }[] };
        for (const l of m.layers) {
          assert.equal(sha256File(blob(l.digest)), l.digest);
          assert.equal(fs.statSync(blob(l.digest)).size, l.size);
        }
        const cfg = JSON.parse(fs.readFileSync(blob(id), 'utf8')) as { rootfs: { diff_ids: string[] } };
        for (const diffId of cfg.rootfs.diff_ids) assert.ok(fs.existsSync(path.join(root, 'layers', diffId.slice(7), 'layer.json')));
      } catch (e) {
        broken.push(`${id}: ${(e as Error).message}`);
      }
    }
    return broken;
  }

  /** Every listed volume whole: the marker written into it before its removal began is still there. */
  async function halfVolumes(): Promise<string[]> {
    return (await volumes()).filter((v) => v.startsWith('fv')).filter((v) => !fs.existsSync(path.join(d.dataRoot, 'volumes', v, '_data', 'marker')));
  }

  it('every object is whole or gone, nothing running is lost, and system check finds nothing', { timeout: 1_000_000 }, async (t) => {
    const figures = { injections: 0, problems: 0, lost: 0, brokenImages: 0, halfObjects: 0 };
    const ops: Record<string, number> = {};
    const failures: string[] = [];
    // printed at once too: a run stopped early (timeout, ^C) still shows what it found
    const fail = (msg: string): void => {
      failures.push(msg);
      console.log(`FAULT ${msg}`);
    };
    const T: Record<string, number> = {};
    for (let i = 0; i < N; i++) {
      let t0 = Date.now();
      const lap = (k: string) => { T[k] = (T[k] ?? 0) + Date.now() - t0; t0 = Date.now(); };
      const op = await nextOp();
      lap('prep');
      const mode = rand();
      const victim = op.name === 'pull' || op.name === 'push' ? (mode < 0.3 ? 'registry' : 'berthd') : mode < 0.1 ? 'conmon' : 'berthd';
      const before = await containers(false);
      let conmonOf: string | undefined;
      if (victim === 'conmon' && before.size) conmonOf = pick([...before.keys()]);
      const child = spawn(BERTH, op.args, { env: d.env, stdio: 'ignore' });
      await sleep(Math.floor(rand() * 300));
      if (victim === 'registry' && registry) {
        registry.kill('SIGKILL');
        await exited(registry);
      } else if (conmonOf) {
        // the operation may have stopped or removed that container meanwhile: then no conmon is left to kill
        try {
          process.kill(Number(fs.readFileSync(path.join(d.execRoot, 'ctr', conmonOf, 'conmon.pid'), 'utf8')), 'SIGKILL');
        } catch (e) {
          if (!['ENOENT', 'ESRCH'].includes((e as NodeJS.ErrnoException).code ?? '')) throw e;
        }
        await d.crash(); // a daemon learns of a lost conmon when it reconciles (as dockerd of a lost shim)
      } else {
        await d.crash();
      }
      lap('kill');
      child.kill('SIGKILL');
      await exited(child);
      lap('child');
      if (victim === 'registry') await startRegistry();
      else await d.start();
      lap('restart');
      figures.injections++;
      ops[`${op.name}/${victim}`] = (ops[`${op.name}/${victim}`] ?? 0) + 1;

      const tag = `#${i} ${op.name} (${op.args.join(' ')}), killed ${victim}`;
      const report = await api<CheckReport>('/system/check');
      if (report.Problems.length) {
        figures.problems += report.Problems.length;
        fail(`${tag}: check found ${JSON.stringify(report.Problems)}`);
        await api('/system/check?repair=1', 'POST'); // start the next injection clean
      }
      lap('check');
      const after = await containers(false);
      for (const [id, name] of before) {
        if (!after.has(id) && name !== op.touches && id !== conmonOf) {
          figures.lost++;
          fail(`${tag}: running container ${id} was lost`);
        }
      }
      const broken = await brokenImages();
      figures.brokenImages += broken.length;
      for (const b of broken) fail(`${tag}: image looks whole but is not: ${b}`);
      const half = await halfVolumes();
      figures.halfObjects += half.length;
      for (const v of half) fail(`${tag}: volume ${v} is listed but half removed`);
      lap('verify');
    }
    // the CLI's own check over what the loop left: exit status 0 and nothing found
    const final = d.berth(['system', 'check']);
    if (final.status !== 0) fail(`final berth system check: exit ${final.status}\n${final.stdout}${final.stderr}`);
    for (const f of failures.slice(0, 20)) t.diagnostic(f);
    t.diagnostic(`timing ${JSON.stringify(T)}`);
    t.diagnostic(`operations/victims: ${JSON.stringify(ops)}`);
    t.diagnostic(`fault injection (seed ${SEED}): injections ${figures.injections}, problems found by check ${figures.problems}, running containers lost ${figures.lost}, images that look whole but are not ${figures.brokenImages}, half-removed objects ${figures.halfObjects}`);
    assert.ok(figures.injections >= N);
    assert.deepEqual({ problems: figures.problems, lost: figures.lost, brokenImages: figures.brokenImages, halfObjects: figures.halfObjects }, { problems: 0, lost: 0, brokenImages: 0, halfObjects: 0 }, failures.slice(0, 5).join('\n'));
  });
});
