/** The real docker CLI (28.x) against berthd: the same scenarios a Docker user types. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { TestDaemon } from '../helpers/daemon';

const d = new TestDaemon('dockercli');

before(async () => {
  await d.start();
  d.importBusybox();
});
after(() => d.stop());

describe('docker CLI against berthd', () => {
  it('version shows the server', () => {
    const r = d.docker(['version', '--format', '{{.Server.APIVersion}}']);
    assert.equal(r.stdout.trim(), '1.43', r.stderr);
  });

  it('run --rm echo', () => {
    const r = d.docker(['run', '--rm', 'busybox', 'echo', 'hi']);
    assert.equal(r.stdout, 'hi\n', r.stderr);
    assert.equal(r.status, 0);
  });

  it('run exit code', () => {
    assert.equal(d.docker(['run', '--rm', 'busybox', 'sh', '-c', 'exit 3']).status, 3);
  });

  it('run -i with piped stdin', () => {
    const r = d.docker(['run', '-i', '--rm', 'busybox', 'cat'], { input: 'hi\n' });
    assert.equal(r.stdout, 'hi\n', r.stderr);
  });

  it('command not found exits 127', () => {
    const r = d.docker(['run', '--rm', 'busybox', 'nosuchcommand']);
    assert.equal(r.status, 127, r.stderr);
  });

  it('run -d, ps, logs, exec, inspect, stop, rm', () => {
    const id = d.docker(['run', '-d', '--name', 'web', 'busybox', 'sh', '-c', 'echo started; exec sleep 1000']).stdout.trim();
    assert.match(id, /^[0-9a-f]{64}$/);
    assert.match(d.docker(['ps']).stdout, /\bweb$/m);
    let logs = d.docker(['logs', 'web']).stdout;
    for (let i = 0; i < 20 && !logs.includes('started'); i++) logs = d.docker(['logs', 'web']).stdout;
    assert.equal(logs, 'started\n');
    assert.match(d.docker(['exec', 'web', 'ls', '/']).stdout, /^etc$/m);
    assert.equal(d.docker(['exec', 'web', 'sh', '-c', 'exit 4']).status, 4);
    assert.equal(d.docker(['inspect', '-f', '{{.State.Running}} {{.Config.Tty}}', 'web']).stdout, 'true false\n');
    assert.equal(d.docker(['stop', '-t', '1', 'web']).status, 0);
    assert.equal(d.docker(['rm', 'web']).stdout, 'web\n');
  });

  it('images, tag, rmi', () => {
    assert.match(d.docker(['images']).stdout, /^busybox\s+latest\s+[0-9a-f]{12}\s/m);
    assert.equal(d.docker(['tag', 'busybox', 'mybox:v1']).status, 0);
    assert.match(d.docker(['images', 'mybox']).stdout, /^mybox\s+v1\s/m);
    const rmi = d.docker(['rmi', 'mybox:v1']);
    assert.equal(rmi.stdout, 'Untagged: mybox:v1\n', rmi.stderr);
  });

  it('save | load round trip', () => {
    const id = d.docker(['inspect', '-f', '{{.Id}}', 'busybox']).stdout.trim();
    const saved = require('node:child_process').spawnSync('docker', ['save', 'busybox'], { env: d.env, maxBuffer: 1 << 30 });
    assert.equal(saved.status, 0, saved.stderr?.toString());
    assert.equal(d.docker(['rmi', 'busybox']).status, 0);
    const load = d.docker(['load'], { input: saved.stdout });
    assert.match(load.stdout, /Loaded image: busybox:latest/, load.stderr);
    assert.equal(d.docker(['inspect', '-f', '{{.Id}}', 'busybox']).stdout.trim(), id);
  });
});
