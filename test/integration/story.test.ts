/**
 * The developer story end to end (issue #7), once with the berth CLI and once with the real docker CLI against
 * berthd: base images from Debian packages, PostgreSQL with a named volume, build of the seed app (cold and cached),
 * the page on localhost, a host edit shown without a rebuild, data surviving the app container, push to
 * `berth registry serve`, rmi, pull (same image ID), run the pulled image.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BERTH, REPO, TestDaemon, type RunResult } from '../helpers/daemon';

const d = new TestDaemon('story');
const work = fs.mkdtempSync('/var/tmp/berth-story-');
const regPort = 36000 + Math.floor(Math.random() * 2000);
const registry = `127.0.0.1:${regPort}`;
let regProc: ChildProcess | undefined;

before(async () => {
  await d.start();
  // python, postgres and busybox, from cached root filesystems when this machine has made them before
  const r = spawnSync(path.join(REPO, 'scripts/base-images.sh'), ['python', 'postgres', 'busybox'], { env: d.env, timeout: 20 * 60_000 });
  assert.equal(r.status, 0, `base-images.sh: ${r.stderr}`);
  regProc = spawn(BERTH, ['registry', 'serve', '--addr', registry, '--root', path.join(work, 'registry')], { stdio: 'ignore' });
  for (let i = 0; i < 100 && !(await fetchText(`http://${registry}/v2/`).catch(() => undefined)); i++) await sleep(100);
});

after(async () => {
  regProc?.kill();
  await d.stop();
  fs.rmSync(work, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function fetchText(url: string, init?: RequestInit): Promise<string> {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(3000) });
  if (!res.ok) throw new Error(`${url}: ${res.status}`);
  return res.text();
}

/** Poll until the page answers and `pred` holds (the app waits for the database, Flask reloads after an edit). */
async function pageUntil(url: string, pred: (page: string) => boolean, what: string): Promise<string> {
  let last = '';
  for (let i = 0; i < 300; i++) {
    last = await fetchText(url).catch((e: Error) => e.message);
    if (pred(last)) return last;
    await sleep(200);
  }
  throw new Error(`${what}: the page never showed it; last answer: ${last.slice(0, 300)}`);
}

for (const client of ['berth', 'docker'] as const) {
  describe(`the developer story with the ${client} CLI`, () => {
    const cli = (args: string[], timeout = 300_000): RunResult => (client === 'berth' ? d.berth(args, { timeout }) : d.docker(args, { timeout }));
    const ok = (args: string[], timeout?: number): string => {
      const r = cli(args, timeout);
      assert.equal(r.status, 0, `${client} ${args.join(' ')}: ${r.stderr}`);
      return r.stdout;
    };
    const net = `appnet-${client}`;
    const db = `db-${client}`;
    const vol = `dbdata-${client}`;
    const app = path.join(work, `app-${client}`);
    const port = 15000 + Math.floor(Math.random() * 5000);
    const url = `http://localhost:${port}/`;
    const image = `mywebapp-${client}:v1`;
    const runApp = (name: string, img: string) =>
      ok(['run', '-d', '--name', name, '-v', `${app}:/app`, '-p', `${port}:5000`, '--network', net,
        '-e', `DATABASE_URL=postgresql://postgres:secret@${db}:5432/notes`, img]);

    after(() => {
      cli(['rm', '-f', `app-${client}`, `app2-${client}`, `pulled-${client}`, db]);
      cli(['network', 'rm', net]);
      cli(['volume', 'rm', vol]);
    });

    it('starts PostgreSQL on a user network with a named volume', () => {
      fs.cpSync(path.join(REPO, 'examples/webapp'), app, { recursive: true });
      ok(['network', 'create', net]);
      ok(['run', '-d', '--name', db, '--network', net, '-e', 'POSTGRES_PASSWORD=secret', '-e', 'POSTGRES_DB=notes',
        '-v', `${vol}:/var/lib/postgresql/data`, 'postgres:15']);
    });

    let imageId = '';
    it('builds the app from a clean cache, then again from the cache', () => {
      const cold = ok(['build', '--no-cache', '-t', image, app]);
      assert.match(cold, /Successfully tagged/);
      imageId = ok(['image', 'inspect', '-f', '{{.Id}}', image]).trim();
      const cached = ok(['build', '-t', image, app]);
      const steps = (cached.match(/^Step \d+\/\d+ :/gm) ?? []).length;
      assert.equal((cached.match(/Using cache/g) ?? []).length, steps - 1, `every step after FROM from the cache:\n${cached}`);
      assert.equal(ok(['image', 'inspect', '-f', '{{.Id}}', image]).trim(), imageId);
    });

    it('serves the page on localhost, writes to the database, and shows a host edit without a rebuild', async () => {
      runApp(`app-${client}`, image);
      await pageUntil(url, (p) => p.includes('Berth notes'), 'the app page');
      await fetchText(`${url}notes`, { method: 'POST', body: new URLSearchParams({ text: `hello from ${client}` }) });
      await pageUntil(url, (p) => p.includes(`hello from ${client}`), 'the new note');
      const file = path.join(app, 'app.py');
      fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace('TITLE = "Berth notes"', 'TITLE = "Edited on the host"'));
      await pageUntil(url, (p) => p.includes('Edited on the host'), 'the host edit');
    });

    it('keeps the data when the app container is removed', async () => {
      ok(['rm', '-f', `app-${client}`]);
      runApp(`app2-${client}`, image);
      await pageUntil(url, (p) => p.includes(`hello from ${client}`), 'the note after re-creating the app');
      ok(['rm', '-f', `app2-${client}`]);
    });

    it('pushes to the team registry, removes the image, pulls it back (same ID) and runs it', async () => {
      const remote = `${registry}/${image}`;
      ok(['tag', image, remote]);
      assert.match(ok(['push', remote]), /digest: sha256:[0-9a-f]{64}/);
      ok(['rmi', image, remote]);
      assert.notEqual(cli(['image', 'inspect', remote]).status, 0);
      ok(['pull', remote]);
      assert.equal(ok(['image', 'inspect', '-f', '{{.Id}}', remote]).trim(), imageId);
      runApp(`pulled-${client}`, remote);
      await pageUntil(url, (p) => p.includes(`hello from ${client}`), 'the pulled image');
    });
  });
}
