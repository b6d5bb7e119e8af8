/** /_ping, /version, /info, /events. */
import * as os from 'node:os';
import { eventMatches, type EventBus } from '../../engine/events';
import type { CheckReport } from '../../engine/check';
import { API_VERSION, MIN_API_VERSION, qBool, qFilters, qTimestamp, sendJson, startStream } from '../http';
import type { Router } from '../router';

export interface SystemInfo {
  version: string;
  /** dockerd's engine ID, kept across restarts. */
  id: string;
  dataRoot: string;
  debug: boolean;
  defaultRuntime: string;
  /** Each OCI runtime's binary; `version()` runs it once on first ask. */
  runtimes: Record<string, { path: string; version: () => string; commit: () => string }>;
  cgroupVersion: '1' | '2';
  /** The init binary `--init` runs, when one is installed. */
  initBinary?: string;
  /** What `<init> --version` names as its commit ('' without an init binary). */
  initCommit: () => string;
  registry: { insecure: string[]; mirrors: string[] };
  /** dockerd's SecurityOptions as this daemon applies them (seccomp with its profile, userns, …). */
  securityOptions: string[];
  swapLimit: boolean;
  warnings: string[];
  counts: () => { containers: number; running: number; paused: number; stopped: number; images: number };
  /** `system check`: verify stores and records, find leftovers; `repair` removes what can safely go. */
  check: (repair: boolean) => Promise<CheckReport>;
}

/** Registry settings as dockerd reports them: CIDRs and hosts of insecure registries (loopback always), mirrors. */
function registryConfig(r: SystemInfo['registry']): Record<string, unknown> {
  const cidr = (x: string) => /^[\d.]+\/\d+$/.test(x) || /^[0-9a-f:]+\/\d+$/i.test(x);
  const index = (name: string, secure: boolean, official: boolean, mirrors: string[]) => ({ Name: name, Mirrors: mirrors, Secure: secure, Official: official });
  const IndexConfigs: Record<string, unknown> = { 'docker.io': index('docker.io', true, true, r.mirrors) };
  for (const host of r.insecure.filter((x) => !cidr(x))) IndexConfigs[host] = index(host, false, false, []);
  return {
    AllowNondistributableArtifactsCIDRs: null,
    AllowNondistributableArtifactsHostnames: null,
    InsecureRegistryCIDRs: ['127.0.0.0/8', ...r.insecure.filter(cidr)],
    IndexConfigs,
    Mirrors: r.mirrors,
  };
}

export function systemRoutes(r: Router, events: EventBus, info: SystemInfo): void {
  const ping = async (ctx: Parameters<Parameters<Router['add']>[2]>[0]) => {
    const res = ctx.res!;
    res.writeHead(200, {
      'Content-Type': 'text/plain; charset=utf-8',
      'Cache-Control': 'no-cache, no-store, must-revalidate',
      Pragma: 'no-cache',
      'Builder-Version': '1',
    });
    res.end(ctx.req.method === 'HEAD' ? undefined : 'OK');
  };
  r.add('GET', '/_ping', ping);
  // Berth's own (docker has no such endpoint): GET only looks, POST ?repair=1 also repairs.
  r.add('GET', '/system/check', async (ctx) => sendJson(ctx, 200, await info.check(false)));
  r.add('POST', '/system/check', async (ctx) => sendJson(ctx, 200, await info.check(qBool(ctx.query, 'repair'))));
  r.add('HEAD', '/_ping', ping);

  r.add('GET', '/version', async (ctx) => {
    const kernel = os.release();
    sendJson(ctx, 200, {
      Platform: { Name: 'Berth' },
      Components: [
        { Name: 'Engine', Version: info.version, Details: { ApiVersion: API_VERSION, MinAPIVersion: MIN_API_VERSION, Os: 'linux', Arch: goArch(), KernelVersion: kernel } },
        ...Object.entries(info.runtimes).map(([name, rt]) => ({ Name: name, Version: rt.version(), Details: { Path: rt.path } })),
      ],
      Version: info.version,
      ApiVersion: API_VERSION,
      MinAPIVersion: MIN_API_VERSION,
      GitCommit: '',
      GoVersion: `node ${process.version}`,
      Os: 'linux',
      Arch: goArch(),
      KernelVersion: kernel,
      BuildTime: '',
    });
  });

  r.add('GET', '/info', async (ctx) => {
    const c = info.counts();
    sendJson(ctx, 200, {
      ID: info.id,
      Containers: c.containers,
      ContainersRunning: c.running,
      ContainersPaused: c.paused,
      ContainersStopped: c.stopped,
      Images: c.images,
      Driver: 'overlay2',
      DriverStatus: [['Backing Filesystem', 'extfs']],
      Plugins: { Volume: ['local'], Network: ['host', 'none'], Authorization: null, Log: ['k8s-file'] },
      MemoryLimit: true,
      SwapLimit: info.swapLimit,
      CpuCfsPeriod: true,
      CpuCfsQuota: true,
      CPUShares: true,
      IPv4Forwarding: true,
      Debug: info.debug,
      NFd: 0,
      NGoroutines: 0,
      SystemTime: new Date().toISOString(),
      LoggingDriver: 'k8s-file',
      CgroupDriver: 'cgroupfs',
      CgroupVersion: info.cgroupVersion,
      NEventsListener: events.subscribers(),
      KernelVersion: os.release(),
      OperatingSystem: 'Berth on Linux',
      OSType: 'linux',
      Architecture: os.machine(),
      NCPU: os.cpus().length,
      MemTotal: os.totalmem(),
      IndexServerAddress: 'https://index.docker.io/v1/',
      RegistryConfig: registryConfig(info.registry),
      DockerRootDir: info.dataRoot,
      HttpProxy: '',
      HttpsProxy: '',
      NoProxy: '',
      Name: os.hostname(),
      Labels: [],
      ExperimentalBuild: false,
      ServerVersion: info.version,
      Runtimes: Object.fromEntries(Object.entries(info.runtimes).map(([name, rt]) => [name, { path: rt.path }])),
      DefaultRuntime: info.defaultRuntime,
      Swarm: { LocalNodeState: 'inactive' },
      LiveRestoreEnabled: true,
      Isolation: '',
      InitBinary: info.initBinary ?? '',
      // dockerd's commits of the default runtime and the init; Berth runs no containerd
      RuncCommit: commit(info.runtimes[info.defaultRuntime]?.commit() ?? ''),
      InitCommit: commit(info.initCommit()),
      ContainerdCommit: commit(''),
      SecurityOptions: info.securityOptions,
      Warnings: info.warnings,
    });
  });

  r.add('GET', '/events', async (ctx) => {
    const filters = qFilters(ctx.query);
    const sinceNs = qTimestamp(ctx.query, 'since');
    const untilNs = qTimestamp(ctx.query, 'until');
    const out = startStream(ctx, 'application/json');
    const nowNs = BigInt(Date.now()) * 1_000_000n;
    let unsubscribe = () => {};
    const finish = () => {
      unsubscribe();
      if (!out.writableEnded) out.end();
    };
    unsubscribe = events.subscribe(sinceNs === undefined ? undefined : Number(sinceNs), (ev) => {
      if (untilNs !== undefined && BigInt(ev.timeNano) > untilNs) return finish();
      if (eventMatches(ev, filters)) out.write(JSON.stringify(ev) + '\n');
    });
    out.on('close', unsubscribe);
    if (untilNs !== undefined) {
      const ms = Number((untilNs - nowNs) / 1_000_000n);
      if (ms <= 0) finish();
      else setTimeout(finish, ms).unref();
    }
  });
}

const commit = (id: string) => ({ ID: id, Expected: id });

function goArch(): string {
  const a = os.arch();
  return a === 'x64' ? 'amd64' : a;
}
