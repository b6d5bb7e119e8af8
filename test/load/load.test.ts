/**
 * The load suite (issue #14), loopback only: a real berthd keeps 100 containers running at once (the memory of berthd
 * and of the conmons is recorded), then 32 API clients on its socket mix create/start/inspect/logs/rm for a while.
 * No request may fail; berthd's RSS must stay bounded and its file descriptors must come back to where they were.
 *
 * BERTH_LOAD_SECONDS sets the mixed phase's length (15 s in CI; the full form is 60), BERTH_LOAD_CONTAINERS
 * the number held running (100) and BERTH_LOAD_CLIENTS the parallel clients (32). The figures are the last line.
 */
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import { TestDaemon } from '../helpers/daemon';

const SECONDS = Number(process.env.BERTH_LOAD_SECONDS ?? 15);
const RUNNING = Number(process.env.BERTH_LOAD_CONTAINERS ?? 100);
const CLIENTS = Number(process.env.BERTH_LOAD_CLIENTS ?? 32);
const MIB = 1 << 20;

interface Reply {
  status: number;
  body: Buffer;
}

/** Resident set size of a process in bytes (0 once it is gone). */
function rss(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

const fds = (pid: number): number => fs.readdirSync(`/proc/${pid}/fd`).length;

/** The conmon processes serving this daemon's containers (their command line names its exec root). */
function conmons(execRoot: string): number[] {
  return fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p)).map(Number).filter((pid) => {
    try {
      const argv = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      return argv[0].endsWith('conmon') && argv.some((a) => a.startsWith(execRoot));
    } catch {
      return false;
    }
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('load', { timeout: 1_200_000 }, () => {
  const d = new TestDaemon('load');
  const api = (method: string, urlPath: string, body?: unknown): Promise<Reply> =>
    new Promise((resolve, reject) => {
      const data = body === undefined ? undefined : JSON.stringify(body);
      const req = http.request({ socketPath: d.socket, method, path: urlPath, headers: data ? { 'Content-Type': 'application/json' } : {}, agent: false }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      });
      req.setTimeout(120_000, () => req.destroy(new Error(`${method} ${urlPath}: no reply in 120 s`)));
      req.on('error', reject);
      req.end(data);
    });

  /** Create a container and return its id (a 201 is required). */
  const create = async (cmd: string[], networkMode = 'default'): Promise<string> => {
    const r = await api('POST', '/containers/create', { Image: 'busybox', Cmd: cmd, Labels: { 'berth.test': 'load' }, HostConfig: { NetworkMode: networkMode } });
    if (r.status !== 201) throw new Error(`create: ${r.status} ${r.body}`);
    return (JSON.parse(r.body.toString()) as { Id: string }).Id;
  };
  const expect = async (what: string, want: number, p: Promise<Reply>): Promise<void> => {
    const r = await p;
    if (r.status !== want) throw new Error(`${what}: ${r.status} ${r.body.toString().slice(0, 300)}`);
  };

  before(async () => {
    await d.start();
    d.importBusybox();
  });
  after(() => d.stop());

  it(`${RUNNING} containers running at once, then ${CLIENTS} clients for ${SECONDS} s: no errors, bounded memory, no fd leak`, { timeout: 1_200_000 }, async (t) => {
    const pid = d.pid!;
    // a warm-up cycle first, so one-time allocations (modules loaded, caches filled) do not count as growth
    const warm = await create(['true']);
    await expect('warm-up start', 204, api('POST', `/containers/${warm}/start`));
    await expect('warm-up rm', 204, api('DELETE', `/containers/${warm}?force=1`));
    await sleep(1000);
    const before = { rss: rss(pid), fds: fds(pid) };

    // 1. RUNNING containers at once, started 8 at a time. They hold no network: what is measured is what berthd and
    // conmon keep per container (netavark's per-veth cost is the mixed phase's, which networks every container).
    const held: string[] = [];
    const queue = Array.from({ length: RUNNING }, (_, i) => i);
    await Promise.all(Array.from({ length: 8 }, async () => {
      while (queue.shift() !== undefined) {
        const id = await create(['sleep', '3600'], 'none');
        held.push(id);
        await expect('start', 204, api('POST', `/containers/${id}/start`));
      }
    }));
    const listed = JSON.parse((await api('GET', '/containers/json?filters=%7B%22status%22%3A%5B%22running%22%5D%7D')).body.toString()) as unknown[];
    assert.equal(listed.length, RUNNING, 'every held container runs');
    const mons = conmons(d.execRoot);
    assert.equal(mons.length, RUNNING, 'one conmon per running container');
    const conmonRss = mons.reduce((n, p) => n + rss(p), 0);
    const withHeld = { rss: rss(pid), fds: fds(pid) };

    // 2. CLIENTS clients mixing create/start/inspect/logs/rm until the time is up
    let requests = 0;
    const errors: string[] = [];
    const deadline = Date.now() + SECONDS * 1000;
    const call = async (what: string, want: number, p: Promise<Reply>): Promise<void> => {
      requests++;
      await expect(what, want, p);
    };
    await Promise.all(Array.from({ length: CLIENTS }, async (_, c) => {
      while (Date.now() < deadline) {
        try {
          requests++;
          const id = await create(['sh', '-c', `echo load-${c}`]);
          await call('start', 204, api('POST', `/containers/${id}/start`));
          await call('inspect', 200, api('GET', `/containers/${id}/json`));
          await call('logs', 200, api('GET', `/containers/${id}/logs?stdout=1&stderr=1`));
          await call('inspect a held one', 200, api('GET', `/containers/${held[(requests * 7 + c) % held.length]}/json`));
          await call('rm', 204, api('DELETE', `/containers/${id}?force=1`));
        } catch (e) {
          errors.push((e as Error).message);
        }
      }
    }));
    const whileLoaded = { rss: rss(pid) };

    // 3. everything away again; what berthd holds must come back to where it was
    await Promise.all(Array.from({ length: 8 }, async () => {
      for (let id = held.shift(); id; id = held.shift()) await expect('rm held', 204, api('DELETE', `/containers/${id}?force=1`));
    }));
    let afterFds = fds(pid);
    for (let i = 0; i < 50 && afterFds > before.fds; i++) (await sleep(200), (afterFds = fds(pid))); // closes still on their way
    const afterAll = { rss: rss(pid), fds: afterFds };
    const left = JSON.parse((await api('GET', '/containers/json?all=1')).body.toString()) as unknown[];

    if (errors.length) t.diagnostic(`first errors: ${JSON.stringify(errors.slice(0, 5))}`);
    const mb = (n: number) => (n / MIB).toFixed(1);
    t.diagnostic(`load figures: containers running at once ${RUNNING}, conmon RSS total ${mb(conmonRss)} MiB (${mb(conmonRss / RUNNING)} MiB each), ` +
      `berthd RSS with them ${mb(withHeld.rss)} MiB, fds with them ${withHeld.fds}; clients ${CLIENTS} for ${SECONDS} s: requests ${requests}, errors ${errors.length}; ` +
      `berthd RSS before ${mb(before.rss)} MiB, under load ${mb(whileLoaded.rss)} MiB, after ${mb(afterAll.rss)} MiB; fds before ${before.fds}, after ${afterAll.fds}`);
    assert.deepEqual(errors, [], 'no request failed');
    assert.equal(left.length, 0, 'every container was removed');
    assert.ok(requests >= CLIENTS * 6, `every client got through at least one cycle (${requests} requests)`);
    assert.ok(afterAll.fds <= before.fds + 2, `fds back to where they were: before ${before.fds}, after ${afterAll.fds}`);
    assert.ok(afterAll.rss < before.rss + 150 * MIB, `berthd RSS bounded: before ${mb(before.rss)} MiB, after ${mb(afterAll.rss)} MiB`);
  });
});
