/**
 * Debian's docker-compose 1.29 (Python, over the Engine API) against berthd: a two-service project with a named
 * volume comes up, the services reach each other by name, `up` again recreates nothing, an environment change
 * recreates only that service, `--scale` adds containers, `down -v` leaves nothing. Written to pass against Docker
 * too (BERTH_COMPAT_DOCKER_HOST, see test/helpers/engine.ts). The project is removed by `docker-compose down` (its
 * containers do not carry the shared compat label, which other test files' clean-up removes on a shared engine).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parse } from 'yaml';
import { BERTH } from '../helpers/daemon';
import { compatEngine } from '../helpers/engine';

type Model = { services: Record<string, Record<string, unknown>>; volumes?: Record<string, unknown> };

const e = compatEngine('compose-v1');
const project = `cv${process.pid % 100000}`;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-compose-v1-'));
const hasCompose = spawnSync('docker-compose', ['version']).status === 0;

fs.writeFileSync(path.join(dir, 'docker-compose.yml'), `
services:
  db:
    image: busybox
    command: sh -c 'echo dbpage > /data/index.html && exec httpd -f -p 80 -h /data'
    volumes: [data:/data]
    labels: {berth.test.compose: ${project}}
  web:
    image: busybox
    command: sleep 600
    environment: {GREETING: "\${GREETING:-hello}"}
    depends_on: [db]
    labels: {berth.test.compose: ${project}}
volumes:
  data: {}
`);

function compose(args: string[], env: NodeJS.ProcessEnv = {}): { status: number; stdout: string; stderr: string } {
  const r = spawnSync('docker-compose', ['-p', project, ...args], { cwd: dir, env: { ...e.env, ...env }, timeout: 120_000 });
  return { status: r.status ?? -1, stdout: r.stdout?.toString() ?? '', stderr: r.stderr?.toString() ?? '' };
}
function ok(args: string[], env: NodeJS.ProcessEnv = {}): string {
  const r = compose(args, env);
  assert.equal(r.status, 0, `docker-compose ${args.join(' ')}: ${r.stdout}${r.stderr}`);
  return r.stdout + r.stderr;
}
/** service -> container ids of the project (sorted), read through the engine's label filters (ANDed). */
function ids(service: string): string[] {
  const r = e.docker(['ps', '-aq', '--no-trunc', '--filter', `label=com.docker.compose.project=${project}`, '--filter', `label=com.docker.compose.service=${service}`]);
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.split('\n').filter(Boolean).sort();
}

describe('docker-compose 1.29', { skip: !hasCompose && 'docker-compose is not installed' }, () => {
  before(async () => {
    await e.start();
    e.importBusybox();
  });
  after(async () => {
    compose(['down', '-v', '--remove-orphans', '-t', '1']);
    await e.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('brings a two-service project up; the services reach each other by name', () => {
    ok(['up', '-d']);
    assert.equal(ids('db').length, 1);
    assert.equal(ids('web').length, 1);
    assert.equal(e.docker(['inspect', '-f', '{{.Name}} {{.State.Status}}', `${project}_web_1`]).stdout.trim(), `/${project}_web_1 running`);
    const page = ok(['exec', '-T', 'web', 'wget', '-q', '-O-', 'http://db/']);
    assert.match(page, /dbpage/);
    assert.equal(ok(['exec', '-T', 'web', 'sh', '-c', 'echo $GREETING']).trim(), 'hello');
    assert.match(ok(['ps']), new RegExp(`${project}_db_1 .*Up`));
  });

  it('up again recreates nothing; an environment change recreates only that service', () => {
    const [db, web] = [ids('db'), ids('web')];
    const out = ok(['up', '-d']);
    assert.match(out, new RegExp(`${project}_db_1 is up-to-date`));
    assert.deepEqual([ids('db'), ids('web')], [db, web]);
    ok(['up', '-d'], { GREETING: 'bye' });
    assert.deepEqual(ids('db'), db);
    assert.notDeepEqual(ids('web'), web);
    assert.equal(ids('web').length, 1);
    assert.equal(ok(['exec', '-T', 'web', 'sh', '-c', 'echo $GREETING'], { GREETING: 'bye' }).trim(), 'bye');
  });

  it('scales a service', () => {
    ok(['up', '-d', '--scale', 'web=3'], { GREETING: 'bye' });
    assert.equal(ids('web').length, 3);
    const states = e.docker(['inspect', '-f', '{{.State.Status}}', ...ids('web')]).stdout.trim().split('\n');
    assert.deepEqual(states, ['running', 'running', 'running']);
  });

  it("berth compose config agrees with docker-compose 1.29's config on the fields both print", () => {
    const theirs = parse(ok(['config']).replace(/^WARN.*\n/gm, '')) as Model;
    const r = spawnSync(BERTH, ['compose', '-p', project, 'config', '--format', 'json'], { cwd: dir, env: e.env });
    assert.equal(r.status, 0, r.stderr?.toString());
    const ours = JSON.parse(r.stdout.toString()) as Model;
    assert.deepEqual(Object.keys(ours.services).sort(), Object.keys(theirs.services).sort());
    for (const [name, svc] of Object.entries(theirs.services)) {
      for (const key of ['image', 'environment', 'labels'] as const) assert.deepEqual(ours.services[name][key], svc[key], `${name}.${key}`);
    }
    assert.deepEqual(Object.keys(ours.volumes ?? {}), Object.keys(theirs.volumes ?? {}));
  });

  it('down -v leaves no container, network or volume', () => {
    ok(['down', '-v', '-t', '1']);
    assert.deepEqual([...ids('db'), ...ids('web')], []);
    assert.notEqual(e.docker(['network', 'inspect', `${project}_default`]).status, 0);
    assert.notEqual(e.docker(['volume', 'inspect', `${project}_data`]).status, 0);
  });
});
