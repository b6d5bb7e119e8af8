/**
 * `berth compose pull` and `push` against a loopback `berth registry serve`: push sends the built images only, pull
 * fetches the selected services' images (dependencies with --include-deps), a failure stops it unless
 * --ignore-pull-failures, --quiet prints nothing, and `up` pulls an image it lacks.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { TestDaemon } from '../helpers/daemon';
import { composeHelpers } from '../helpers/compose';
import { berthRegistry } from '../helpers/ports';

const d = new TestDaemon('compose-reg');
const project = `bcr${process.pid % 100000}`;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-compose-reg-'));
const children: ChildProcess[] = [];
let reg = '';

const COMPOSE = `
services:
  app:
    build: {dockerfile_inline: "FROM busybox\\nRUN echo built > /built"}
    image: \${REG}/cmp/app:1
    command: sleep 600
  base:
    image: \${REG}/cmp/base:1
    command: sleep 600
  user:
    image: \${REG}/cmp/user:1
    command: sleep 600
    depends_on: [base]
  missing:
    image: \${REG}/cmp/missing:1
    profiles: [missing]
`;

const { compose, ok, berth } = composeHelpers(d, project, dir, () => ({ REG: reg }));
const has = (ref: string): boolean => d.berth(['image', 'inspect', ref]).status === 0;

describe('berth compose pull and push', () => {
  before(async () => {
    fs.writeFileSync(path.join(dir, 'compose.yaml'), COMPOSE);
    await d.start();
    d.importBusybox();
    const r = await berthRegistry(dir);
    children.push(r.proc);
    reg = r.address;
    for (const name of ['base', 'user']) {
      berth(['tag', 'busybox', `${reg}/cmp/${name}:1`]);
      berth(['push', `${reg}/cmp/${name}:1`]);
    }
  });
  after(async () => {
    compose(['down', '-t', '1']);
    for (const c of children) c.kill('SIGKILL');
    await d.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('push sends the images of built services, skipping the others', () => {
    ok(['build', 'app']);
    const out = ok(['push']);
    assert.match(out, new RegExp(`Pushing ${reg}/cmp/app:1 +Pushed`));
    assert.match(out, /^ base +Skipped$/m);
    berth(['rmi', `${reg}/cmp/app:1`]);
    assert.match(ok(['pull', 'app']), /^ app +Pulled$/m);
    assert.equal(berth(['run', '--rm', `${reg}/cmp/app:1`, 'cat', '/built']), 'built');
  });

  it('pull fetches the named services, their dependencies with --include-deps; --quiet prints nothing', () => {
    berth(['rmi', `${reg}/cmp/base:1`, `${reg}/cmp/user:1`]);
    ok(['pull', 'user']);
    assert.ok(has(`${reg}/cmp/user:1`));
    assert.equal(has(`${reg}/cmp/base:1`), false, 'no dependency without --include-deps');
    assert.equal(ok(['pull', '-q', '--include-deps', 'user']), '');
    assert.ok(has(`${reg}/cmp/base:1`));
  });

  it('a failed pull stops it unless --ignore-pull-failures', () => {
    let r = compose(['--profile', 'missing', 'pull', 'missing']);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /missing/);
    berth(['rmi', `${reg}/cmp/base:1`]);
    r = compose(['--profile', 'missing', 'pull', '--ignore-pull-failures', 'missing', 'base']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /^ missing +Error/m);
    assert.ok(has(`${reg}/cmp/base:1`), 'the other image pulled');
  });

  it('up pulls a missing image', () => {
    berth(['rmi', `${reg}/cmp/base:1`]);
    const out = ok(['up', '-d', 'base']);
    assert.match(out, /^ base +Pulled$/m);
    assert.equal(berth(['inspect', '-f', '{{.State.Status}}', `${project}-base-1`]), 'running');
  });
});
