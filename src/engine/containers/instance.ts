/**
 * A container's instance, brought up and released: root filesystem, network, bundle, conmon and the runtime at start;
 * runtime state, cgroup and rootfs after an exit or a failed start. The service decides when (and records the state);
 * this module does the steps, in an order that leaves nothing behind on failure.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ApiError, badRequest } from '../../common/errors';
import { shortId } from '../../common/ids';
import { log } from '../../common/log';
import { ContainerCgroup } from '../../runtime/cgroupfs';
import type { ContainerRuntime, RuntimeName } from '../../runtime/types';
import { mountOverlay, unmountOverlay } from '../../store/overlay';
import type { ImageSource } from '../images';
import type { UsernsRemap } from '../userns';
import type { VolumeService } from '../volumes';
import type { AttachHub } from './attach';
import { rememberCompiledSeccomp, writeBundle } from './bundle';
import { mountForCopy } from './copy-mounts';
import { execFailure } from './exec-error';
import type { LogRotator } from './log-rotate';
import type { ContainerNetworking } from './network';
import type { ContainerRecord, ContainerStore } from './record';

export interface InstanceDeps {
  store: ContainerStore;
  images: ImageSource;
  runtime: ContainerRuntime;
  networking: ContainerNetworking;
  volumes: VolumeService;
  /** An always-empty dir used as the lower layer of images without layers. */
  emptyDir: string;
  userns?: UsernsRemap;
}

export class Instances {
  private readonly deleting = new Set<Promise<void>>();

  constructor(
    private readonly d: InstanceDeps,
    private readonly attach: AttachHub,
    private readonly logRotation: LogRotator,
  ) {}

  /** The user namespace a container runs in: the daemon's remapping unless it opted out with `--userns=host`. */
  remapOf(hc: ContainerRecord['HostConfig']): UsernsRemap | undefined {
    return hc.UsernsMode === 'host' ? undefined : this.d.userns;
  }

  /** Mount the overlay; in a remapped container, of the shifted layer copies and an upper owned by its root. */
  mountRootfs(rec: ContainerRecord): void {
    const p = this.d.store.paths(rec.Id);
    const remap = this.remapOf(rec.HostConfig);
    const layers = this.d.images.layerDirs(rec.Image);
    if (remap) {
      fs.mkdirSync(p.upper, { recursive: true });
      remap.own(p.upper);
    }
    mountOverlay(remap ? remap.layerDirs(layers) : layers, { upper: p.upper, work: p.work, target: p.rootfs }, this.d.emptyDir);
  }

  /**
   * Bring the container up: rootfs, network, bundle, conmon (the record names the instance from then on), attach
   * clients that came before start, runtime start. Returns the container's pid and the runtime start under way; on
   * failure (of either) `undoLaunch` cleans up.
   */
  async launch(rec: ContainerRecord): Promise<{ pid: number; started: Promise<void> }> {
    const id = rec.Id;
    const p = this.d.store.paths(id);
    const t0 = performance.now();
    const lap = (what: string) => log.debug('start timing', { id: shortId(id), what, ms: Math.round(performance.now() - t0) });
    this.mountRootfs(rec);
    lap('mounted');
    const net = await this.d.networking.setup(rec, rec.EndpointsConfig);
    const remap = this.remapOf(rec.HostConfig);
    if (remap && net.ns.mode === 'path') remap.netnsDefaults(net.ns.path);
    lap('network');
    const seccompKey = writeBundle(rec, p, net, this.d.volumes, remap);
    lap('bundle');
    const logs = rec.Spec.log;
    const { pid, conmonPid } = await this.d.runtime.create({
      id,
      name: rec.Name.slice(1),
      bundleDir: p.bundle,
      logPath: logs.enabled ? p.log : undefined,
      logSizeMax: logs.maxSize,
      runtime: rec.Runtime,
      tty: rec.Config.Tty,
      openStdin: rec.Config.OpenStdin,
      // Docker never closes a TTY container's stdin when a client goes: it can be re-attached.
      stdinOnce: rec.Config.StdinOnce && !rec.Config.Tty,
    });
    rec.Instance = { conmonPid };
    this.logRotation.watch(id, p.log, logs);
    if (seccompKey) rememberCompiledSeccomp(seccompKey, this.d.runtime.compiledSeccomp(id, rec.Runtime));
    lap('created');
    await this.attach.connectPending(id);
    // not awaited here: the caller writes and syncs the started record while `crun start` (a process) runs
    const started = this.d.runtime.start(id, rec.Runtime).then(() => lap('started'));
    started.catch(() => undefined); // the caller awaits it; a failure before that must not go unhandled
    return { pid, started };
  }

  /** After a failed launch: runtime state, network, rootfs; returns docker's start error and the exit code to record. */
  async undoLaunch(rec: ContainerRecord, e: unknown): Promise<{ err: ApiError; exitCode: number }> {
    const id = rec.Id;
    // conmon first: deleting the container under a live conmon would have it write an exit file after the cleanup
    await this.d.runtime.discard(id, rec.Runtime).catch((de) => log.warn('could not undo the runtime side of a failed start', { id, e: String(de) }));
    await this.d.networking.teardown(id).catch((te) => log.warn('network teardown failed', { id, e: String(te) }));
    quietly(() => unmountOverlay(this.d.store.paths(id).rootfs));
    rec.Instance = undefined;
    return startError(e, rec);
  }

  /**
   * After an exit: runtime state, cgroup, rootfs (the network goes last, in `teardown`). Returns whether the OOM killer
   * struck, and the runtime's delete (a process, ~7 ms), which runs while the caller records and reports the exit: no
   * waiter needs it done, and the caller awaits it before the next operation on the container.
   */
  release(rec: ContainerRecord): { oomKilled: boolean; deleted: Promise<void> } {
    const id = rec.Id;
    // before the runtime removes the cgroup: was it the kernel's OOM killer?
    const oomKilled = new ContainerCgroup(id).oomKills() > 0;
    this.logRotation.stop(id);
    const deleted = this.deleteRuntime(id, rec.Runtime, (rt) => rt.delete(id, rec.Runtime, true));
    quietly(() => unmountOverlay(this.d.store.paths(id).rootfs), (e) => log.warn('umount failed', { id, e: String(e) }));
    this.d.runtime.cleanup(id);
    rec.Instance = undefined;
    return { oomKilled, deleted };
  }

  /**
   * Runtime state a crash left without a record (an auto-removed container's record goes before its runtime delete
   * has finished): conmon, process, state and cgroups.
   */
  discardOrphans(recorded: (id: string) => boolean): Promise<void> {
    const orphans = this.d.runtime.states().filter((s) => !recorded(s.id));
    for (const s of orphans) log.warn('removing runtime state of a container without a record', { id: shortId(s.id) });
    return Promise.all(orphans.map((s) => this.deleteRuntime(s.id, s.runtime, (rt) => rt.discard(s.id, s.runtime)))).then(() => undefined);
  }

  /** Resolves once every runtime delete under way has finished (`system check` looks only at settled state). */
  async settled(): Promise<void> {
    await Promise.all(this.deleting);
  }

  /** Run one runtime removal, then drop the cgroup dirs crun leaves; tracked until done for `settled`. */
  private deleteRuntime(id: string, runtime: RuntimeName, remove: (rt: ContainerRuntime) => Promise<unknown>): Promise<void> {
    const done = remove(this.d.runtime)
      .then(() => undefined, (e) => log.warn('runtime delete failed', { id, runtime, e: String(e) }))
      .then(() => new ContainerCgroup(id).removeLeftovers())
      .finally(() => this.deleting.delete(done));
    this.deleting.add(done);
    return done;
  }

  /**
   * Run `fn` on the container's root: a running container's as its processes see it (its mounts included), or with
   * `layered` its overlay alone (export, commit); a stopped container's overlay (and, unless `layered`, its volumes)
   * is mounted for the call, under `serialize` (the container's lock).
   */
  async withRootfs<T>(
    rec: ContainerRecord, layered: boolean, serialize: (op: () => Promise<T>) => Promise<T>, fn: (root: string, rec: ContainerRecord) => Promise<T>,
  ): Promise<T> {
    const p = this.d.store.paths(rec.Id);
    // the overlay lives in the mount namespace of the berthd that started it: reach it through that container's conmon
    const live = (): string => (layered ? `/proc/${rec.Instance!.conmonPid}/root${p.rootfs}` : `/proc/${rec.State.Pid}/root`);
    if (rec.Instance && rec.State.Pid) return fn(live(), rec);
    return serialize(async () => {
      if (rec.Instance && rec.State.Pid) return fn(live(), rec);
      this.mountRootfs(rec);
      let unmountCopy = (): void => undefined;
      try {
        // as docker, a stopped container's volumes and binds are mounted for cp (export and commit: the overlay alone)
        if (!layered) unmountCopy = await mountForCopy(p.rootfs, this.d.volumes.mountPointsOf(rec));
        return await fn(p.rootfs, rec);
      } finally {
        unmountCopy();
        quietly(() => unmountOverlay(p.rootfs), (e) => log.warn('umount failed', { id: shortId(rec.Id), e: String(e) }));
      }
    });
  }

  /** Tearing down veth, NAT and ports takes ~100 ms: done after the exit was reported. */
  teardown(id: string): Promise<void> {
    return this.d.networking.teardown(id).catch((e) => log.warn('network teardown failed', { id, e: String(e) }));
  }
}

/** Map a runtime failure to docker's start error (the CLI picks 126/127 from its wording) and the exit code. */
function startError(e: unknown, rec: ContainerRecord): { err: ApiError; exitCode: number } {
  if (e instanceof ApiError) return { err: e, exitCode: 128 };
  const f = execFailure(e instanceof Error ? e.message : String(e), rec.Path, 128);
  return { err: badRequest(`failed to create task for container: OCI runtime create failed: ${f.reason}: unknown`), exitCode: f.exitCode };
}

/** Run a cleanup step whose failure must not stop the ones after it. */
export function quietly(step: () => void, onError: (e: unknown) => void = () => undefined): void {
  try {
    step();
  } catch (e) {
    onError(e);
  }
}

/**
 * A rootless daemon makes new namespaces at each start: a conmon in another network namespace belongs to an earlier
 * daemon, whose network (slirp4netns, the port forwards, the bridges) ended with it. Its container is cut off, so it
 * counts as lost and its restart policy brings it back on this daemon's network (rootless Docker restarts them too).
 */
export function fromEarlierNamespaces(pid: number): boolean {
  try {
    return fs.readlinkSync(`/proc/${pid}/ns/net`) !== fs.readlinkSync('/proc/self/ns/net');
  } catch (e) {
    // an earlier daemon's user namespace is not ours: its processes' namespaces are closed to us (ptrace rules)
    return (e as NodeJS.ErrnoException).code === 'EACCES';
  }
}

/** Is `pid` still the conmon of container `id` (not a recycled pid)? */
export function conmonAlive(pid: number, id: string): boolean {
  try {
    const argv = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return path.basename(argv[0]) === 'conmon' && argv.includes(id);
  } catch {
    return false;
  }
}
