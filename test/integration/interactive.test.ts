/**
 * Interactive containers at a real terminal: tmux runs a shell on its own pty, we type into it (send-keys) and read
 * the screen (capture-pane), with the berth CLI and with the real docker CLI against our berthd. Each tmux server
 * (private socket) and container is removed in `after`, also after failures.
 */
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BERTH, TestDaemon } from '../helpers/daemon';
import { HAVE_TMUX, Term } from '../helpers/term';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Detach keys as two keystrokes, as a person types them. */
async function detach(t: Term): Promise<void> {
  t.keys('C-p');
  await sleep(100);
  t.keys('C-q');
}

describe('interactive containers', { skip: HAVE_TMUX ? false : 'tmux is not installed' }, () => {
  const d = new TestDaemon('interactive');
  const terms: Term[] = [];

  before(async () => {
    await d.start();
    d.importBusybox();
  });

  after(async () => {
    for (const t of terms) t.kill();
    await d.stop();
  });

  for (const [cliName, cli] of [['berth', BERTH], ['docker', 'docker']] as const) {
    it(`${cliName}: run -it, resize, Ctrl-C, detach, attach, exec -it, start -ai, exit codes, cooked mode after`, async () => {
      const t = new Term(cliName, d.env);
      terms.push(t);
      const name = `tty-${cliName}`;
      await t.prompt();

      // a shell at the container's prompt, sized like the terminal
      t.line(`${cli} run -it --name ${name} busybox sh`);
      await t.waitFor(/^\/ # /m);
      t.line('echo $((6*7)); stty size');
      await t.waitFor(/^42\r?\n30 100$/m);

      // a local resize reaches the container
      t.resize(120, 40);
      await sleep(300);
      t.line('stty size');
      await t.waitFor(/^40 120$/m);

      // Ctrl-C goes to the container's foreground process, not to the CLI
      t.line('sleep 30; echo slept');
      await sleep(500);
      const t0 = Date.now();
      t.keys('C-c');
      t.line('echo after-$((1+1))');
      await t.waitFor(/^after-2$/m);
      assert.ok(Date.now() - t0 < 5000);
      assert.doesNotMatch(t.screen(), /^slept/m);

      // detach: the CLI exits 0, the container keeps running
      await detach(t);
      await t.prompt();
      assert.equal(await t.status('(exit $?)', 'det'), 0);
      assert.equal(d.berth(['inspect', '-f', '{{.State.Running}}', name]).stdout.trim(), 'true');

      // attach again, detach: docker's "read escape sequence", status 1
      await t.clear();
      t.line(`${cli} attach ${name}`);
      await sleep(700);
      t.line('echo $((7*7))');
      await t.waitFor(/^49$/m);
      await detach(t);
      await t.waitFor(/read escape sequence/);
      await t.prompt();
      assert.equal(await t.status('(exit $?)', 'att'), 1);

      // exec -it: a TTY of its own, sized, with the exec's exit code
      await t.clear();
      t.line(`${cli} exec -it ${name} sh`);
      await t.waitFor(/^\/ # /m);
      t.line('tty; stty size; exit 7');
      await t.waitFor(/^\/dev\/pts\/\d+\r?\n40 120$/m);
      await t.prompt();
      assert.equal(await t.status('(exit $?)', 'ex'), 7);

      // re-attach and end the shell: attach exits with the container's code
      await t.clear();
      t.line(`${cli} attach ${name}`);
      await sleep(700);
      t.line('exit 3');
      await t.prompt();
      assert.equal(await t.status('(exit $?)', 'fin'), 3);

      // start -ai re-attaches to the stopped interactive container
      await t.clear();
      t.line(`${cli} start -ai ${name}`);
      await t.waitFor(/^\/ # /m);
      t.line('exit 5');
      await t.prompt();
      assert.equal(await t.status('(exit $?)', 'sai'), 5);

      // the local terminal is back in cooked mode
      await t.clear();
      t.line('stty -a | tr " ;" "\\n\\n" | grep -x -e "-*icanon" -e "-*echo"');
      await t.waitFor(/^icanon\r?\n^echo$/m);
      d.berth(['rm', '-f', name]);
    });

    it(`${cliName}: -i pipes stdin with EOF, stdout and stderr stay apart, -t needs a terminal`, () => {
      const [bin, ...pre] = cli.split(' ');
      const run = (args: string[], input?: string) => spawnSync(bin, [...pre, ...args], { env: d.env, input, encoding: 'utf8', timeout: 30_000 });
      const cat = run(['run', '-i', '--rm', 'busybox', 'sh', '-c', 'cat; echo err >&2'], 'hi\n');
      assert.equal(cat.status, 0, cat.stderr);
      assert.equal(cat.stdout, 'hi\n');
      assert.equal(cat.stderr, 'err\n');
      const tty = run(['run', '-it', '--rm', 'busybox', 'true'], '');
      assert.equal(tty.status, 1);
      assert.match(tty.stderr, /the input device is not a TTY/);
    });
  }

  it('detach keys from the config file (detachKeys in config.json) for run -it and exec -it, with both CLIs', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-detachcfg-'));
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ detachKeys: 'ctrl-x,x' }));
    try {
      for (const [cliName, cli] of [['berth', BERTH], ['docker', 'docker']] as const) {
        const t = new Term(`cfg-${cliName}`, { ...d.env, DOCKER_CONFIG: dir });
        terms.push(t);
        const name = `cfgkeys-${cliName}`;
        await t.prompt();
        for (const cmd of [`${cli} run -it --name ${name} busybox sh`, `${cli} exec -it ${name} sh`]) {
          await t.clear();
          t.line(cmd);
          await t.waitFor(/^\/ # /m);
          t.keys('C-p');
          await sleep(100);
          t.keys('C-q'); // docker's default keys are plain input now
          t.line('echo still-$((2+3))');
          await t.waitFor(/^still-5$/m);
          t.keys('C-x');
          await sleep(100);
          t.keys('x');
          await t.prompt();
          assert.equal(d.berth(['inspect', '-f', '{{.State.Running}}', name]).stdout.trim(), 'true', `${cliName}: ${cmd}`);
        }
        d.berth(['rm', '-f', name]);
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('exec -u/-w/-e/-d/--privileged, bad commands, stopped containers', () => {
    assert.equal(d.berth(['run', '-d', '--name', 'ex', 'busybox', 'sleep', '1000']).status, 0);
    const r = d.berth(['exec', '-u', '1000', '-w', '/tmp', '-e', 'FOO=bar', 'ex', 'sh', '-c', 'id -u; pwd; echo $FOO; echo e >&2; exit 4']);
    assert.equal(r.status, 4);
    assert.equal(r.stdout, '1000\n/tmp\nbar\n');
    assert.equal(r.stderr, 'e\n');
    assert.equal(d.berth(['exec', '-d', 'ex', 'sh', '-c', 'echo bg > /tmp/d']).status, 0);
    assert.equal(d.berth(['exec', 'ex', 'sh', '-c', 'sleep 0.3; cat /tmp/d']).stdout, 'bg\n');
    const caps = (priv: boolean) => d.berth(['exec', ...(priv ? ['--privileged'] : []), 'ex', 'grep', 'CapEff', '/proc/self/status']).stdout;
    assert.notEqual(caps(true), caps(false));
    const missing = d.docker(['exec', 'ex', 'nope']);
    assert.equal(missing.status, 127);
    assert.match(missing.stdout + missing.stderr, /executable file not found/);
    assert.equal(d.berth(['stop', '-t', '0', 'ex']).status, 0);
    const stopped = d.docker(['exec', 'ex', 'true']);
    assert.notEqual(stopped.status, 0);
    assert.match(stopped.stderr, /is not running/);
    const att = d.docker(['attach', 'ex']);
    assert.equal(att.status, 1);
    assert.match(att.stderr, /You cannot attach to a stopped container, start it first/);
    d.berth(['rm', '-f', 'ex']);
  });

  it('--init stops a sleeping PID 1 at once; logs of a TTY container are raw', () => {
    assert.equal(d.berth(['run', '-d', '--init', '--name', 'ini', 'busybox', 'sleep', '1000']).status, 0);
    const t0 = Date.now();
    assert.equal(d.berth(['stop', 'ini']).status, 0);
    assert.ok(Date.now() - t0 < 5000, 'stop waited for the timeout');
    assert.equal(d.berth(['inspect', '-f', '{{.State.ExitCode}}', 'ini']).stdout.trim(), '143');
    assert.equal(d.berth(['run', '-t', '--name', 'rawlog', 'busybox', 'sh', '-c', 'printf "a\\nb\\n"']).status, 0);
    assert.equal(d.berth(['logs', 'rawlog']).stdout, 'a\r\nb\r\n');
    assert.equal(d.docker(['logs', 'rawlog']).stdout, 'a\r\nb\r\n');
    d.berth(['rm', '-f', 'ini', 'rawlog']);
  });
});
