/**
 * The container service: the lifecycle of containers (create, start, stop, kill, exit and restart, remove, wait) over
 * records and the runtime. Over ~400 lines because it is one state machine: every transition takes the container's
 * lock and they call each other (a failed start or an exit may remove, an exit may restart); the steps themselves are
 * in create.ts (the new record), instance.ts (bringing an instance up and down) and waiters.ts.
 */
import * as fs from 'node:fs';
import type { Readable } from 'node:stream';
import type { CreateBody } from '../../schema/container';
import { badRequest, conflict, notModified } from '../../common/errors';
import { shortId } from '../../common/ids';
import { treeSize } from '../../common/tree-size';
import { parseSignal } from '../../common/signals';
import { log } from '../../common/log';
import type { StreamId } from '../../common/output';
import { isRootless } from '../../common/rootless';
import { ContainerCgroup } from '../../runtime/cgroupfs';
import { processGone } from '../../runtime/conmon';
import { isMountPoint, unmountOverlay } from '../../store/overlay';
import type { EventBus } from '../events';
import { changes, extractInto, type Change, type ExtractOptions } from './archive';
import { AttachHub } from './attach';
import { newRecord, type CreateDeps } from './create';
import { HealthMonitor } from './health';
import { conmonAlive, fromEarlierNamespaces, Instances, quietly, type InstanceDeps } from './instance';
import { LogRotator } from './log-rotate';
import { containerLog, readLogs, type ContainerLog } from './logs';
import { nameInUse, VALID_NAME } from './names';
import type { ContainerRecord, ContainerStore } from './record';
import { RestartScheduler, restartsAtBoot, shouldRestart } from './restart';
import { updateRecord, type UpdateBody } from './update';
import { Waiters, type WaitCondition } from './waiters';

export type { WaitCondition };

export interface ContainerServiceDeps extends InstanceDeps, CreateDeps {
  events: EventBus;
}

export class ContainerService {
  readonly attach: AttachHub;
  private readonly waiters = new Waiters();
  private readonly locks = new Map<string, Promise<unknown>>();
  private readonly instances: Instances;
  readonly health: HealthMonitor;
  private readonly restarts = new RestartScheduler();
  private readonly logRotation = new LogRotator();
  private booting = true;

  constructor(private readonly d: ContainerServiceDeps) {
    this.attach = new AttachHub(d.runtime);
    this.instances = new Instances(d, this.attach, this.logRotation);
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
      const supervised = conmonAlive(rec.Instance.conmonPid, rec.Id) && !(isRootless() && fromEarlierNamespaces(rec.Instance.conmonPid));
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
    await this.instances.discardOrphans((id) => this.d.store.find(id) !== undefined);
    for (const rec of this.d.store.all()) {
      if (!rec.State.Running || !rec.Instance) continue;
      this.health.start(rec);
      this.logRotation.watch(rec.Id, this.d.store.paths(rec.Id).log, rec.Spec.log);
    }
  }

  /**
   * A crash during start, before the record named its instance, may have left the rootfs mounted and a created (or
   * even started) container under conmon: nothing records them, so undo them. Their network goes with the network
   * reconcile (only containers with an instance keep theirs).
   */
  private async undoHalfStart(rec: ContainerRecord): Promise<void> {
    const rootfs = this.d.store.paths(rec.Id).rootfs;
    const runtime = await this.d.runtime.discard(rec.Id, rec.Runtime).catch((e) => {
      log.warn('could not undo the runtime side of an interrupted start', { id: rec.Id, e: String(e) });
      return true;
    });
    if (!runtime && !isMountPoint(rootfs)) return;
    log.warn('undoing a start a crash interrupted', { id: shortId(rec.Id) });
    new ContainerCgroup(rec.Id).removeLeftovers();
    quietly(() => unmountOverlay(rootfs));
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
      if (rec.State.Restarting || restartsAtBoot(rec.Spec.restart, this.exitFacts(rec))) {
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

  /** `platform` (create?platform=): the image must be of it, or a multi-platform image with an entry for it. */
  create(body: CreateBody, requestedName: string | null, platform?: string): { Id: string; Warnings: string[] } {
    const { rec, warnings } = newRecord(this.d, body, requestedName, (hc) => this.instances.remapOf(hc), platform);
    fs.mkdirSync(this.d.store.paths(rec.Id).dir, { recursive: true });
    this.d.store.save(rec);
    this.emit(rec, 'create');
    return { Id: rec.Id, Warnings: warnings };
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
    try {
      const { pid, started } = await this.instances.launch(rec);
      Object.assign(rec.State, {
        Status: 'running', Running: true, Paused: false, Restarting: false, OOMKilled: false, Pid: pid, ExitCode: 0, Error: '',
        StartedAt: new Date().toISOString(),
      });
      // written and synced while `crun start` runs: once spawned it completes even if berthd dies; a start that failed
      // while berthd went down leaves a `created` instance, which reconcile stops
      this.d.store.save(rec);
      await started;
      this.health.start(rec);
      this.emit(rec, 'start');
    } catch (e) {
      const { err, exitCode } = await this.instances.undoLaunch(rec, e);
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
    this.health.stop(id, rec);
    const { oomKilled, deleted } = this.instances.release(rec);
    const ranForMs = Date.now() - Date.parse(rec.State.StartedAt);
    const restart = !rec.HostConfig.AutoRemove && shouldRestart(rec.Spec.restart, this.exitFacts(rec, code));
    // docker: a container waiting for its restart counts as running (Status "restarting")
    Object.assign(rec.State, {
      Status: restart ? 'restarting' : 'exited', Running: restart, Restarting: restart, Paused: false, Pid: 0, ExitCode: code,
      OOMKilled: oomKilled, FinishedAt: new Date().toISOString(),
    });
    if (restart) rec.RestartCount++;
    // an auto-removed record is deleted below: writing (and syncing) its exit first would be for nothing
    if (!rec.HostConfig.AutoRemove) this.d.store.save(rec);
    this.emit(rec, 'die', { exitCode: String(code) });
    this.waiters.exitedNow(id);
    // dockerd wakes not-running waiters also when the container goes to `restarting` (State.SetRestarting)
    this.waiters.wake(id, code, ['not-running', 'next-exit']);
    if (restart && !this.booting) this.restarts.schedule(id, ranForMs, () => void this.serialize(id, () => this.restartNow(id)));
    if (rec.HostConfig.AutoRemove) await this.removeNow(rec);
    await deleted;
    log.debug('exit timing', { id: shortId(id), ms: Math.round(performance.now() - t0) });
    // Last: nobody waiting for the exit needs the network torn down.
    await this.instances.teardown(id);
  }

  /** Resolves once the runtime deletes under way (after exits) have finished. */
  settled(): Promise<void> {
    return this.instances.settled();
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
    this.waiters.wake(rec.Id, rec.State.ExitCode, ['not-running']);
  }

  /** Mark a user's stop/kill: restart policies leave the container alone until it is started again. */
  private markStopped(rec: ContainerRecord): void {
    rec.HasBeenManuallyStopped = true;
    this.d.store.save(rec);
    if (rec.State.Restarting && !rec.Instance) this.settleStopped(rec);
  }

  /** docker diff: the upper dir's changes against the image's layers (null when none, as docker). */
  changes(ref: string): Change[] | null {
    const rec = this.d.store.get(ref);
    const list = changes(this.d.store.paths(rec.Id).upper, this.d.images.layerDirs(rec.Image));
    return list.length ? list : null;
  }

  /** Attach's `logs=1`: the log's records so far, as they are (no log file: none). */
  replayLog(ref: string, streams: { stdout: boolean; stderr: boolean }, emit: (stream: StreamId, data: Buffer) => void): void {
    readLogs(this.d.store.paths(this.d.store.get(ref).Id).log, streams, (r) => emit(r.stream, r.data));
  }

  /** docker cp into a container: refused on a read-only root filesystem, else unpacked under the container's root. */
  async putArchive(ref: string, p: string, src: Readable, opts: ExtractOptions): Promise<void> {
    const rec = this.d.store.get(ref);
    if (rec.HostConfig.ReadonlyRootfs) throw conflict('container rootfs is marked read-only');
    await this.withRootfs(rec.Id, false, (root) => extractInto(root, p, ref, src, opts));
  }

  /** The container's log as docker's `logs` reads it. */
  logs(ref: string): ContainerLog {
    const rec = this.d.store.get(ref);
    return containerLog(rec, this.d.store.paths(rec.Id).log, () => this.exited(rec.Id));
  }

  /** docker's container `commit` event. */
  commitEvent(rec: ContainerRecord, imageId: string): void {
    this.emit(rec, 'commit', { imageID: imageId });
  }

  /** docker update: resources and restart policy; a running container's cgroup is changed at once. */
  update(ref: string, body: UpdateBody): { Warnings: string[] } {
    const rec = this.d.store.get(ref);
    const warnings = updateRecord(rec, body);
    this.d.store.save(rec);
    this.emit(rec, 'update');
    return { Warnings: warnings };
  }

  /** See Instances.withRootfs; a stopped container's rootfs is mounted under the container's lock. */
  withRootfs<T>(ref: string, layered: boolean, fn: (root: string, rec: ContainerRecord) => Promise<T>): Promise<T> {
    const rec = this.d.store.get(ref);
    return this.instances.withRootfs(rec, layered, (op) => this.serialize(rec.Id, op), fn);
  }

  /** Resolves when the container has exited (already exited: at once). */
  exited(id: string): Promise<void> {
    const rec = this.d.store.find(id);
    return rec?.Instance ? this.waiters.nextExit(id) : Promise.resolve();
  }

  /**
   * Docker's wait: resolves with the exit code when the condition holds (at once for `not-running` when it does now).
   */
  wait(ref: string, condition: WaitCondition): Promise<number> {
    const rec = this.d.store.get(ref);
    if (condition === 'not-running' && !rec.State.Running && !rec.Instance) return Promise.resolve(rec.State.ExitCode);
    return this.waiters.wait(rec.Id, condition);
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
    this.waiters.wake(rec.Id, rec.State.ExitCode, ['removed', 'not-running', 'next-exit']);
  }

  rename(ref: string, newName: string): void {
    const rec = this.d.store.get(ref);
    const name = newName.replace(/^\//, '');
    if (!name || !VALID_NAME.test(name)) throw badRequest(`Invalid container name (${newName}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
    const holder = this.d.store.byName(name);
    if (holder && holder.Id !== rec.Id) throw nameInUse(name, holder.Id);
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
      space += treeSize(this.d.store.paths(rec.Id).upper);
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

/** Resolves true when the timeout won, false when `p` settled first. */
function raceTimeout(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout;
  const t = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), ms)));
  return Promise.race([p.then(() => false), t]).finally(() => clearTimeout(timer));
}
