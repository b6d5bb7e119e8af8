/** Exec instances (docker exec): created, then started as a process joined to a running container. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { conflict, badRequest, notFound } from '../common/errors';
import { newId } from '../common/ids';
import type { ContainerRuntime } from '../runtime/types';
import { boundingCaps, containerCaps } from '../spec/caps';
import { processEnv } from '../spec/command';
import type { OciProcess } from '../spec/oci';
import { resolveUser } from '../spec/user';
import type { ContainerRecord, ContainerStore } from './containers/record';
import type { EventBus } from './events';
import type { OutputSink } from '../api/stream';

export interface ExecConfig {
  User?: string;
  Privileged?: boolean;
  Tty?: boolean;
  AttachStdin?: boolean;
  AttachStdout?: boolean;
  AttachStderr?: boolean;
  DetachKeys?: string;
  Env?: string[] | null;
  WorkingDir?: string;
  Cmd?: string[];
}

interface ExecInstance {
  id: string;
  containerId: string;
  config: ExecConfig;
  running: boolean;
  exitCode: number | null;
  pid: number;
  started: boolean;
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
    if (config.Tty) throw badRequest('exec with a TTY is not supported yet');
    const id = newId();
    this.execs.set(id, { id, containerId: rec.Id, config, running: false, exitCode: null, pid: 0, started: false });
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

  /** Start the process; output goes to `sink` (ended at exit); resolves with the exit code. */
  async start(id: string, io: { sink?: OutputSink; stdin?: NodeJS.ReadableStream }): Promise<number> {
    const ex = this.get(id);
    if (ex.started) throw conflict(`Error: Exec command ${id} has already run`);
    const rec = this.store.get(ex.containerId);
    assertRunning(rec);
    ex.started = true;
    const handle = await this.runtime.exec({ id: rec.Id, runtime: rec.Runtime, process: this.processFor(rec, ex.config) });
    ex.running = true;
    ex.pid = handle.pid;
    this.events.publish('container', `exec_start: ${ex.config.Cmd!.join(' ')}`, rec.Id, { execID: id, name: rec.Name.slice(1), image: rec.Config.Image });
    const sink = io.sink;
    if (sink && ex.config.AttachStdout !== false) handle.stdout.on('data', (d: Buffer) => sink.write('stdout', d));
    else handle.stdout.resume();
    if (sink && ex.config.AttachStderr !== false) handle.stderr.on('data', (d: Buffer) => sink.write('stderr', d));
    else handle.stderr.resume();
    handle.stdin.on('error', () => undefined);
    if (io.stdin && ex.config.AttachStdin) io.stdin.pipe(handle.stdin);
    else handle.stdin.end();
    const outputDone = Promise.all([once(handle.stdout), once(handle.stderr)]);
    const code = await handle.exited;
    await outputDone;
    ex.running = false;
    ex.exitCode = code;
    sink?.end();
    this.events.publish('container', 'exec_die', rec.Id, { execID: id, exitCode: String(code), name: rec.Name.slice(1), image: rec.Config.Image });
    return code;
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
  private processFor(rec: ContainerRecord, cfg: ExecConfig): OciProcess {
    const bundle = JSON.parse(fs.readFileSync(path.join(this.store.paths(rec.Id).bundle, 'config.json'), 'utf8')) as { process: OciProcess };
    const base = bundle.process;
    // The container's own root, seen through its init process (valid even after a daemon restart).
    const root = `/proc/${rec.State.Pid}/root`;
    const read = (f: string) => {
      try {
        return fs.readFileSync(path.join(root, f), 'utf8');
      } catch {
        return undefined;
      }
    };
    let user = base.user;
    if (cfg.User) {
      try {
        const u = resolveUser(cfg.User, read('etc/passwd'), read('etc/group'));
        user = { uid: u.uid, gid: u.gid, additionalGids: u.additionalGids };
      } catch (e) {
        throw badRequest((e as Error).message);
      }
    }
    const caps = cfg.Privileged ? containerCaps({ privileged: true, available: boundingCaps() }) : base.capabilities.bounding;
    return {
      ...base,
      terminal: false,
      args: cfg.Cmd!,
      env: processEnv([...(rec.Config.Env ?? []), ...(cfg.Env ?? [])], rec.Config.Hostname, false),
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

function once(stream: NodeJS.ReadableStream): Promise<void> {
  return new Promise((resolve) => {
    stream.once('end', resolve);
    stream.once('close', resolve);
  });
}
