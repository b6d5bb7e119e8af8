/** Container lifecycle through the berth CLI against a real berthd, crun and conmon. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { TestDaemon } from '../helpers/daemon';

const d = new TestDaemon('containers');

before(async () => {
  await d.start();
  d.importBusybox();
});
after(() => d.stop());

describe('berth run', () => {
  it('prints the output and exits 0', () => {
    const r = d.berth(['run', '--rm', 'busybox', 'echo', 'hi']);
    assert.equal(r.stderr, '');
    assert.equal(r.stdout, 'hi\n');
    assert.equal(r.status, 0);
  });

  it('exits with the container exit code', () => {
    assert.equal(d.berth(['run', '--rm', 'busybox', 'sh', '-c', 'exit 3']).status, 3);
  });

  it('keeps stdout and stderr apart', () => {
    const r = d.berth(['run', '--rm', 'busybox', 'sh', '-c', 'echo out; echo err >&2']);
    assert.equal(r.stdout, 'out\n');
    assert.equal(r.stderr, 'err\n');
  });

  it('pipes stdin with -i', () => {
    const r = d.berth(['run', '-i', '--rm', 'busybox', 'cat'], { input: 'line1\nline2\n' });
    assert.equal(r.stdout, 'line1\nline2\n');
    assert.equal(r.status, 0);
  });

  it('applies -e, -w, -u, --hostname and --entrypoint', () => {
    const r = d.berth(['run', '--rm', '-e', 'FOO=bar', '-w', '/tmp/new', '-u', 'nobody', '--hostname', 'box1', '--entrypoint', 'sh',
      'busybox', '-c', 'echo $FOO $(pwd) $(id -u) $(hostname)']);
    assert.equal(r.stdout, 'bar /tmp/new 65534 box1\n', r.stderr);
  });

  it('makes host edits in a bind mount visible at once', () => {
    const dir = require('node:fs').mkdtempSync('/var/tmp/berth-bind-');
    require('node:fs').writeFileSync(`${dir}/f`, 'v1');
    try {
      const r = d.berth(['run', '--rm', '-v', `${dir}:/app:ro`, 'busybox', 'cat', '/app/f']);
      assert.equal(r.stdout, 'v1');
      const w = d.berth(['run', '--rm', '-v', `${dir}:/app:ro`, 'busybox', 'sh', '-c', 'echo x > /app/g']);
      assert.notEqual(w.status, 0, 'a read-only bind must refuse writes');
    } finally {
      require('node:fs').rmSync(dir, { recursive: true, force: true });
    }
  });

  it('exits 127 with docker\'s message when the command is not found', () => {
    const r = d.berth(['run', '--rm', 'busybox', 'nosuchcommand']);
    assert.equal(r.status, 127, r.stderr);
    assert.match(r.stderr, /executable file not found/);
  });

  it('refuses an unknown flag with exit 125', () => {
    const r = d.berth(['run', '--no-such-flag', 'busybox']);
    assert.equal(r.status, 125);
    assert.match(r.stderr, /unknown flag: --no-such-flag/);
  });

  it('says the image is missing', () => {
    const r = d.berth(['run', '--rm', 'nosuchimage:1']);
    assert.equal(r.status, 125);
    assert.match(r.stderr, /Unable to find image 'nosuchimage:1' locally/);
  });

  it('uses docker\'s default capabilities and masks /proc paths', () => {
    const r = d.berth(['run', '--rm', 'busybox', 'sh', '-c', 'grep CapBnd /proc/self/status; cat /proc/kcore | wc -c; mount -t tmpfs x /mnt && echo mounted']);
    assert.match(r.stdout, /CapBnd:\s+00000000a80425fb/);
    assert.match(r.stdout, /^0$/m);
    assert.doesNotMatch(r.stdout, /mounted/);
  });
});

describe('events', () => {
  it('reports the lifecycle of a container in order, filtered', () => {
    const since = String(Date.now() / 1000);
    d.berth(['run', '--rm', '--name', 'evt', 'busybox', 'true']);
    const until = String(Date.now() / 1000 + 0.5);
    const r = d.berth(['events', '--since', since, '--until', until, '--filter', 'container=evt', '--format', '{{.Action}}']);
    assert.equal(r.stdout, 'create\nstart\ndie\ndestroy\n', r.stderr);
    const json = d.berth(['events', '--since', since, '--until', until, '--filter', 'event=die', '--format', '{{json .}}']);
    const ev = JSON.parse(json.stdout);
    assert.equal(ev.Actor.Attributes.exitCode, '0');
    assert.equal(ev.Actor.Attributes.name, 'evt');
  });
});

describe('detached containers', () => {
  it('run -d, ps, logs, exec, top, stop, rm', () => {
    const run = d.berth(['run', '-d', '--name', 'web', 'busybox', 'sh', '-c', 'echo started; echo oops >&2; exec sleep 1000']);
    assert.equal(run.status, 0, run.stderr);
    const id = run.stdout.trim();
    assert.match(id, /^[0-9a-f]{64}$/);

    const ps = d.berth(['ps']);
    assert.match(ps.stdout.split('\n')[0], /^CONTAINER ID\s+IMAGE\s+COMMAND\s+CREATED\s+STATUS\s+PORTS\s+NAMES$/);
    assert.match(ps.stdout, new RegExp(`^${id.slice(0, 12)}\\s+busybox\\s+.*Up .*\\s+web$`, 'm'));
    assert.equal(d.berth(['ps', '-q', '--no-trunc']).stdout.trim(), id);
    assert.equal(d.berth(['ps', '--format', '{{.Names}}']).stdout, 'web\n');

    // logs are written by conmon; give the shell a moment to print
    let logs = d.berth(['logs', 'web']);
    for (let i = 0; i < 20 && !logs.stdout.includes('started'); i++) logs = d.berth(['logs', 'web']);
    assert.equal(logs.stdout, 'started\n');
    assert.equal(logs.stderr, 'oops\n');

    const ex = d.berth(['exec', 'web', 'ls', '/']);
    assert.match(ex.stdout, /^bin$/m);
    assert.equal(d.berth(['exec', 'web', 'sh', '-c', 'exit 5']).status, 5);

    const top = d.berth(['top', 'web']);
    assert.match(top.stdout, /sleep 1000/);

    const insp = JSON.parse(d.berth(['inspect', 'web']).stdout);
    assert.equal(insp[0].State.Running, true);
    assert.equal(insp[0].Config.Tty, false);
    assert.equal(insp[0].Name, '/web');
    assert.equal(d.berth(['inspect', '-f', '{{.State.Status}}', 'web']).stdout, 'running\n');

    assert.equal(d.berth(['stop', '-t', '1', 'web']).stdout, 'web\n');
    assert.equal(d.berth(['inspect', '-f', '{{.State.ExitCode}}', 'web']).stdout, '137\n');
    assert.match(d.berth(['ps', '-a', '--filter', 'status=exited']).stdout, /Exited \(137\)/);
    assert.equal(d.berth(['rm', 'web']).stdout, 'web\n');
    assert.equal(d.berth(['ps', '-aq']).stdout, '');
  });

  it('refuses to remove a running container unless forced; kill, pause, restart, rename, wait', () => {
    const id = d.berth(['run', '-d', 'busybox', 'sleep', '1000']).stdout.trim();
    const rm = d.berth(['rm', id]);
    assert.equal(rm.status, 1);
    assert.match(rm.stderr, /container is running/);
    assert.equal(d.berth(['pause', id]).status, 0);
    assert.equal(d.berth(['inspect', '-f', '{{.State.Status}}', id]).stdout, 'paused\n');
    const exPaused = d.berth(['exec', id, 'true']);
    assert.notEqual(exPaused.status, 0);
    assert.match(exPaused.stderr, /is paused/);
    assert.equal(d.berth(['unpause', id]).status, 0);
    assert.equal(d.berth(['rename', id, 'renamed']).status, 0);
    assert.equal(d.berth(['restart', '-t', '0', 'renamed']).status, 0);
    assert.equal(d.berth(['inspect', '-f', '{{.State.Running}}', 'renamed']).stdout, 'true\n');
    assert.equal(d.berth(['kill', 'renamed']).status, 0);
    assert.equal(d.berth(['wait', 'renamed']).stdout, '137\n');
    assert.equal(d.berth(['rm', '-f', 'renamed']).status, 0);
  });

  it('stops an exec in a stopped container with 409 wording', () => {
    d.berth(['create', '--name', 'idle', 'busybox', 'true']);
    const r = d.berth(['exec', 'idle', 'true']);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /is not running/);
    d.berth(['rm', 'idle']);
  });
});
