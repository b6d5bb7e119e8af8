/** Exec instances (docker exec): created, then started as a process joined to a running container. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ApiError, conflict, badRequest, notFound } from '../common/errors';
import { newId } from '../common/ids';
import type { ContainerRuntime, ExecHandle } from '../runtime/types';
import { boundingCaps, containerCaps } from '../spec/caps';
import { processEnv } from '../spec/command';
import type { OciProcess } from '../spec/oci';
import { containerUser } from './containers/bundle';
import type { ContainerRecord, ContainerStore } from './containers/record';
import type { EventBus } from './events';
import type { OutputSink } from '../common/output';
import { execFailure } from './containers/exec-error';
import { bridge, sessionDetachKeys, type AttachClient } from './containers/attach';

export interface ExecConfig {
  User?: string;
  Privileged?: boolean;
  Tty?: boolean;
  /** [rows, cols] of the client's terminal (API 1.42+): the pty's size from the start. */
  ConsoleSize?: [number, number] | null;
  AttachStdin?: boolean;
  AttachStdout?: boolean;
  AttachStderr?: boolean;
  DetachKeys?: string;
  Env?: string[] | null;
  WorkingDir?: string;
  Cmd?: string[];
}

/** What a client attaches to an exec start (nothing for Detach). */
export interface ExecIo {
  sink: OutputSink;
  stdin?: NodeJS.ReadableStream;
}

interface ExecInstance {
  id: string;
  containerId: string;
  config: ExecConfig;
  running: boolean;
  exitCode: number | null;
  pid: number;
  started: boolean;
  /** Last size asked for; applied at start when the resize came first (the CLI sends it right after upgrading). */
  size?: [number, number];
  handle?: ExecHandle;
}

export class ExecService {
  private readonly execs = new Map<string, ExecInstance>();

  constructor(
    private readonly store: ContainerStore,
    private readonly runtime: ContainerRuntime,
    private readonly events: EventBus,
  ) {}

  create(ref: string, config: ExecConfig): { Id: string } {
    const rec = this.store.get(ref);
    assertRunning(rec);
    if (!config.Cmd?.length) throw badRequest('No exec command specified');
    sessionDetachKeys(!!config.Tty, config.DetachKeys); // reject bad keys now, not mid-stream
    const id = newId();
    const [rows, cols] = config.ConsoleSize ?? [0, 0];
    const size: [number, number] | undefined = rows > 0 && cols > 0 ? [rows, cols] : undefined;
    this.execs.set(id, { id, containerId: rec.Id, config, running: false, exitCode: null, pid: 0, started: false, size });
    this.events.publish('container', `exec_create: ${config.Cmd.join(' ')}`, rec.Id, { execID: id, name: rec.Name.slice(1), image: rec.Config.Image });
    return { Id: id };
  }

  get(id: string): ExecInstance {
    const e = this.execs.get(id);
    if (!e) throw notFound(`No such exec instance: ${id}`);
    return e;
  }

  idsOf(containerId: string): string[] {
    return [...this.execs.values()].filter((e) => e.containerId === containerId).map((e) => e.id);
  }

  /**
   * Starts the process under its own conmon and returns once it runs; `io` (absent when detached) is bridged to
   * the exec's attach socket and ended after the exit code is recorded. Resolves with a promise of the exit code.
   */
  async start(id: string, io?: ExecIo): Promise<{ exited: Promise<number> }> {
    const ex = this.get(id);
    if (ex.started) throw conflict(`Error: Exec command ${id} has already run`);
    const rec = this.store.get(ex.containerId);
    assertRunning(rec);
    ex.started = true;
    const cfg = ex.config;
    const tty = !!cfg.Tty;
    const stdin = io && cfg.AttachStdin ? io.stdin : undefined;
    let handle: ExecHandle;
    try {
      handle = await this.runtime.exec({
        id: rec.Id, runtime: rec.Runtime, process: this.processFor(rec, cfg, ex.size), tty, stdin: !!stdin, attach: !!io,
      });
    } catch (e) {
      const f = execFailure((e as Error).message, cfg.Cmd![0], 126);
      ex.exitCode = f.exitCode;
      throw new ApiError(500, `OCI runtime exec failed: exec failed: unable to start container process: ${f.reason}: unknown`);
    }
    ex.handle = handle;
    // a resize that arrived while conmon was starting (the CLI sends one right after upgrading)
    if (tty && ex.size) handle.resize(...ex.size);
    ex.running = true;
    ex.pid = handle.pid;
    this.events.publish('container', `exec_start: ${cfg.Cmd!.join(' ')}`, rec.Id, { execID: id, name: rec.Name.slice(1), image: rec.Config.Image });
    const exited = handle.exited.then(
      (code) => code,
      () => -1, // conmon vanished: no code to report
    ).then((code) => {
      ex.running = false;
      ex.exitCode = code;
      ex.handle = undefined;
      this.events.publish('container', 'exec_die', rec.Id, { execID: id, exitCode: String(code), name: rec.Name.slice(1), image: rec.Config.Image });
      return code;
    });
    if (io && handle.attach) {
      const client: AttachClient = {
        sink: io.sink,
        streams: { stdout: cfg.AttachStdout !== false, stderr: cfg.AttachStderr !== false },
        stdin,
        stdinOnce: true,
        detachKeys: sessionDetachKeys(tty, cfg.DetachKeys),
        onDetach: () => this.events.publish('container', 'exec_detach', rec.Id, { execID: id, name: rec.Name.slice(1), image: rec.Config.Image }),
      };
      bridge(handle.attach, client, [], false, exited);
    }
    return { exited };
  }

  /** POST /exec/{id}/resize: applied now when running, else remembered for the start. */
  resize(id: string, rows: number, cols: number): void {
    const ex = this.get(id);
    if (rows <= 0 || cols <= 0) return;
    ex.size = [rows, cols];
    if (ex.config.Tty) ex.handle?.resize(rows, cols);
  }

  inspect(id: string): object {
    const ex = this.get(id);
    const [entrypoint, ...args] = ex.config.Cmd ?? [];
    return {
      ID: ex.id,
      Running: ex.running,
      ExitCode: ex.exitCode,
      ProcessConfig: { tty: !!ex.config.Tty, entrypoint, arguments: args, privileged: !!ex.config.Privileged, user: ex.config.User ?? '' },
      OpenStdin: !!ex.config.AttachStdin,
      OpenStderr: !!ex.config.AttachStderr,
      OpenStdout: !!ex.config.AttachStdout,
      CanRemove: false,
      ContainerID: ex.containerId,
      DetachKeys: ex.config.DetachKeys ?? '',
      Pid: ex.pid,
    };
  }

  /** The exec's OCI process: the container's process with the exec's command, env, cwd, user and privileges. */
  private processFor(rec: ContainerRecord, cfg: ExecConfig, size: [number, number] | undefined): OciProcess {
    const bundle = JSON.parse(fs.readFileSync(path.join(this.store.paths(rec.Id).bundle, 'config.json'), 'utf8')) as { process: OciProcess };
    const base = bundle.process;
    let user = base.user;
    if (cfg.User) {
      // The container's own root, seen through its init process (valid even after a daemon restart).
      const u = containerUser(`/proc/${rec.State.Pid}/root`, cfg.User);
      user = { uid: u.uid, gid: u.gid, additionalGids: u.additionalGids };
    }
    const caps = cfg.Privileged ? containerCaps({ privileged: true, available: boundingCaps() }) : base.capabilities.bounding;
    const { consoleSize: _containerSize, ...rest } = base;
    const tty = !!cfg.Tty;
    return {
      ...rest,
      terminal: tty,
      ...(tty && size ? { consoleSize: { height: size[0], width: size[1] } } : {}),
      args: cfg.Cmd!,
      env: processEnv([...inheritedEnv(base.env, rec), ...(cfg.Env ?? [])], rec.Config.Hostname, tty),
      cwd: cfg.WorkingDir || base.cwd,
      user,
      capabilities: { bounding: caps, effective: caps, permitted: caps },
    };
  }
}

function assertRunning(rec: ContainerRecord): void {
  if (!rec.State.Running) throw conflict(`Container ${rec.Id} is not running`);
  if (rec.State.Paused) throw conflict(`Container ${rec.Id} is paused, unpause the container before exec`);
}

/**
 * The container process's variables an exec starts from (docker: its own env, link variables included), less the TERM
 * the container's TTY added: the exec's own TTY decides that.
 */
function inheritedEnv(env: string[], rec: ContainerRecord): string[] {
  const ownTerm = (rec.Config.Env ?? []).some((v) => v.startsWith('TERM='));
  return env.filter((v) => ownTerm || !v.startsWith('TERM='));
}
