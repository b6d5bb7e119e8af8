/** The boundary between the container service and the process supervisor (conmon + an OCI runtime). */
import type { Readable, Writable } from 'node:stream';

export type RuntimeName = 'crun' | 'runc';

export interface CreateRequest {
  id: string;
  name: string;
  /** Directory holding the OCI bundle's config.json (root.path points at the mounted rootfs). */
  bundleDir: string;
  /** k8s-file log written by conmon. */
  logPath: string;
  runtime: RuntimeName;
  tty: boolean;
  openStdin: boolean;
  stdinOnce: boolean;
}

export interface RuntimeState {
  status: 'created' | 'running' | 'paused' | 'stopped';
  pid: number;
}

export interface ExecRequest {
  id: string;
  runtime: RuntimeName;
  /** OCI `process` object for the exec (args, env, cwd, user, capabilities, terminal=false). */
  process: object;
}

export interface ExecHandle {
  stdin: Writable;
  stdout: Readable;
  stderr: Readable;
  pid: number;
  /** Resolves with the exit code of the exec'd process. */
  exited: Promise<number>;
}

export interface ContainerRuntime {
  /** Launch conmon (detached, outliving berthd) which runs `<runtime> create`; resolves once the container exists (not started). */
  create(req: CreateRequest): Promise<{ pid: number; conmonPid: number }>;
  start(id: string, runtime: RuntimeName): Promise<void>;
  kill(id: string, runtime: RuntimeName, signal: string): Promise<void>;
  pause(id: string, runtime: RuntimeName): Promise<void>;
  resume(id: string, runtime: RuntimeName): Promise<void>;
  /** Remove the runtime's state (force kills first when asked); no error when already gone. */
  delete(id: string, runtime: RuntimeName, force?: boolean): Promise<void>;
  state(id: string, runtime: RuntimeName): Promise<RuntimeState | undefined>;
  /** The exit code conmon recorded, or undefined when the container has not exited (or never ran). */
  exitCode(id: string): number | undefined;
  /** Called once per container exit seen (exit file written by conmon). */
  onExit(listener: (id: string, code: number) => void): void;
  /** conmon's SOCK_SEQPACKET attach socket of a created container. */
  attachSocketPath(id: string): string;
  resize(id: string, rows: number, cols: number): void;
  exec(req: ExecRequest): Promise<ExecHandle>;
  /** Forget conmon leftovers (exit file, socket link) of a removed container. */
  cleanup(id: string): void;
}
