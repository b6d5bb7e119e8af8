/**
 * `berth compose watch` and `up --watch` against its own berthd: sync (new, changed and deleted files, a new
 * directory; `ignore` and .dockerignore'd paths left out), sync+restart with initial_sync, rebuild (a new image and a
 * recreated container; both restart a `depends_on.<svc>.restart: true` dependent), compose's output lines; Ctrl-C
 * ends `watch` leaving the containers running, and ends `up --watch` stopping them.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BERTH, TestDaemon } from '../helpers/daemon';
import { composeHelpers } from '../helpers/compose';

const d = new TestDaemon('compose-watch');
const project = `bcw${process.pid % 100000}`;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-compose-watch-'));

const COMPOSE = `
services:
  app:
    build: {dockerfile_inline: "FROM busybox\\nCOPY src /app\\nCOPY version.txt /version.txt"}
    command: sh -c 'echo app-up; exec sleep 600'
    develop:
      watch:
        - {path: ./src, target: /app, action: sync, ignore: [ignored.txt, "cache/"]}
        - {path: ./version.txt, action: rebuild}
        - {path: ./conf, target: /etc/conf, action: sync+restart, initial_sync: true}
  helper:
    image: busybox
    command: sleep 600
    depends_on:
      app: {condition: service_started, restart: true}
`;

const write = (rel: string, text: string): void => {
  fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
  fs.writeFileSync(path.join(dir, rel), text);
};
const { compose, berth } = composeHelpers(d, project, dir);
const container = `${project}-app-1`;
const helper = `${project}-helper-1`;
/** A command's output in the app container ('' when it fails: the container may be between two lives). */
const inApp = (script: string): string => {
  const r = d.berth(['exec', container, 'sh', '-c', script]);
  return r.status === 0 ? r.stdout.trim() : '';
};
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
/**
 * Polls until `check` holds (the watch works asynchronously); fails with `what` after a generous bound. Checks of a
 * child's output go through here too: the synchronous execs block this process from reading it meanwhile.
 */
async function until(what: string, check: () => boolean): Promise<void> {
  for (let i = 0; i < 480; i++) {
    if (check()) return;
    await sleep(250);
  }
  assert.fail(`never: ${what}`);
}

/** A long-running `berth compose` whose output is collected. */
function start(args: string[]): { child: ChildProcess; out: () => string; exited: Promise<number | null> } {
  const child = spawn(BERTH, ['compose', '-p', project, ...args], { cwd: dir, env: d.env });
  let out = '';
  child.stdout?.on('data', (c) => (out += c));
  child.stderr?.on('data', (c) => (out += c));
  return { child, out: () => out, exited: new Promise((r) => child.on('exit', (code) => r(code))) };
}

describe('berth compose watch', () => {
  const children: ChildProcess[] = [];
  before(async () => {
    write('compose.yaml', COMPOSE);
    write('.dockerignore', 'src/*.log\n');
    write('src/a.txt', 'a1');
    write('version.txt', 'v1');
    write('conf/initial.conf', 'initial');
    await d.start();
    d.importBusybox();
  });
  after(async () => {
    for (const c of children) c.kill('SIGKILL');
    compose(['down', '-t', '1', '--rmi', 'local']);
    await d.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('builds, starts and syncs: changes, new directories, deletions; ignore and .dockerignore honoured', async () => {
    const w = start(['watch']);
    children.push(w.child);
    await until('Watch enabled', () => w.out().includes('Watch enabled'));
    assert.equal(inApp('cat /app/a.txt'), 'a1');
    assert.equal(inApp('cat /etc/conf/initial.conf'), 'initial', 'initial_sync copied the conf directory');

    write('src/a.txt', 'a2');
    write('src/sub/deep/new.txt', 'new');
    await until('a change and a new directory synced', () => inApp('cat /app/a.txt /app/sub/deep/new.txt') === 'a2new');
    await until('sync reported', () => /Syncing service "app" after \d+ changes were detected/.test(w.out()));

    fs.rmSync(path.join(dir, 'src/a.txt'));
    await until('a deletion synced', () => inApp('test -e /app/a.txt || echo gone') === 'gone');

    write('src/ignored.txt', 'x');
    write('src/cache/c.txt', 'x');
    write('src/debug.log', 'x');
    await sleep(1000); // past the quiet period: the ignored files form a batch of their own
    write('src/marker.txt', 'm');
    await until('a later change synced', () => inApp('cat /app/marker.txt') === 'm');
    assert.equal(inApp('ls /app/ignored.txt /app/cache /app/debug.log 2>/dev/null; echo end'), 'end', 'ignored paths not synced');

    const started = (c: string): string => berth(['inspect', '-f', '{{.State.StartedAt}}', c]);
    const [appStarted, helperStarted] = [started(container), started(helper)];
    write('conf/app.conf', 'restarted-conf');
    await until('sync+restart', () => inApp('cat /etc/conf/app.conf') === 'restarted-conf' && started(container) !== appStarted);
    await until('restart reported', () => w.out().includes('service(s) ["app"] restarted'));
    assert.notEqual(started(helper), helperStarted, 'the depends_on restart: true dependent restarted too');

    const id = berth(['inspect', '-f', '{{.Id}}', container]);
    const helperBefore = started(helper);
    write('version.txt', 'v2');
    await until('rebuilt and recreated', () => inApp('cat /version.txt') === 'v2');
    await until('the dependent restarted after the rebuild', () => started(helper) !== helperBefore);
    assert.notEqual(berth(['inspect', '-f', '{{.Id}}', container]), id);
    await until('rebuild reported', () => /Rebuilding service\(s\) \["app"\] after changes were detected\.\.\.[\s\S]*service\(s\) \["app"\] successfully built/.test(w.out()));
    assert.equal(berth(['images', '-q', '--filter', 'dangling=true']), '', 'the previous image pruned');
    assert.doesNotMatch(w.out(), /sha256:/, 'no image id printed');

    w.child.kill('SIGINT');
    assert.equal(await w.exited, 0, w.out());
    assert.equal(berth(['inspect', '-f', '{{.State.Status}}', container]), 'running', 'watch leaves the service running');
  });

  it('up --watch: logs (a rebuilt container\'s too), a sync, and Ctrl-C stopping the containers', async () => {
    const w = start(['up', '--watch']);
    children.push(w.child);
    await until('Watch enabled', () => w.out().includes('Watch enabled'));
    write('src/late.txt', 'late');
    await until('synced under up --watch', () => inApp('cat /app/late.txt') === 'late');
    const logLines = (): number => (w.out().match(/^app-1 +\| app-up$/gm) ?? []).length;
    await until('logs followed', () => logLines() === 1);
    write('version.txt', 'v3');
    await until('a rebuilt container\'s logs followed too', () => logLines() === 2 && inApp('cat /version.txt') === 'v3');
    w.child.kill('SIGINT');
    assert.equal(await w.exited, 130, w.out());
    assert.match(w.out(), /Gracefully stopping/);
    assert.equal(berth(['inspect', '-f', '{{.State.Status}}', container]), 'exited');
  });

  it('refuses a project without develop.watch, and a sync rule without target', () => {
    write('plain.yaml', 'services:\n  p:\n    image: busybox\n    command: sleep 1\n');
    let r = compose(['-f', 'plain.yaml', 'watch', '--no-up']);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /none of the selected services is configured for watch/);
    write('notarget.yaml', 'services:\n  p:\n    image: busybox\n    develop:\n      watch: [{path: ./src, action: sync}]\n');
    r = compose(['-f', 'notarget.yaml', 'watch', '--no-up']);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /services\.p\.develop\.watch: target is required for sync and sync\+restart actions/);
  });
});
