/**
 * `berth compose` against its own berthd: a database with a health check and a named volume, a web service that
 * depends on it being healthy and publishes a port on localhost, a worker to scale. Names and labels as Compose v2,
 * `up` twice recreates nothing, an environment change recreates only that service, `down -v` leaves nothing, and
 * bad input is refused with file:line before anything is created.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { BERTH, TestDaemon } from '../helpers/daemon';
import { freePort } from '../helpers/ports';

const d = new TestDaemon('compose');
const project = `bc${process.pid % 100000}`;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-compose-'));
let port = 0;

const COMPOSE = `
services:
  db:
    image: busybox
    command: sh -c 'echo dbpage > /data/index.html; sleep 2; touch /tmp/ready; exec httpd -f -p 80 -h /data'
    volumes: [data:/data]
    healthcheck:
      test: ["CMD", "test", "-f", "/tmp/ready"]
      interval: 500ms
      retries: 60
  web:
    image: busybox
    command: sh -c 'wget -q -O /www/page http://db/ && exec httpd -f -p 80 -h /www'
    environment:
      GREETING: \${GREETING:-hello}
    tmpfs: [/www]
    ports: ["127.0.0.1:\${PORT}:80"]
    depends_on:
      db: {condition: service_healthy}
  worker:
    image: busybox
    command: sh -c 'echo worker-up; exec sleep 600'
    deploy:
      resources:
        limits: {memory: 64M, pids: 50}
volumes:
  data: {}
`;

function compose(args: string[], env: NodeJS.ProcessEnv = {}, cwd = dir) {
  const r = spawnSync(BERTH, ['compose', '-p', project, ...args], { cwd, env: { ...d.env, PORT: String(port), ...env }, timeout: 180_000 });
  return { status: r.status ?? -1, stdout: r.stdout?.toString() ?? '', stderr: r.stderr?.toString() ?? '' };
}
function ok(args: string[], env: NodeJS.ProcessEnv = {}): string {
  const r = compose(args, env);
  assert.equal(r.status, 0, `berth compose ${args.join(' ')}: ${r.stdout}${r.stderr}`);
  return r.stdout;
}
const berth = (args: string[]): string => {
  const r = d.berth(args);
  assert.equal(r.status, 0, `berth ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.trim();
};
const ids = (service: string): string[] => berth(['ps', '-aq', '--no-trunc', '--filter', `label=com.docker.compose.project=${project}`, '--filter', `label=com.docker.compose.service=${service}`]).split('\n').filter(Boolean).sort();
const get = (url: string): Promise<string> => new Promise((resolve, reject) => {
  http.get(url, (res) => {
    let body = '';
    res.on('data', (c) => (body += c));
    res.on('end', () => resolve(body));
  }).on('error', reject);
});

describe('berth compose', () => {
  before(async () => {
    port = await freePort();
    fs.writeFileSync(path.join(dir, 'compose.yaml'), COMPOSE);
    await d.start();
    d.importBusybox();
  });
  after(async () => {
    compose(['down', '-v', '--remove-orphans', '-t', '1']);
    await d.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('refuses bad input with file:line before creating anything', () => {
    const cases: [string, string, RegExp, NodeJS.ProcessEnv?][] = [
      ['unknown.yaml', 'services:\n  web:\n    image: busybox\n    imagee: x\n', /unknown\.yaml:4: services\.web additional properties 'imagee' not allowed/],
      ['type.yaml', 'services:\n  web:\n    image: busybox\n    ports:\n      - target: eighty\n', /type\.yaml:5: services\.web\.ports\[0\]\.target must be an integer/],
      ['cycle.yaml', 'services:\n  a:\n    image: busybox\n    depends_on: [b]\n  b:\n    image: busybox\n    depends_on: [a]\n', /cycle\.yaml:4: dependency cycle detected: a -> b -> a/],
      ['required.yaml', 'services:\n  web:\n    image: ${NOPE:?set NOPE first}\n', /required\.yaml:3: services\.web\.image: required variable NOPE is missing a value: set NOPE first/],
      ['envfile.yaml', 'services:\n  web:\n    image: busybox\n    env_file: missing.env\n', /envfile\.yaml:4: services\.web\.env_file: env file .*missing\.env not found/],
      ['yaml.yaml', 'services:\n  web:\n    image: [busybox\n', /yaml\.yaml:\d+:\d+: yaml: /],
      ['both.yaml', 'services:\n  b:\n    build:\n      context: .\n      dockerfile: Dockerfile\n      dockerfile_inline: FROM busybox\n', /both\.yaml:3: services\.b\.build: service "b" declares mutually exclusive dockerfile and dockerfile_inline/],
      ['unset.yaml', 'services:\n  s: {image: busybox, secrets: [k]}\nsecrets:\n  k: {environment: NOT_SET_HERE}\n', /unset\.yaml:4: environment variable "NOT_SET_HERE" required by secret "k" is not set/],
      ['clash.yaml', 'include: [part.yaml]\nservices:\n  web: {image: busybox}\n', /part\.yaml:2: services\.web conflicts with .*clash\.yaml:3: included resources must have unique names/],
    ];
    fs.writeFileSync(path.join(dir, 'part.yaml'), 'services:\n  web: {image: busybox}\n');
    for (const [file, text, want] of cases) {
      fs.writeFileSync(path.join(dir, file), text);
      const r = compose(['-f', file, 'up', '-d']);
      assert.equal(r.status, 1, `${file}: ${r.stderr}`);
      assert.match(r.stderr, want);
    }
    assert.equal(berth(['ps', '-aq']), '');
    assert.equal(d.berth(['network', 'inspect', `${project}_default`]).status, 1);
  });

  it('up -d: dependencies healthy first, names and labels as Compose v2, the page answers', async () => {
    ok(['up', '-d']);
    const [db] = ids('db');
    const [web] = ids('web');
    assert.ok(db && web);
    assert.equal(berth(['inspect', '-f', '{{.Name}} {{index .Config.Labels "com.docker.compose.container-number"}} {{index .Config.Labels "com.docker.compose.oneoff"}}', web]), `/${project}-web-1 1 False`);
    const labels = JSON.parse(berth(['inspect', '-f', '{{json .Config.Labels}}', db])) as Record<string, string>;
    assert.equal(labels['com.docker.compose.project'], project);
    assert.equal(labels['com.docker.compose.service'], 'db');
    assert.equal(labels['com.docker.compose.project.working_dir'], dir);
    assert.equal(labels['com.docker.compose.project.config_files'], path.join(dir, 'compose.yaml'));
    assert.match(labels['com.docker.compose.config-hash'], /^[0-9a-f]{64}$/);
    assert.equal(JSON.parse(berth(['inspect', '-f', '{{json .Config.Labels}}', web]))['com.docker.compose.depends_on'], 'db:service_healthy:false');
    assert.equal(berth(['network', 'inspect', '-f', '{{index .Labels "com.docker.compose.network"}}', `${project}_default`]), 'default');
    assert.equal(berth(['volume', 'inspect', '-f', '{{index .Labels "com.docker.compose.volume"}}', `${project}_data`]), 'data');
    // the web container was created only once the database was healthy: its check cannot pass in the first 2 s
    const dbStarted = Date.parse(berth(['inspect', '-f', '{{.State.StartedAt}}', db]));
    assert.ok(Date.parse(berth(['inspect', '-f', '{{.Created}}', web])) - dbStarted >= 2000, 'web created after db was healthy');
    let page = '';
    for (let i = 0; i < 40 && !page.includes('dbpage'); i++) {
      page = await get(`http://127.0.0.1:${port}/page`).catch(() => '');
      if (!page.includes('dbpage')) await new Promise((r) => setTimeout(r, 250));
    }
    assert.match(page, /dbpage/);
    const worker = ids('worker')[0];
    assert.equal(berth(['inspect', '-f', '{{.HostConfig.Memory}} {{.HostConfig.PidsLimit}}', worker]), `${64 * 1024 * 1024} 50`);
    const ps = ok(['ps']);
    assert.match(ps, /^NAME\s+IMAGE\s+COMMAND\s+SERVICE\s+CREATED\s+STATUS\s+PORTS/);
    assert.match(ps, new RegExp(`${project}-web-1 .* web .*Up.*127\\.0\\.0\\.1:${port}->80/tcp`));
    assert.deepEqual(ok(['ps', '--services']).trim().split('\n').sort(), ['db', 'web', 'worker']);
  });

  it('up again recreates nothing; an environment change recreates only that service', () => {
    const before = [ids('db'), ids('web'), ids('worker')];
    ok(['up', '-d']);
    assert.deepEqual([ids('db'), ids('web'), ids('worker')], before);
    ok(['up', '-d'], { GREETING: 'bye' });
    assert.deepEqual(ids('db'), before[0]);
    assert.deepEqual(ids('worker'), before[2]);
    assert.notDeepEqual(ids('web'), before[1]);
    assert.equal(ok(['exec', '-T', 'web', 'sh', '-c', 'echo $GREETING']).trim(), 'bye');
  });

  it('--scale adds and removes replicas', () => {
    ok(['up', '-d', '--scale', 'worker=3'], { GREETING: 'bye' });
    assert.equal(ids('worker').length, 3);
    assert.deepEqual(ok(['ps', '--format', '{{.Name}}', 'worker']).trim().split('\n').sort(), [1, 2, 3].map((n) => `${project}-worker-${n}`));
    ok(['up', '-d', '--scale', 'worker=1'], { GREETING: 'bye' });
    assert.equal(ids('worker').length, 1);
  });

  it('logs, config, run, port, top, images', () => {
    assert.match(ok(['logs', 'worker']), /^worker-1 {2}\| worker-up$/m);
    assert.match(ok(['logs', '--no-log-prefix', 'worker']), /^worker-up$/m);
    assert.equal(ok(['run', '--rm', '--no-deps', '-e', 'EXTRA=x', 'web', 'sh', '-c', 'echo run-$GREETING-$EXTRA']).trim(), 'run-hello-x', 'run takes the service config');
    assert.equal(berth(['ps', '-aq', '--filter', 'label=com.docker.compose.oneoff=True']), '', 'run --rm leaves no container');
    assert.equal(ok(['port', 'web', '80']).trim(), `127.0.0.1:${port}`);
    assert.match(ok(['top', 'worker']), /sleep 600/);
    assert.match(ok(['images']), /busybox/);
    const config = JSON.parse(ok(['config', '--format', 'json'])) as { name: string; services: Record<string, { environment?: Record<string, string> }>; volumes: Record<string, { name: string }> };
    assert.equal(config.name, project);
    assert.equal(config.services.web.environment?.GREETING, 'hello');
    assert.equal(config.volumes.data.name, `${project}_data`);
    assert.deepEqual(ok(['config', '--services']).trim().split('\n'), ['db', 'web', 'worker']);
  });

  it('attached up prints prefixed logs and returns when the containers exit', () => {
    fs.writeFileSync(path.join(dir, 'once.yaml'), 'services:\n  once:\n    image: busybox\n    command: echo attached-output\n');
    const r = compose(['-p', `${project}once`, '-f', 'once.yaml', 'up', '--abort-on-container-exit']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^once-1 {2}\| attached-output$/m);
    assert.match(r.stdout, /once-1 exited with code 0/);
    assert.equal(compose(['-p', `${project}once`, '-f', 'once.yaml', 'down']).status, 0);
  });

  it('attached up stops the containers gracefully on Ctrl-C', async () => {
    const other = ['-p', `${project}i`, '-f', 'long.yaml'];
    fs.writeFileSync(path.join(dir, 'long.yaml'), "services:\n  long:\n    image: busybox\n    command: sh -c 'echo long-running; exec sleep 600'\n");
    const child = spawn(BERTH, ['compose', ...other, 'up'], { cwd: dir, env: d.env });
    let out = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (out += c));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    try {
      for (let i = 0; i < 120 && !out.includes('long-running'); i++) await new Promise((r) => setTimeout(r, 250));
      assert.match(out, /long-1 {2}\| long-running/);
      child.kill('SIGINT');
      assert.equal(await exited, 130, out);
      assert.match(out, /Gracefully stopping/);
      assert.equal(berth(['ps', '-q', '--filter', `label=com.docker.compose.project=${project}i`]), '', 'stopped');
    } finally {
      child.kill('SIGKILL');
      compose([...other, 'down', '-t', '1']);
    }
  });

  it('up --wait --wait-timeout, --no-build and --progress quiet', () => {
    const other = ['-p', `${project}w`, '-f', 'wait.yaml'];
    fs.writeFileSync(path.join(dir, 'wait.yaml'), [
      'services:',
      '  sick:',
      '    image: busybox',
      '    command: sleep 600',
      '    healthcheck: {test: ["CMD", "false"], interval: 1s, retries: 1000}',
      '  built:',
      '    build: {context: ., dockerfile: never.Dockerfile}',
      '    profiles: [build]',
    ].join('\n'));
    try {
      let r = compose([...other, 'up', '-d', '--wait', '--wait-timeout', '2']);
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stderr, /timeout waiting for .* to be running\|healthy \(2s\)/);
      r = compose([...other, '--profile', 'build', 'up', '-d', '--no-build', 'built']);
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stderr, new RegExp(`No such image: ${project}w-built`));
      r = compose([...other, '--progress', 'quiet', 'up', '-d', 'sick']);
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stderr, '');
    } finally {
      assert.equal(compose([...other, 'down', '-t', '1']).status, 0);
    }
  });

  it('down -v stops dependents first and leaves no container, network or volume', () => {
    // db becomes the newest container, listed first: down must still stop web before it
    ok(['up', '-d', '--no-deps', '--force-recreate', 'db']);
    const r = compose(['down', '-v', '-t', '1']);
    assert.equal(r.status, 0, r.stderr);
    const out = r.stdout + r.stderr;
    const at = (svc: string): number => out.indexOf(`Container ${project}-${svc}-1  Stopping`);
    assert.ok(at('web') >= 0 && at('db') > at('web'), `web (depends on db) stops before db:\n${out}`);
    assert.deepEqual([...ids('db'), ...ids('web'), ...ids('worker')], []);
    assert.equal(d.berth(['network', 'inspect', `${project}_default`]).status, 1);
    assert.equal(d.berth(['volume', 'inspect', `${project}_data`]).status, 1);
  });
});
