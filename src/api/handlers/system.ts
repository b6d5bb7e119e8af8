/** /_ping, /version, /info, /events. */
import * as os from 'node:os';
import { eventMatches, type EventBus } from '../../engine/events';
import { parseTimestampArg } from '../../engine/containers/logs';
import { API_VERSION, MIN_API_VERSION, qFilters, sendJson, startStream } from '../http';
import type { Router } from '../router';

export interface SystemInfo {
  version: string;
  dataRoot: string;
  defaultRuntime: string;
  runtimes: Record<string, { path: string }>;
  cgroupVersion: '1' | '2';
  counts: () => { containers: number; running: number; paused: number; stopped: number; images: number };
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
  r.add('HEAD', '/_ping', ping);

  r.add('GET', '/version', async (ctx) => {
    const kernel = os.release();
    sendJson(ctx, 200, {
      Platform: { Name: 'Berth' },
      Components: [
        { Name: 'Engine', Version: info.version, Details: { ApiVersion: API_VERSION, MinAPIVersion: MIN_API_VERSION, Os: 'linux', Arch: goArch(), KernelVersion: kernel } },
        ...Object.entries(info.runtimes).map(([name, rt]) => ({ Name: name, Version: '', Details: { Path: rt.path } })),
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
      ID: '',
      Containers: c.containers,
      ContainersRunning: c.running,
      ContainersPaused: c.paused,
      ContainersStopped: c.stopped,
      Images: c.images,
      Driver: 'overlay2',
      DriverStatus: [['Backing Filesystem', 'extfs']],
      Plugins: { Volume: ['local'], Network: ['host', 'none'], Authorization: null, Log: ['k8s-file'] },
      MemoryLimit: true,
      SwapLimit: false,
      CpuCfsPeriod: true,
      CpuCfsQuota: true,
      CPUShares: true,
      IPv4Forwarding: true,
      Debug: false,
      NFd: 0,
      NGoroutines: 0,
      SystemTime: new Date().toISOString(),
      LoggingDriver: 'k8s-file',
      CgroupDriver: 'cgroupfs',
      CgroupVersion: info.cgroupVersion,
      NEventsListener: 0,
      KernelVersion: os.release(),
      OperatingSystem: 'Berth on Linux',
      OSType: 'linux',
      Architecture: os.machine(),
      NCPU: os.cpus().length,
      MemTotal: os.totalmem(),
      IndexServerAddress: 'https://index.docker.io/v1/',
      RegistryConfig: { IndexConfigs: {}, InsecureRegistryCIDRs: ['127.0.0.0/8'], Mirrors: [] },
      DockerRootDir: info.dataRoot,
      HttpProxy: '',
      HttpsProxy: '',
      NoProxy: '',
      Name: os.hostname(),
      Labels: [],
      ExperimentalBuild: false,
      ServerVersion: info.version,
      Runtimes: info.runtimes,
      DefaultRuntime: info.defaultRuntime,
      Swarm: { LocalNodeState: 'inactive' },
      LiveRestoreEnabled: true,
      Isolation: '',
      InitBinary: 'tini',
      SecurityOptions: ['name=seccomp,profile=builtin'],
      Warnings: [],
    });
  });

  r.add('GET', '/events', async (ctx) => {
    const filters = qFilters(ctx.query);
    const sinceNs = parseTimestampArg(ctx.query.get('since'));
    const untilNs = parseTimestampArg(ctx.query.get('until'));
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

function goArch(): string {
  const a = os.arch();
  return a === 'x64' ? 'amd64' : a;
}
