/**
 * examples/webapp/compose.yaml through `berth compose`: the Flask app built from its Dockerfile and PostgreSQL from
 * the base-image recipe come up with `up -d --wait`, the page answers on localhost and stores a note, a host edit
 * of the bind-mounted source shows without a rebuild, `down -v` leaves no container, network or volume.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BERTH, REPO, TestDaemon } from '../helpers/daemon';
import { freePort } from '../helpers/ports';

const d = new TestDaemon('compose-ex');
const project = `ex${process.pid % 100000}`;
// a copy of the example, so that the host edit does not touch the repository
const app = fs.mkdtempSync('/var/tmp/berth-compose-example-');
let url = '';
let port = 0;

function compose(args: string[]) {
  const r = spawnSync(BERTH, ['compose', '-p', project, ...args], { cwd: app, env: { ...d.env, WEB_PORT: String(port) }, timeout: 15 * 60_000 });
  return { status: r.status ?? -1, stdout: r.stdout?.toString() ?? '', stderr: r.stderr?.toString() ?? '' };
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function pageUntil(pred: (p: string) => boolean, what: string): Promise<string> {
  let last = '';
  // up to ~2 minutes: a busy 2-core machine starts the Flask app slowly after the database is healthy
  for (let i = 0; i < 240; i++) {
    last = await fetch(url, { signal: AbortSignal.timeout(3000) }).then((r) => r.text()).catch((e: Error) => e.message);
    if (pred(last)) return last;
    await sleep(500);
  }
  throw new Error(`${what}: last answer ${last}`);
}

describe('examples/webapp/compose.yaml', () => {
  before(async () => {
    port = await freePort();
    url = `http://127.0.0.1:${port}/`;
    fs.cpSync(path.join(REPO, 'examples/webapp'), app, { recursive: true });
    await d.start();
    const r = spawnSync(path.join(REPO, 'scripts/base-images.sh'), ['python', 'postgres'], { env: d.env, timeout: 20 * 60_000 });
    assert.equal(r.status, 0, `base-images.sh: ${r.stderr}`);
  });
  after(async () => {
    compose(['down', '-v', '-t', '1']);
    await d.stop();
    fs.rmSync(app, { recursive: true, force: true });
  });

  it('comes up healthy, answers on localhost, shows a host edit, and down -v leaves nothing', async () => {
    const up = compose(['up', '-d', '--wait']);
    assert.equal(up.status, 0, up.stdout + up.stderr);
    assert.match(up.stderr, new RegExp(`Container ${project}-db-1  Healthy`));
    await pageUntil((p) => p.includes('Berth notes'), 'the app page');
    await fetch(`${url}notes`, { method: 'POST', body: new URLSearchParams({ text: 'hello from compose' }) });
    await pageUntil((p) => p.includes('hello from compose'), 'the new note');
    const file = path.join(app, 'app.py');
    fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace('TITLE = "Berth notes"', 'TITLE = "Edited on the host"'));
    await pageUntil((p) => p.includes('Edited on the host'), 'the host edit');

    const down = compose(['down', '-v', '-t', '5']);
    assert.equal(down.status, 0, down.stderr);
    assert.equal(d.berth(['ps', '-aq', '--filter', `label=com.docker.compose.project=${project}`]).stdout, '');
    assert.equal(d.berth(['network', 'ls', '-q', '--filter', `label=com.docker.compose.project=${project}`]).stdout, '');
    assert.equal(d.berth(['volume', 'ls', '-q', '--filter', `label=com.docker.compose.project=${project}`]).stdout, '');
  });
});
