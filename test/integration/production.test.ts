/**
 * Containers that behave in production, on real cgroups: limits (OOM kill, pids, cpus), restart policies (also across
 * a daemon crash), health checks, stats, update, cp/diff/export/commit, security options. Through the berth CLI and
 * the docker CLI.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { TestDaemon } from '../helpers/daemon';

const d = new TestDaemon('prod');
const tmp = fs.mkdtempSync('/var/tmp/berth-prod-');

before(async () => {
  await d.start();
  d.importBusybox();
});
after(async () => {
  await d.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const inspect = (ref: string, f: string): string => d.berth(['inspect', '-f', f, ref]).stdout.trim();
const ok = (r: { status: number; stdout: string; stderr: string }, what: string) => {
  assert.equal(r.status, 0, `${what}: ${r.stderr}${r.stdout}`);
  return r.stdout;
};

/** Polls until `f` returns true (or fails with `what` after `ms`). */
async function until(what: string, f: () => boolean, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!f()) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}\n${d.log().slice(-2000)}`);
    await sleep(200);
  }
}

const cgroupFile = (id: string, controller: string, file: string) => fs.readFileSync(`/sys/fs/cgroup/${controller}/berth/${id}/${file}`, 'utf8').trim();

describe('resource limits', () => {
  it('a memory hog under --memory 32m is killed by the kernel: OOMKilled, exit 137', () => {
    const r = d.berth(['run', '--name', 'hog', '--memory', '32m', 'busybox', 'sh', '-c', 'x=a; while true; do x=$x$x; done']);
    assert.equal(r.status, 137, r.stderr);
    assert.equal(inspect('hog', '{{.State.OOMKilled}} {{.State.ExitCode}} {{.HostConfig.Memory}}'), 'true 137 33554432');
    ok(d.berth(['rm', 'hog']), 'rm');
  });

  it('--pids-limit 20 stops a fork loop', () => {
    const r = d.berth(['run', '--rm', '--pids-limit', '20', 'busybox', 'sh', '-c', 'for i in $(seq 1 40); do sleep 30 & done; wait']);
    assert.match(r.stderr, /can't fork|Resource temporarily unavailable/, r.stdout + r.stderr);
  });

  it('--cpus 0.5 and --memory show in the cgroup; update changes them live; stats shows the limit', () => {
    const id = ok(d.docker(['run', '-d', '--name', 'lim', '--cpus', '0.5', '--memory', '32m', 'busybox', 'sleep', '300']), 'run').trim();
    try {
      assert.equal(cgroupFile(id, 'cpu', 'cpu.cfs_quota_us'), '50000');
      assert.equal(cgroupFile(id, 'cpu', 'cpu.cfs_period_us'), '100000');
      assert.equal(cgroupFile(id, 'memory', 'memory.limit_in_bytes'), String(32 << 20));
      const stats = ok(d.berth(['stats', '--no-stream', 'lim']), 'stats');
      assert.match(stats, /^CONTAINER ID\s+NAME\s+CPU %\s+MEM USAGE \/ LIMIT\s+MEM %\s+NET I\/O\s+BLOCK I\/O\s+PIDS\n/);
      assert.match(stats, new RegExp(`^${id.slice(0, 12)}\\s+lim\\s+\\d+\\.\\d\\d%\\s+[\\d.]+[KM]iB / 32MiB\\s`, 'm'));
      assert.match(ok(d.docker(['stats', '--no-stream', '--format', '{{.Name}} {{.MemUsage}} {{.PIDs}}', 'lim']), 'docker stats'), /^lim [\d.]+[KM]iB \/ 32MiB 1\n$/);
      ok(d.docker(['update', '--memory', '64m', '--memory-swap', '128m', '--cpus', '1', '--pids-limit', '50', 'lim']), 'update');
      assert.equal(cgroupFile(id, 'memory', 'memory.limit_in_bytes'), String(64 << 20));
      assert.equal(cgroupFile(id, 'cpu', 'cpu.cfs_quota_us'), '100000');
      assert.equal(cgroupFile(id, 'pids', 'pids.max'), '50');
      assert.equal(inspect('lim', '{{.HostConfig.Memory}} {{.HostConfig.NanoCpus}} {{.HostConfig.PidsLimit}}'), `${64 << 20} 1000000000 50`);
    } finally {
      d.berth(['rm', '-f', 'lim']);
    }
  });

  it('limits the kernel cannot honour are refused before start, with docker messages', () => {
    const small = d.berth(['run', '--rm', '-m', '4m', 'busybox', 'true']);
    assert.equal(small.status, 125);
    assert.match(small.stderr, /Minimum memory limit allowed is 6MB/);
    const cpus = d.docker(['run', '--rm', '--cpuset-cpus', '57', 'busybox', 'true']);
    assert.equal(cpus.status, 125);
    assert.match(cpus.stderr, /Requested CPUs are not available - requested 57, available: \d/);
    assert.equal(d.berth(['ps', '-aq']).stdout, '');
  });
});

describe('restart policies', () => {
  it('on-failure:3 restarts three times and stops', async () => {
    d.berth(['run', '-d', '--name', 'flaky', '--restart', 'on-failure:3', 'busybox', 'sh', '-c', 'echo try; exit 3']);
    try {
      await until('three restarts', () => inspect('flaky', '{{.State.Status}} {{.RestartCount}}') === 'exited 3');
      await sleep(1000); // no fourth
      assert.equal(inspect('flaky', '{{.State.Status}} {{.RestartCount}} {{.State.ExitCode}}'), 'exited 3 3');
      assert.equal(d.berth(['logs', 'flaky']).stdout, 'try\n'.repeat(4));
    } finally {
      d.berth(['rm', '-f', 'flaky']);
    }
  });

  it('stop keeps an always container stopped; always and unless-stopped differ across a daemon crash', async () => {
    const al = ok(d.berth(['run', '-d', '--name', 'al', '--restart', 'always', 'busybox', 'sleep', '1000']), 'run al').trim();
    ok(d.docker(['run', '-d', '--name', 'stopped-al', '--restart', 'always', 'busybox', 'sleep', '1000']), 'run');
    ok(d.docker(['run', '-d', '--name', 'stopped-us', '--restart', 'unless-stopped', 'busybox', 'sleep', '1000']), 'run');
    try {
      ok(d.berth(['stop', '-t', '0', 'stopped-al', 'stopped-us']), 'stop');
      await sleep(500);
      assert.equal(inspect('stopped-al', '{{.State.Status}}'), 'exited');
      // the machine "reboots": the daemon dies, and so does the container
      const pid = Number(inspect('al', '{{.State.Pid}}'));
      await d.crash();
      spawnSync('crun', ['--root', path.join(d.execRoot, 'state', 'crun'), 'kill', al, 'KILL']);
      await until('the container to die', () => !fs.existsSync(`/proc/${pid}`));
      await d.start();
      await until('al running again', () => inspect('al', '{{.State.Status}}') === 'running');
      assert.notEqual(Number(inspect('al', '{{.State.Pid}}')), pid);
      assert.equal(inspect('stopped-al', '{{.State.Status}}'), 'running', 'docker: always comes back with the daemon even after a stop');
      assert.equal(inspect('stopped-us', '{{.State.Status}}'), 'exited', 'unless-stopped stays stopped');
    } finally {
      d.berth(['rm', '-f', 'al', 'stopped-al', 'stopped-us']);
    }
  });
});

describe('health checks', () => {
  it('a failing check turns unhealthy, a passing one healthy; ps, filters and events show it', async () => {
    const since = Math.floor(Date.now() / 1000);
    ok(d.docker(['run', '-d', '--name', 'doc', '--health-cmd', 'cat /tmp/ok', '--health-interval', '500ms', '--health-retries', '2', 'busybox', 'sleep', '300']), 'run');
    try {
      assert.match(d.berth(['ps', '--format', '{{.Status}}', '--filter', 'name=doc']).stdout, /\(health: starting\)/);
      await until('unhealthy', () => inspect('doc', '{{.State.Health.Status}}') === 'unhealthy');
      const h = JSON.parse(inspect('doc', '{{json .State.Health}}')) as { FailingStreak: number; Log: { ExitCode: number; Output: string }[] };
      assert.ok(h.FailingStreak >= 2);
      assert.equal(h.Log.at(-1)?.ExitCode, 1);
      assert.match(h.Log.at(-1)?.Output ?? '', /No such file/);
      assert.match(d.docker(['ps', '--format', '{{.Names}} {{.Status}}']).stdout, /^doc Up .* \(unhealthy\)$/m);
      ok(d.berth(['exec', 'doc', 'touch', '/tmp/ok']), 'exec');
      await until('healthy', () => inspect('doc', '{{.State.Health.Status}}') === 'healthy');
      assert.equal(d.berth(['ps', '--format', '{{.Names}}', '--filter', 'health=healthy']).stdout, 'doc\n');
      assert.equal(d.berth(['ps', '--format', '{{.Names}}', '--filter', 'health=unhealthy']).stdout, '');
      const ev = d.berth(['events', '--since', String(since), '--until', String(Math.floor(Date.now() / 1000) + 1), '--filter', 'container=doc', '--format', '{{.Action}}']);
      assert.match(ev.stdout, /health_status: unhealthy\n(.*\n)*health_status: healthy/);
    } finally {
      d.berth(['rm', '-f', 'doc']);
    }
  });
});

describe('files: cp, diff, export, commit', () => {
  it('cp both ways, diff, export and commit round trip', () => {
    const src = path.join(tmp, 'src');
    fs.mkdirSync(path.join(src, 'sub'), { recursive: true });
    fs.writeFileSync(path.join(src, 'a.txt'), 'hello\n');
    fs.writeFileSync(path.join(src, 'sub', 'b'), 'deep\n');
    ok(d.berth(['run', '-d', '--name', 'files', 'busybox', 'sh', '-c', 'rm /bin/vi; echo x > /etc/motd; exec sleep 300']), 'run');
    try {
      ok(d.berth(['cp', src, 'files:/srv']), 'cp in (new dir)');
      ok(d.docker(['cp', path.join(src, 'a.txt'), 'files:/tmp/']), 'docker cp in (into dir)');
      assert.equal(ok(d.berth(['exec', 'files', 'sh', '-c', 'cat /srv/a.txt /srv/sub/b /tmp/a.txt']), 'exec'), 'hello\ndeep\nhello\n');
      const back = path.join(tmp, 'back');
      ok(d.docker(['cp', 'files:/srv', back]), 'docker cp out');
      assert.equal(fs.readFileSync(path.join(back, 'sub', 'b'), 'utf8'), 'deep\n');
      ok(d.berth(['cp', 'files:/etc/motd', path.join(tmp, 'motd')]), 'cp out file');
      assert.equal(fs.readFileSync(path.join(tmp, 'motd'), 'utf8'), 'x\n');
      const missing = d.berth(['cp', 'files:/nope', tmp]);
      assert.equal(missing.status, 1);
      assert.match(missing.stderr, /No such container:path: files:\/nope/);
      const diff = ok(d.docker(['diff', 'files']), 'diff').split('\n');
      for (const line of ['C /bin', 'D /bin/vi', 'A /etc/motd', 'A /srv', 'A /srv/sub/b', 'A /tmp/a.txt']) assert.ok(diff.includes(line), `${line} in:\n${diff.join('\n')}`);
      assert.ok(!diff.includes('A /etc/hosts'), 'engine mount points are not changes');
      const tarFile = path.join(tmp, 'files.tar');
      ok(d.berth(['export', '-o', tarFile, 'files']), 'export');
      const names = spawnSync('tar', ['-tf', tarFile]).stdout.toString().split('\n');
      assert.ok(names.includes('srv/sub/b') && names.includes('bin/sh') && !names.includes('bin/vi'), 'export has the merged tree');
      const img = ok(d.berth(['commit', '-m', 'snap', '-c', 'ENV SNAP=1', 'files', 'snap:1']), 'commit').trim();
      assert.match(img, /^sha256:[0-9a-f]{64}$/);
      assert.equal(ok(d.berth(['run', '--rm', 'snap:1', 'sh', '-c', 'cat /srv/a.txt; echo $SNAP; ls /bin/vi 2>&1 || true']), 'run snap'), 'hello\n1\nls: /bin/vi: No such file or directory\n');
    } finally {
      d.berth(['rm', '-f', 'files']);
      d.berth(['rmi', 'snap:1']);
    }
  });

  it('cp never follows a symlink out of the container root', () => {
    const host = path.join(tmp, 'host-secret');
    fs.writeFileSync(host, 'secret\n');
    ok(d.berth(['run', '-d', '--name', 'links', 'busybox', 'sh', '-c', `ln -s ${host} /escape; ln -s ../../../../../../../in /up; mkdir /in; exec sleep 300`]), 'run');
    try {
      const out = d.berth(['cp', '-L', 'links:/escape', path.join(tmp, 'got')]);
      assert.notEqual(fs.existsSync(path.join(tmp, 'got')) && fs.readFileSync(path.join(tmp, 'got'), 'utf8'), 'secret\n', out.stderr);
      fs.writeFileSync(path.join(tmp, 'drop'), 'dropped\n');
      ok(d.berth(['cp', path.join(tmp, 'drop'), 'links:/up/']), 'cp through a relative link');
      assert.equal(ok(d.berth(['exec', 'links', 'cat', '/in/drop']), 'exec'), 'dropped\n', 'landed inside the container');
      assert.ok(!fs.existsSync('/in/drop'), 'nothing on the host');
    } finally {
      d.berth(['rm', '-f', 'links']);
    }
  });
});

describe('security options', () => {
  it('--cap-drop ALL removes chown; --privileged can mount; a default container cannot mount or load modules', () => {
    const chown = d.berth(['run', '--rm', '--cap-drop', 'ALL', 'busybox', 'chown', '1', '/tmp']);
    assert.equal(chown.status, 1);
    assert.match(chown.stderr, /Operation not permitted/);
    ok(d.berth(['run', '--rm', 'busybox', 'chown', '1', '/tmp']), 'default chown');
    assert.equal(ok(d.docker(['run', '--rm', '--privileged', 'busybox', 'sh', '-c', 'mkdir -p /t && mount -t tmpfs none /t && echo mounted']), 'privileged'), 'mounted\n');
    const mount = d.docker(['run', '--rm', 'busybox', 'sh', '-c', 'mkdir -p /t && mount -t tmpfs none /t']);
    assert.notEqual(mount.status, 0);
    assert.match(mount.stderr, /permission denied/);
    const mod = d.berth(['run', '--rm', 'busybox', 'sh', '-c', 'head -c 8192 /dev/zero > /m.ko; insmod /m.ko']);
    assert.notEqual(mod.status, 0);
    assert.match(mod.stderr, /Operation not permitted|not permitted/i);
  });
});
