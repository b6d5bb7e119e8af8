/** The container service: lifecycle of containers (create, start, stop, kill, remove, wait) over records + runtime. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { CreateBody } from '../../schema/container';
import { ApiError, badRequest, conflict, notModified } from '../../common/errors';
import { newId, shortId } from '../../common/ids';
import { parseSignal } from '../../common/signals';
import { log } from '../../common/log';
import type { ContainerRuntime, RuntimeName } from '../../runtime/types';
import { isMountPoint, mountOverlay, unmountOverlay } from '../../store/overlay';
import type { EventBus } from '../events';
import type { ImageSource } from '../images';
import { AttachHub } from './attach';
import { rememberCompiledSeccomp, validateHostConfig, writeBundle } from './bundle';
import type { ContainerNetworking } from './network';
import { randomName, VALID_NAME } from './names';
import { initialState, type ContainerRecord, type ContainerStore } from './record';
import { recordedConfig } from './config';
import { execFailure } from './exec-error';
import { mountForCopy } from './copy-mounts';
import { ContainerCgroup } from '../../runtime/cgroupfs';
import { HealthMonitor } from './health';
import { checkHostConfig } from './limits';
import { normalizeLinks } from './links';
import { LogRotator, logPolicy, resolveLogConfig } from './log-rotate';
import { RestartScheduler, restartsAtBoot, shouldRestart, validateRestartPolicy } from './restart';
import { applyLimits, mergeUpdate, type UpdateBody } from './update';
import { validateCreate } from './validate';
import type { VolumeService } from '../volumes';
import type { UsernsRemap } from '../userns';

export type WaitCondition = 'not-running' | 'next-exit' | 'removed';

interface Waiter {
  condition: WaitCondition;
  resolve: (code: number) => void;
}

export interface ContainerServiceDeps {
  store: ContainerStore;
  images: ImageSource;
  runtime: ContainerRuntime;
  events: EventBus;
  defaultRuntime: RuntimeName;
  /** An always-empty dir used as the lower layer of images without layers. */
  emptyDir: string;
  networking: ContainerNetworking;
  volumes: VolumeService;
  /** The daemon's `--log-opt` defaults for json-file logs. */
  logOpts?: Record<string, string>;
  /** `--userns-remap`: containers not created with `--userns=host` run in this user namespace. */
  userns?: UsernsRemap;
}

export class ContainerService {
  readonly attach: AttachHub;
  private readonly waiters = new Map<string, Waiter[]>();
  private readonly locks = new Map<string, Promise<unknown>>();
  private readonly exitListeners = new Map<string, Array<() => void>>();
  private readonly releasing = new Set<Promise<void>>();
  readonly health: HealthMonitor;
  private readonly restarts = new RestartScheduler();
  private readonly logRotation = new LogRotator();
  private booting = true;

  constructor(private readonly d: ContainerServiceDeps) {
    this.attach = new AttachHub(d.runtime);
    this.health = new HealthMonitor(d.runtime, (id) => d.store.paths(id).bundle, (rec, before) => {
      if (!d.store.find(rec.Id)) return;
      d.store.save(rec);
      const now = rec.State.Health?.Status;
      if (now && now !== before) this.emit(rec, `health_status: ${now}`);
    });
    d.runtime.onExit((id, code) => void this.serialize(id, () => this.handleExit(id, code)));
  }

  get store(): ContainerStore {
    return this.d.store;
  }

  /** Bring records in line with what conmon and the runtime say (after a daemon restart or crash). */
  async reconcile(): Promise<void> {
    for (const rec of this.d.store.load()) {
      if (!rec.Instance) {
        await this.undoHalfStart(rec);
        continue;
      }
      const st = await this.d.runtime.state(rec.Id, rec.Runtime).catch(() => undefined);
      // its exit may have been handled meanwhile (conmon's exit file is watched from the start)
      if (!rec.Instance) continue;
      const supervised = conmonAlive(rec.Instance.conmonPid, rec.Id);
      // `created`: recorded as started, but its `crun start` failed while berthd went down (see doStart)
      const neverStarted = st?.status === 'created';
      if (st && st.status !== 'stopped' && supervised && !neverStarted) {
        log.info('container still running', { id: shortId(rec.Id) });
        continue;
      }
      // Without its conmon nobody keeps the log or reports the exit: the container is lost, as docker's is with its
      // shim; its processes go with `runtime delete --force` in handleExit.
      if ((!supervised || neverStarted) && st && st.status !== 'stopped') {
        log.warn(neverStarted ? 'container was never started; stopping it' : 'container lost its conmon; stopping it', { id: shortId(rec.Id), conmon: rec.Instance.conmonPid });
        // killed and gone before `delete`, so the runtime can remove its cgroups (busy while the process lives)
        await this.d.runtime.kill(rec.Id, rec.Runtime, 'SIGKILL').catch(() => undefined);
        await processGone(st.pid);
      }
      const code = this.d.runtime.exitCode(rec.Id) ?? (supervised ? 255 : 137);
      await this.serialize(rec.Id, () => this.handleExit(rec.Id, code));
    }
    // an auto-removed container's record goes before its runtime delete has finished: a crash between leaves state
    for (const s of this.d.runtime.states()) {
      if (this.d.store.find(s.id)) continue;
      log.warn('removing runtime state of a container without a record', { id: shortId(s.id) });
      await this.release(s.id, s.runtime);
      this.d.runtime.cleanup(s.id);
    }
    for (const rec of this.d.store.all()) {
      if (!rec.State.Running || !rec.Instance) continue;
      this.health.start(rec);
      this.logRotation.watch(rec.Id, this.d.store.paths(rec.Id).log, logPolicy(rec.HostConfig.LogConfig));
    }
  }

  /**
   * A crash during start, before the record named its instance, may have left the rootfs mounted and a created (or
   * even started) container under conmon: nothing records them, so undo them. Their network goes with the network
   * reconcile (only containers with an instance keep theirs).
   */
  private async undoHalfStart(rec: ContainerRecord): Promise<void> {
    const rootfs = this.d.store.paths(rec.Id).rootfs;
    const st = await this.d.runtime.state(rec.Id, rec.Runtime).catch(() => undefined);
    if (!st && !isMountPoint(rootfs)) return;
    log.warn('undoing a start a crash interrupted', { id: shortId(rec.Id), runtime: st?.status ?? 'none' });
    if (st) {
      await this.d.runtime.kill(rec.Id, rec.Runtime, 'SIGKILL').catch(() => undefined);
      await processGone(st.pid);
      await this.d.runtime.delete(rec.Id, rec.Runtime, true).catch((e) => log.warn('runtime delete failed', { id: rec.Id, e: String(e) }));
    }
    new ContainerCgroup(rec.Id).removeLeftovers();
    quietly(() => unmountOverlay(rootfs));
    this.d.runtime.cleanup(rec.Id);
  }

  /**
   * docker's restore, after networks are reconciled: containers whose restart policy says so come back, as do those
   * that were waiting for a restart; like docker this is a fresh start (RestartCount and the stop mark reset). Until
   * then exits found by reconcile only record their restart.
   */
  async restartAtBoot(): Promise<void> {
    this.booting = false;
    for (const rec of this.d.store.all()) {
      if (rec.Instance) continue;
      if (rec.State.Restarting || restartsAtBoot(rec.HostConfig.RestartPolicy, this.exitFacts(rec))) {
        await this.serialize(rec.Id, async () => {
          try {
            await this.doStart(rec.Id);
          } catch (e) {
            log.warn('restart at boot failed', { id: shortId(rec.Id), e: String(e) });
            if (rec.State.Restarting) this.settleStopped(rec);
          }
        });
      }
    }
  }

  /** Run operations on one container one at a time (start vs. rm vs. exit handling). */
  private serialize<T>(id: string, op: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(id) ?? Promise.resolve();
    const next = prev.then(op, op);
    const settled = next.catch(() => undefined);
    this.locks.set(id, settled);
    void settled.then(() => {
      if (this.locks.get(id) === settled) this.locks.delete(id);
    });
    return next;
  }

  private emit(rec: ContainerRecord, action: string, extra: Record<string, string> = {}): void {
    this.d.events.publish('container', action, rec.Id, {
      ...(rec.Config.Labels ?? {}),
      image: rec.Config.Image,
      name: rec.Name.slice(1),
      ...extra,
    });
  }

  create(body: CreateBody, requestedName: string | null): { Id: string; Warnings: string[] } {
    if (!body.Image) throw badRequest('Config cannot be empty in order to create a container');
    let name = requestedName ?? '';
    if (name) {
      if (!VALID_NAME.test(name)) throw badRequest(`Invalid container name (${name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
      name = name.replace(/^\//, '');
      const holder = this.d.store.byName(name);
      if (holder) {
        throw conflict(
          `Conflict. The container name "/${name}" is already in use by container "${holder.Id}". You have to remove (or rename) that container to be able to reuse that name.`,
        );
      }
    } else {
      name = randomName((n) => this.d.store.byName(n) !== undefined);
    }
    validateCreate(body, body.HostConfig ?? {});
    const image = this.d.images.get(body.Image);
    const runtime = (body.HostConfig?.Runtime || this.d.defaultRuntime) as RuntimeName;
    if (runtime !== 'crun' && runtime !== 'runc') throw badRequest(`unknown or invalid runtime name: ${runtime}`);
    const hostConfig = {
      NetworkMode: 'default', ...body.HostConfig, Runtime: runtime, LogConfig: resolveLogConfig(body.HostConfig?.LogConfig, this.d.logOpts ?? {}),
    };
    this.d.networking.validate(hostConfig);
    hostConfig.Links = normalizeLinks(hostConfig, '/' + name, this.d.store);
    if (hostConfig.Privileged && this.remapOf(hostConfig)) {
      throw badRequest('privileged mode is incompatible with user namespaces.  You must run the container in the host namespace when running privileged mode');
    }
    validateHostConfig(hostConfig, this.d.volumes);
    validateRestartPolicy(hostConfig.RestartPolicy, !!hostConfig.AutoRemove);
    const warnings = checkHostConfig(hostConfig);
    const id = newId();
    const merged = recordedConfig(body, this.d.images.config(image.id), shortId(id));
    const rec: ContainerRecord = {
      Id: id,
      Name: '/' + name,
      Created: new Date().toISOString(),
      Path: merged.command[0],
      Args: merged.command.slice(1),
      Config: merged.config,
      HostConfig: hostConfig,
      Image: image.id,
      State: initialState(),
      RestartCount: 0,
      Runtime: runtime,
      EndpointsConfig: body.NetworkingConfig?.EndpointsConfig as ContainerRecord['EndpointsConfig'],
    };
    const p = this.d.store.paths(id);
    fs.mkdirSync(p.dir, { recursive: true });
    this.d.store.save(rec);
    this.emit(rec, 'create');
    return { Id: id, Warnings: warnings };
  }

  start(ref: string): Promise<void> {
    const rec = this.d.store.get(ref);
    return this.serialize(rec.Id, () => this.doStart(rec.Id));
  }

  /** `auto`: a restart by policy (keeps RestartCount and the manual-stop mark); else a user's start, which resets both. */
  private async doStart(id: string, auto = false): Promise<void> {
    const rec = this.d.store.get(id);
    if (rec.State.Paused) throw conflict('cannot start a paused container, try unpause instead');
    if (rec.Instance || (rec.State.Running && !rec.State.Restarting)) throw notModified();
    if (!auto) {
      this.restarts.reset(id);
      rec.HasBeenManuallyStopped = false;
      rec.RestartCount = 0;
    }
    const p = this.d.store.paths(id);
    const t0 = performance.now();
    const lap = (what: string) => log.debug('start timing', { id: shortId(id), what, ms: Math.round(performance.now() - t0) });
    try {
      this.mountRootfs(rec);
      lap('mounted');
      const net = await this.d.networking.setup(rec, rec.EndpointsConfig);
      const remap = this.remapOf(rec.HostConfig);
      if (remap && net.ns.mode === 'path') remap.netnsDefaults(net.ns.path);
      lap('network');
      const seccompKey = writeBundle(rec, p, net, this.d.volumes, remap);
      lap('bundle');
      const logs = logPolicy(rec.HostConfig.LogConfig);
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
      // `crun start` (a process) runs while the record is written and synced: once spawned it completes even if
      // berthd dies; a start that failed under a crash leaves a `created` instance, which reconcile stops
      const started = this.d.runtime.start(id, rec.Runtime);
      started.catch(() => undefined); // awaited below; a failed save must not leave it unhandled
      Object.assign(rec.State, {
        Status: 'running', Running: true, Paused: false, Restarting: false, OOMKilled: false, Pid: pid, ExitCode: 0, Error: '',
        StartedAt: new Date().toISOString(),
      });
      this.d.store.save(rec);
      await started;
      lap('started');
      this.health.start(rec);
      this.emit(rec, 'start');
    } catch (e) {
      await this.d.runtime.delete(id, rec.Runtime, true).catch(() => undefined);
      await this.d.networking.teardown(id).catch((te) => log.warn('network teardown failed', { id, e: String(te) }));
      quietly(() => unmountOverlay(p.rootfs));
      this.d.runtime.cleanup(id);
      const { err, exitCode } = startError(e, rec);
      rec.Instance = undefined;
      Object.assign(rec.State, {
        Status: auto ? 'exited' : 'created', Running: false, Restarting: false, Pid: 0, Error: err.message, ExitCode: exitCode,
      });
      this.d.store.save(rec);
      this.attach.failPending(id);
      if (rec.HostConfig.AutoRemove) await this.removeNow(rec);
      throw err;
    }
  }

  /** conmon saw the container exit: record it, release the rootfs, wake waiters, auto-remove. */
  private async handleExit(id: string, code: number): Promise<void> {
    const rec = this.d.store.find(id);
    if (!rec || !rec.Instance) {
      // the exit of an instance nothing records any more (a start undone, a failed start): only its files are left
      this.d.runtime.cleanup(id);
      return;
    }
    const t0 = performance.now();
    // before the runtime removes the cgroup: was it the kernel's OOM killer?
    const oomKilled = new ContainerCgroup(id).oomKills() > 0;
    this.health.stop(id, rec);
    this.logRotation.stop(id);
    // The runtime's delete (a process, ~7 ms) runs while the exit is recorded and reported: no waiter needs the
    // runtime state and cgroups gone, and the next operation on this container (serialized) waits for it below.
    const released = this.release(id, rec.Runtime);
    quietly(() => unmountOverlay(this.d.store.paths(id).rootfs), (e) => log.warn('umount failed', { id, e: String(e) }));
    this.d.runtime.cleanup(id);
    rec.Instance = undefined;
    const ranForMs = Date.now() - Date.parse(rec.State.StartedAt);
    const restart = !rec.HostConfig.AutoRemove && shouldRestart(rec.HostConfig.RestartPolicy, this.exitFacts(rec, code));
    // docker: a container waiting for its restart counts as running (Status "restarting")
    Object.assign(rec.State, {
      Status: restart ? 'restarting' : 'exited', Running: restart, Restarting: restart, Paused: false, Pid: 0, ExitCode: code,
      OOMKilled: oomKilled, FinishedAt: new Date().toISOString(),
    });
    if (restart) rec.RestartCount++;
    // an auto-removed record is deleted below: writing (and syncing) its exit first would be for nothing
    if (!rec.HostConfig.AutoRemove) this.d.store.save(rec);
    this.emit(rec, 'die', { exitCode: String(code) });
    for (const cb of this.exitListeners.get(id) ?? []) cb();
    this.exitListeners.delete(id);
    // dockerd wakes not-running waiters also when the container goes to `restarting` (State.SetRestarting)
    this.wake(id, code, ['not-running', 'next-exit']);
    if (restart && !this.booting) this.restarts.schedule(id, ranForMs, () => void this.serialize(id, () => this.restartNow(id)));
    if (rec.HostConfig.AutoRemove) await this.removeNow(rec);
    await released;
    log.debug('exit timing', { id: shortId(id), ms: Math.round(performance.now() - t0) });
    // Last: tearing down veth, NAT and ports takes ~100 ms and nobody waiting for the exit needs it done.
    await this.d.networking.teardown(id).catch((e) => log.warn('network teardown failed', { id, e: String(e) }));
  }

  /** Delete an exited container's runtime state and cgroups; `settled()` waits for the ones under way. */
  private release(id: string, runtime: RuntimeName): Promise<void> {
    const done = this.d.runtime.delete(id, runtime, true)
      .catch((e) => log.warn('runtime delete failed', { id, e: String(e) }))
      .then(() => new ContainerCgroup(id).removeLeftovers())
      .finally(() => this.releasing.delete(done));
    this.releasing.add(done);
    return done;
  }

  /** Resolves once every runtime delete under way has finished (`system check` looks only at settled state). */
  async settled(): Promise<void> {
    await Promise.all(this.releasing);
  }

  private exitFacts(rec: ContainerRecord, code = rec.State.ExitCode) {
    return { exitCode: code, manuallyStopped: !!rec.HasBeenManuallyStopped, restartCount: rec.RestartCount };
  }

  /** The restart policy's timer fired: start again, or settle as exited if that fails. */
  private async restartNow(id: string): Promise<void> {
    const rec = this.d.store.find(id);
    if (!rec?.State.Restarting) return;
    try {
      await this.doStart(id, true);
    } catch (e) {
      log.warn('restart by policy failed', { id: shortId(id), e: String(e) });
      this.settleStopped(rec);
    }
  }

  /** A restarting container (no process) becomes exited: stop, kill, rm, or a failed restart. */
  private settleStopped(rec: ContainerRecord): void {
    this.restarts.cancel(rec.Id);
    Object.assign(rec.State, { Status: 'exited', Running: false, Restarting: false });
    this.d.store.save(rec);
    this.wake(rec.Id, rec.State.ExitCode, ['not-running']);
  }

  /** Mark a user's stop/kill: restart policies leave the container alone until it is started again. */
  private markStopped(rec: ContainerRecord): void {
    rec.HasBeenManuallyStopped = true;
    this.d.store.save(rec);
    if (rec.State.Restarting && !rec.Instance) this.settleStopped(rec);
  }

  /** docker's container `commit` event. */
  commitEvent(rec: ContainerRecord, imageId: string): void {
    this.emit(rec, 'commit', { imageID: imageId });
  }

  /** docker update: resources and restart policy; a running container's cgroup is changed at once. */
  update(ref: string, body: UpdateBody): { Warnings: string[] } {
    const rec = this.d.store.get(ref);
    const hc = mergeUpdate(rec.HostConfig, body, !!rec.Instance);
    validateRestartPolicy(hc.RestartPolicy, !!hc.AutoRemove);
    const warnings = checkHostConfig(hc);
    if (rec.Instance) {
      try {
        applyLimits(new ContainerCgroup(rec.Id), hc);
      } catch (e) {
        throw badRequest(`Cannot update container ${rec.Id}: ${(e as Error).message}`);
      }
    }
    rec.HostConfig = hc;
    this.d.store.save(rec);
    this.emit(rec, 'update');
    return { Warnings: warnings };
  }

  /** The user namespace a container runs in: the daemon's remapping unless it opted out with `--userns=host`. */
  private remapOf(hc: ContainerRecord['HostConfig']): UsernsRemap | undefined {
    return hc.UsernsMode === 'host' ? undefined : this.d.userns;
  }

  /** Mount the overlay; in a remapped container, of the shifted layer copies and an upper owned by its root. */
  private mountRootfs(rec: ContainerRecord): void {
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
   * Run `fn` on the container's root: a running container's as its processes see it (its mounts included), or with
   * `layered` its overlay alone (export, commit); a stopped container's overlay (and, unless `layered`, its volumes)
   * is mounted for the call.
   */
  async withRootfs<T>(ref: string, layered: boolean, fn: (root: string, rec: ContainerRecord) => Promise<T>): Promise<T> {
    const rec = this.d.store.get(ref);
    const p = this.d.store.paths(rec.Id);
    // the overlay lives in the mount namespace of the berthd that started it: reach it through that container's conmon
    const live = (): string => (layered ? `/proc/${rec.Instance!.conmonPid}/root${p.rootfs}` : `/proc/${rec.State.Pid}/root`);
    if (rec.Instance && rec.State.Pid) return fn(live(), rec);
    return this.serialize(rec.Id, async () => {
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

  private wake(id: string, code: number, conditions: WaitCondition[]): void {
    const list = this.waiters.get(id) ?? [];
    const keep = list.filter((w) => {
      if (!conditions.includes(w.condition)) return true;
      w.resolve(code);
      return false;
    });
    if (keep.length) this.waiters.set(id, keep);
    else this.waiters.delete(id);
  }

  /** Resolves when the container has exited (already exited: at once). */
  exited(id: string): Promise<void> {
    const rec = this.d.store.find(id);
    if (!rec?.Instance) return Promise.resolve();
    return new Promise((resolve) => {
      const list = this.exitListeners.get(id) ?? [];
      list.push(resolve);
      this.exitListeners.set(id, list);
    });
  }

  /**
   * Docker's wait: resolves with the exit code when the condition holds. `onRegistered` runs once the waiter is
   * in place, so callers can reply with headers before the container exits.
   */
  wait(ref: string, condition: WaitCondition): Promise<number> {
    const rec = this.d.store.get(ref);
    if (condition === 'not-running' && !rec.State.Running && !rec.Instance) return Promise.resolve(rec.State.ExitCode);
    return new Promise((resolve) => {
      const list = this.waiters.get(rec.Id) ?? [];
      list.push({ condition, resolve });
      this.waiters.set(rec.Id, list);
    });
  }

  stop(ref: string, timeoutSecs?: number, signal?: string): Promise<void> {
    const rec = this.d.store.get(ref);
    return this.doStop(rec, timeoutSecs, signal);
  }

  private async doStop(rec: ContainerRecord, timeoutSecs?: number, signal?: string): Promise<void> {
    if (rec.State.Restarting && !rec.Instance) {
      this.markStopped(rec);
      this.emit(rec, 'stop');
      return;
    }
    if (!rec.State.Running || !rec.Instance) throw notModified();
    this.markStopped(rec);
    const exited = this.exited(rec.Id);
    const sig = signal || rec.Config.StopSignal || 'SIGTERM';
    const t = timeoutSecs ?? rec.Config.StopTimeout ?? 10;
    if (rec.State.Paused) await this.d.runtime.resume(rec.Id, rec.Runtime).catch(() => undefined);
    await this.d.runtime.kill(rec.Id, rec.Runtime, sig).catch(() => undefined);
    const timedOut = t < 0 ? await exited.then(() => false) : await raceTimeout(exited, t * 1000);
    if (timedOut) {
      await this.d.runtime.kill(rec.Id, rec.Runtime, 'SIGKILL').catch(() => undefined);
      await exited;
    }
    this.emit(rec, 'stop');
  }

  /** `signal` is a number from parseSignal (the handler parses it before the container is looked up, as docker). */
  async kill(ref: string, signal = SIGKILL): Promise<void> {
    const rec = this.d.store.get(ref);
    if (!rec.State.Running) throw conflict(`Cannot kill container: ${ref}: Container ${rec.Id} is not running`);
    // docker: killing with SIGKILL or the stop signal is a manual stop (restart policies stand down)
    if (signal === SIGKILL || signal === stopSignalOf(rec)) this.markStopped(rec);
    if (!rec.Instance) return;
    await this.d.runtime.kill(rec.Id, rec.Runtime, String(signal)).catch((e) => {
      throw badRequest(`Cannot kill container: ${ref}: ${(e as Error).message}`);
    });
    this.emit(rec, 'kill', { signal: String(signal) });
  }

  async restart(ref: string, timeoutSecs?: number): Promise<void> {
    const rec = this.d.store.get(ref);
    if (rec.State.Running) await this.doStop(rec, timeoutSecs);
    await this.serialize(rec.Id, () => this.doStart(rec.Id));
    this.emit(rec, 'restart');
  }

  async pause(ref: string, pause: boolean): Promise<void> {
    const rec = this.d.store.get(ref);
    if (!rec.State.Running) throw conflict(`Container ${rec.Id} is not running`);
    if (pause && rec.State.Paused) throw conflict(`Container ${rec.Id} is already paused`);
    if (!pause && !rec.State.Paused) throw conflict(`Container ${rec.Id} is not paused`);
    if (pause) await this.d.runtime.pause(rec.Id, rec.Runtime);
    else await this.d.runtime.resume(rec.Id, rec.Runtime);
    Object.assign(rec.State, { Paused: pause, Status: pause ? 'paused' : 'running' });
    this.d.store.save(rec);
    this.emit(rec, pause ? 'pause' : 'unpause');
  }

  async remove(ref: string, force: boolean, removeVolumes = false): Promise<void> {
    const rec = this.d.store.get(ref);
    if (rec.State.Running && !force) {
      throw conflict(
        `cannot remove container "${rec.Name}": container is running: stop the container before removing or force remove`,
      );
    }
    if (rec.State.Restarting && !force) {
      throw conflict(`You cannot remove a restarting container ${rec.Id}. Stop the container before attempting removal or force remove`);
    }
    if (rec.State.Running) {
      this.markStopped(rec);
      const exited = this.exited(rec.Id);
      await this.d.runtime.kill(rec.Id, rec.Runtime, 'SIGKILL').catch(() => undefined);
      if (await raceTimeout(exited, 10_000)) await this.serialize(rec.Id, () => this.handleExit(rec.Id, 137));
    }
    await this.serialize(rec.Id, () => this.removeNow(rec, removeVolumes));
  }

  private async removeNow(rec: ContainerRecord, removeVolumes = false): Promise<void> {
    if (!this.d.store.find(rec.Id)) return;
    this.restarts.reset(rec.Id);
    this.health.stop(rec.Id);
    quietly(() => unmountOverlay(this.d.store.paths(rec.Id).rootfs));
    this.d.runtime.cleanup(rec.Id);
    this.d.store.delete(rec.Id);
    // docker: `rm -v` and --rm take the container's anonymous volumes along
    this.d.volumes.containerRemoved(rec, removeVolumes || !!rec.HostConfig.AutoRemove);
    this.emit(rec, 'destroy');
    this.wake(rec.Id, rec.State.ExitCode, ['removed', 'not-running', 'next-exit']);
  }

  rename(ref: string, newName: string): void {
    const rec = this.d.store.get(ref);
    const name = newName.replace(/^\//, '');
    if (!name || !VALID_NAME.test(name)) throw badRequest(`Invalid container name (${newName}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
    const holder = this.d.store.byName(name);
    if (holder && holder.Id !== rec.Id) throw conflict(`Conflict. The container name "/${name}" is already in use by container "${holder.Id}". You have to remove (or rename) that container to be able to reuse that name.`);
    if (holder) throw badRequest(`Renaming a container with the same name as its current name`);
    const oldName = rec.Name.slice(1);
    rec.Name = '/' + name;
    this.d.store.save(rec);
    this.emit(rec, 'rename', { oldName });
  }

  async prune(matches: (rec: ContainerRecord) => boolean): Promise<{ ContainersDeleted: string[]; SpaceReclaimed: number }> {
    const gone: string[] = [];
    let space = 0;
    for (const rec of this.d.store.all()) {
      if (rec.State.Running || rec.Instance || !matches(rec)) continue;
      space += dirSize(this.d.store.paths(rec.Id).upper);
      await this.serialize(rec.Id, () => this.removeNow(rec));
      gone.push(rec.Id);
    }
    return { ContainersDeleted: gone, SpaceReclaimed: space };
  }

  resize(id: string, rows: number, cols: number): void {
    this.d.runtime.resize(id, rows, cols);
  }

  /** IDs of containers that use an image (for rmi's conflict rule). */
  /** The containers made from an image; a running (or restarting) one is a conflict even a forced rmi cannot pass. */
  usingImage(imageId: string): { id: string; running: boolean }[] {
    return this.d.store.all().filter((r) => r.Image === imageId).map((r) => ({ id: r.Id, running: r.State.Running }));
  }

  runningIds(): string[] {
    return this.d.store.all().filter((r) => r.State.Running).map((r) => r.Id);
  }
}

const SIGKILL = 9;

/** The container's stop signal as a number (undefined when the stored one does not parse). */
function stopSignalOf(rec: ContainerRecord): number | undefined {
  try {
    return parseSignal(rec.Config.StopSignal || 'SIGTERM');
  } catch {
    return undefined;
  }
}

/** Map a runtime failure to docker's start error (the CLI picks 126/127 from its wording) and the exit code. */
function startError(e: unknown, rec: ContainerRecord): { err: ApiError; exitCode: number } {
  if (e instanceof ApiError) return { err: e, exitCode: 128 };
  const f = execFailure(e instanceof Error ? e.message : String(e), rec.Path, 128);
  return { err: badRequest(`failed to create task for container: OCI runtime create failed: ${f.reason}: unknown`), exitCode: f.exitCode };
}

/** Run a cleanup step whose failure must not stop the ones after it. */
function quietly(step: () => void, onError: (e: unknown) => void = () => undefined): void {
  try {
    step();
  } catch (e) {
    onError(e);
  }
}

/** Resolves true when the timeout won, false when `p` settled first. */
function raceTimeout(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout;
  const t = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), ms)));
  return Promise.race([p.then(() => false), t]).finally(() => clearTimeout(timer));
}

function dirSize(dir: string): number {
  let total = 0;
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) total += dirSize(p);
    else if (e.isFile()) total += fs.lstatSync(p).size;
  }
  return total;
}

/** Is `pid` still the conmon of container `id` (not a recycled pid)? */
function conmonAlive(pid: number, id: string): boolean {
  try {
    const argv = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return path.basename(argv[0]) === 'conmon' && argv.includes(id);
  } catch {
    return false;
  }
}

/** Wait (up to 5 s) until a process has exited; with no conmon to reap it, init does, at once. */
async function processGone(pid: number): Promise<void> {
  for (let i = 0; i < 100 && pid > 0 && fs.existsSync(`/proc/${pid}`); i++) await new Promise((r) => setTimeout(r, 50));
}
