/**
 * `berth compose` with newer Compose Specification keys, against its own berthd: a service built from an inline
 * Dockerfile (the context still sent, a build secret, build.platforms), a secret and a config read from the environment and .env, `restart SERVICE` (and `up`
 * recreating SERVICE) restarting the services that declare `depends_on.<svc>.restart: true` after it, and an included project whose
 * relative paths and .env are its own (their bad input is refused in compose.test.ts).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { TestDaemon } from '../helpers/daemon';
import { composeHelpers } from '../helpers/compose';

const d = new TestDaemon('compose-spec');
const project = `bcs${process.pid % 100000}`;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-compose-spec-'));

const COMPOSE = `
include:
  - path: sub/compose.yaml
services:
  app:
    build:
      context: .
      dockerfile_inline: |
        FROM busybox
        COPY hello.txt /hello.txt
        RUN --mount=type=secret,id=token test "$$(cut -c1-6 /run/secrets/token)" = s3cret
      secrets: [token]
      platforms: ["\${NATIVE}"]
    command: sleep 600
    secrets: [token]
    configs:
      - source: conf
        target: /etc/app.conf
    depends_on:
      db: {condition: service_started, restart: true}
  db:
    image: busybox
    command: sleep 600
    environment: {DBV: "\${DBV:-1}"}
  other:
    image: busybox
    command: sleep 600
    depends_on: [db]
  foreign:
    build: {context: ., dockerfile_inline: FROM busybox, platforms: [linux/s390x]}
    profiles: [foreign]
secrets:
  token: {environment: TOKEN}
configs:
  conf: {environment: CONF}
`;
const SUB = `
services:
  inc:
    image: busybox
    command: sleep 600
    volumes: [./data:/data]
    environment:
      GREETING: \${GREETING}
`;

const { compose, ok, berth } = composeHelpers(d, project, dir, () => ({ CONF: 'conf-from-env', NATIVE: `linux/${process.arch === 'x64' ? 'amd64' : process.arch}` }));
const inService = (service: string, cmd: string[]): string => ok(['exec', '-T', service, ...cmd]).trim();
const startedAt = (service: string): number => Date.parse(berth(['inspect', '-f', '{{.State.StartedAt}}', `${project}-${service}-1`]));

describe('berth compose: dockerfile_inline, environment secrets, depends_on restart, include', () => {
  before(async () => {
    fs.mkdirSync(path.join(dir, 'sub', 'data'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'compose.yaml'), COMPOSE);
    fs.writeFileSync(path.join(dir, 'hello.txt'), 'hello from the context\n');
    fs.writeFileSync(path.join(dir, '.env'), 'TOKEN=s3cret-from-dotenv\n');
    fs.writeFileSync(path.join(dir, 'sub', 'compose.yaml'), SUB);
    fs.writeFileSync(path.join(dir, 'sub', '.env'), 'GREETING=from-sub-env\n');
    fs.writeFileSync(path.join(dir, 'sub', 'data', 'file.txt'), 'included data\n');
    await d.start();
    d.importBusybox();
  });
  after(async () => {
    compose(['down', '-t', '1', '--rmi', 'local']);
    await d.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('build runs the inline Dockerfile with the context and the build secret, for the native platform; up starts it', () => {
    ok(['build', 'app']);
    const r = compose(['--profile', 'foreign', 'build', 'foreign']);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /does not match the specified platform: wanted linux\/s390x/, 'build.platforms reach the builder');
    assert.ok(berth(['image', 'inspect', '-f', '{{.Id}}', `${project}-app`]).startsWith('sha256:'));
    ok(['up', '-d']);
    assert.equal(inService('app', ['cat', '/hello.txt']), 'hello from the context');
  });

  it('mounts secrets and configs read from .env and the environment as files', () => {
    assert.equal(inService('app', ['cat', '/run/secrets/token']), 's3cret-from-dotenv');
    assert.equal(inService('app', ['cat', '/etc/app.conf']), 'conf-from-env');
    assert.equal(inService('app', ['stat', '-c', '%a', '/run/secrets/token']), '444');
    const config = ok(['config']);
    assert.match(config, /environment: TOKEN/);
    assert.doesNotMatch(config, /s3cret-from-dotenv/);
  });

  it('include: the included service runs with its own relative paths and .env', () => {
    assert.equal(inService('inc', ['cat', '/data/file.txt']), 'included data');
    assert.equal(inService('inc', ['sh', '-c', 'echo $GREETING']), 'from-sub-env');
    assert.deepEqual(ok(['config', '--services']).trim().split('\n').sort(), ['app', 'db', 'inc', 'other']);
  });

  it('restart db restarts app (depends_on restart: true) after it, not other', () => {
    const before = { db: startedAt('db'), app: startedAt('app'), other: startedAt('other') };
    const out = ok(['restart', 'db']);
    assert.match(out, new RegExp(`${project}-db-1 +Restarting[\\s\\S]*${project}-app-1 +Restarting`));
    assert.ok(startedAt('db') > before.db, 'db restarted');
    assert.ok(startedAt('app') > before.app, 'app restarted');
    assert.ok(startedAt('app') >= startedAt('db'), 'app restarted after db');
    assert.equal(startedAt('other'), before.other, 'other (no restart: true) left running');
    assert.equal(inService('app', ['cat', '/run/secrets/token']), 's3cret-from-dotenv');
  });

  it('up recreating db restarts app (depends_on restart: true) without recreating it, not other', () => {
    const id = (service: string): string => berth(['inspect', '-f', '{{.Id}}', `${project}-${service}-1`]);
    const before = { db: id('db'), app: id('app'), other: id('other'), appStarted: startedAt('app'), otherStarted: startedAt('other') };
    const r = compose(['up', '-d'], { DBV: '2' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`${project}-app-1 +Stopping[\\s\\S]*${project}-db-1 +Recreate[\\s\\S]*${project}-app-1 +Started`));
    assert.notEqual(id('db'), before.db, 'db recreated');
    assert.equal(id('app'), before.app, 'app kept');
    assert.ok(startedAt('app') > before.appStarted && startedAt('app') >= startedAt('db'), 'app restarted after db');
    assert.equal(id('other'), before.other);
    assert.equal(startedAt('other'), before.otherStarted, 'other left running');
  });
});
