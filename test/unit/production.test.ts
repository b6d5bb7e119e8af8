/** Pure cores of restart policies, health checks, resource checks, stats parsing, in-root path resolution, stats rows. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { nextDelay, restartsAtBoot, shouldRestart, validateRestartPolicy } from '../../src/engine/containers/restart';
import { applyResult, probeArgs, timing, type Health } from '../../src/engine/containers/health';
import { checkResources, parseCpuList, type HostFacts } from '../../src/engine/containers/limits';
import { parseBlkioV1, parseIoStatV2, parseNetDev, systemCpuNs } from '../../src/engine/containers/stats';
import { resolveInRoot } from '../../src/common/rootpath';
import { mergeUpdate } from '../../src/engine/containers/update';
import { entryFrom, StatsContext, type StatsJson } from '../../src/cli/commands/stats';
import { parseUlimit } from '../../src/cli/commands/container-opts';

describe('restart policy', () => {
  const exit = (exitCode: number, restartCount = 0, manuallyStopped = false) => ({ exitCode, restartCount, manuallyStopped });
  it('decides as docker', () => {
    assert.equal(shouldRestart({ Name: 'no' }, exit(1)), false);
    assert.equal(shouldRestart({ Name: 'always' }, exit(0)), true);
    assert.equal(shouldRestart({ Name: 'always' }, exit(0, 0, true)), false);
    assert.equal(shouldRestart({ Name: 'on-failure' }, exit(0)), false);
    assert.equal(shouldRestart({ Name: 'on-failure', MaximumRetryCount: 3 }, exit(1, 2)), true);
    assert.equal(shouldRestart({ Name: 'on-failure', MaximumRetryCount: 3 }, exit(1, 3)), false);
    assert.equal(shouldRestart({ Name: 'on-failure' }, exit(1, 99)), true);
  });
  it('at boot, always ignores a manual stop and unless-stopped does not', () => {
    assert.equal(restartsAtBoot({ Name: 'always' }, exit(0, 0, true)), true);
    assert.equal(restartsAtBoot({ Name: 'unless-stopped' }, exit(0, 0, true)), false);
    assert.equal(restartsAtBoot({ Name: 'unless-stopped' }, exit(137)), true);
  });
  it('backs off from 100 ms, doubling to 1 min, and resets after 10 s of running', () => {
    assert.equal(nextDelay(0, 0), 100);
    assert.equal(nextDelay(100, 50), 200);
    assert.equal(nextDelay(51_200, 50), 60_000);
    assert.equal(nextDelay(60_000, 50), 60_000);
    assert.equal(nextDelay(6400, 10_000), 100);
  });
  it('refuses bad policies with docker wording', () => {
    assert.throws(() => validateRestartPolicy({ Name: 'sometimes' }, false), /invalid restart policy 'sometimes'/);
    assert.throws(() => validateRestartPolicy({ Name: 'always', MaximumRetryCount: 2 }, false), /can only be used with 'on-failure'/);
    assert.throws(() => validateRestartPolicy({ Name: 'on-failure', MaximumRetryCount: -1 }, false), /cannot be negative/);
    assert.throws(() => validateRestartPolicy({ Name: 'always' }, true), /both --restart and --rm/);
    validateRestartPolicy({ Name: 'no' }, true);
  });
});

describe('health check', () => {
  it('turns HEALTHCHECK tests into argv', () => {
    assert.deepEqual(probeArgs({ Test: ['CMD-SHELL', 'curl -f x'] }), ['/bin/sh', '-c', 'curl -f x']);
    assert.deepEqual(probeArgs({ Test: ['CMD', 'true', 'a'] }), ['true', 'a']);
    assert.equal(probeArgs({ Test: ['NONE'] }), undefined);
    assert.equal(probeArgs(undefined), undefined);
  });
  it('counts failures to the retries, not during the start period, and keeps the last 5 results', () => {
    const t = timing({ Retries: 2, StartPeriod: 5e9 });
    assert.deepEqual(t, { intervalMs: 30_000, timeoutMs: 30_000, retries: 2, startPeriodMs: 5000 });
    const started = '2024-01-01T00:00:00.000Z';
    const at = (s: number, code: number) => ({ Start: new Date(Date.parse(started) + s * 1000).toISOString(), End: '', ExitCode: code, Output: '' });
    let h: Health = { Status: 'starting', FailingStreak: 0, Log: [] };
    h = applyResult(h, at(1, 1), t, started);
    assert.deepEqual([h.Status, h.FailingStreak], ['starting', 0]);
    h = applyResult(h, at(6, 1), t, started);
    assert.deepEqual([h.Status, h.FailingStreak], ['starting', 1]);
    h = applyResult(h, at(7, 1), t, started);
    assert.deepEqual([h.Status, h.FailingStreak], ['unhealthy', 2]);
    h = applyResult(h, at(8, 0), t, started);
    assert.deepEqual([h.Status, h.FailingStreak], ['healthy', 0]);
    for (let i = 0; i < 4; i++) h = applyResult(h, at(9 + i, 0), t, started);
    assert.equal(h.Log.length, 5);
  });
});

describe('resource checks', () => {
  const host: HostFacts = { cpus: 2, cpusetCpus: '0-1', cpusetMems: '0', blkioWeight: false, swapAccounting: true };
  it('refuses what the kernel cannot honour', () => {
    assert.throws(() => checkResources({ Memory: 4 << 20 }, host), /Minimum memory limit allowed is 6MB/);
    assert.throws(() => checkResources({ CpusetCpus: '5' }, host), /Requested CPUs are not available - requested 5, available: 0-1/);
    assert.throws(() => checkResources({ CpusetMems: '1' }, host), /Requested memory nodes are not available - requested 1, available: 0/);
    assert.throws(() => checkResources({ CpusetCpus: 'x' }, host), /Invalid value x for cpuset cpus/);
    assert.throws(() => checkResources({ NanoCpus: 3e9 }, host), /Range of CPUs is from 0.01 to 2.00, as there are only 2 CPUs available/);
    assert.throws(() => checkResources({ Memory: 64 << 20, MemorySwap: 32 << 20 }, host), /memoryswap limit should be larger/);
    assert.throws(() => checkResources({ NanoCpus: 1e9, CpuQuota: 50000 }, host), /Nano CPUs and CPU Quota/);
  });
  it('warns and drops what this kernel lacks', () => {
    const r = { BlkioWeight: 300 };
    assert.match(checkResources(r, host)[0], /Block I\/O weight/);
    assert.equal(r.BlkioWeight, 0);
  });
  it('parses cpu lists', () => {
    assert.deepEqual([...(parseCpuList('0-2,5') ?? [])], [0, 1, 2, 5]);
    assert.equal(parseCpuList('2-1'), undefined);
  });
  it('update keeps unset (zero) fields and refuses memory above the old swap', () => {
    const hc = { Memory: 32 << 20, MemorySwap: 64 << 20, PidsLimit: 10, NanoCpus: 5e8 };
    const out = mergeUpdate(hc, { Memory: 48 << 20, PidsLimit: 0, CpuQuota: 20000 }, true);
    assert.equal(out.Memory, 48 << 20);
    assert.equal(out.PidsLimit, 10);
    assert.equal(out.NanoCpus, 0);
    assert.throws(() => mergeUpdate(hc, { Memory: 128 << 20 }, true), /update the memoryswap at the same time/);
  });
});

describe('stats', () => {
  it('parses /proc/<pid>/net/dev without loopback', () => {
    const text = 'Inter-|   Receive\n face |bytes packets\n    lo: 10 1 0 0 0 0 0 0 10 1 0 0 0 0 0 0\n  eth0: 1360 12 0 1 0 0 0 0 586 7 0 0 0 0 0 0\n';
    assert.deepEqual(parseNetDev(text), { eth0: { rx_bytes: 1360, rx_packets: 12, rx_errors: 0, rx_dropped: 1, tx_bytes: 586, tx_packets: 7, tx_errors: 0, tx_dropped: 0 } });
  });
  it('parses blkio (v1) and io.stat (v2) and /proc/stat', () => {
    assert.deepEqual(parseBlkioV1('8:0 Read 4096\n8:0 Write 512\nTotal 4608\n'), [{ major: 8, minor: 0, op: 'Read', value: 4096 }, { major: 8, minor: 0, op: 'Write', value: 512 }]);
    assert.deepEqual(parseIoStatV2('8:0 rbytes=10 wbytes=20 rios=1 wios=2\n').bytes.map((e) => e.value), [10, 20]);
    assert.equal(systemCpuNs('cpu  1 2 3 4 5 6 7 8 9\ncpu0 1\n'), 28 * 10_000_000);
  });
  it('renders a row as docker stats', () => {
    const s: StatsJson = {
      id: 'a'.repeat(64), name: '/web',
      cpu_stats: { cpu_usage: { total_usage: 2e8 }, system_cpu_usage: 2e9, online_cpus: 2 },
      precpu_stats: { cpu_usage: { total_usage: 1e8 }, system_cpu_usage: 1e9 },
      memory_stats: { usage: 3 << 20, limit: 32 << 20, stats: { total_inactive_file: 1 << 20 } },
      blkio_stats: { io_service_bytes_recursive: [{ op: 'Read', value: 2000 }, { op: 'Write', value: 1000 }] },
      networks: { eth0: { rx_bytes: 1360, tx_bytes: 586 } },
      pids_stats: { current: 3 },
    };
    const c = new StatsContext(entryFrom('web', s), true);
    assert.deepEqual([c.ID, c.Name, c.CPUPerc, c.MemUsage, c.MemPerc, c.NetIO, c.BlockIO, c.PIDs],
      ['aaaaaaaaaaaa', 'web', '20.00%', '2MiB / 32MiB', '6.25%', '1.36kB / 586B', '2kB / 1kB', '3']);
  });
});

describe('paths inside a container root', () => {
  it('resolves symlinks against the root and never above it', () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-root-'));
    try {
      fs.mkdirSync(path.join(root, 'etc'));
      fs.symlinkSync('/etc', path.join(root, 'abs'));
      fs.symlinkSync('../../../../..', path.join(root, 'etc', 'up'));
      fs.symlinkSync('loop', path.join(root, 'loop'));
      assert.equal(resolveInRoot(root, '/abs/passwd'), 'etc/passwd');
      assert.equal(resolveInRoot(root, '/etc/up/etc'), 'etc');
      assert.equal(resolveInRoot(root, '/../../x'), 'x');
      assert.equal(resolveInRoot(root, '/abs', false), 'abs');
      assert.throws(() => resolveInRoot(root, '/loop/x'), /too many levels of symbolic links/);
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('run flags', () => {
  it('parses --ulimit as docker', () => {
    assert.deepEqual(parseUlimit('nofile=1024:2048'), { Name: 'nofile', Soft: 1024, Hard: 2048 });
    assert.deepEqual(parseUlimit('nproc=64'), { Name: 'nproc', Soft: 64, Hard: 64 });
    assert.throws(() => parseUlimit('bogus=1'), /invalid ulimit type: bogus/);
    assert.throws(() => parseUlimit('nofile=10:5'), /soft limit must be less than or equal to hard limit: 10 > 5/);
  });
});
