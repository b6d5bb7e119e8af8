/** The boundary between the container service and the process supervisor (conmon + an OCI runtime). */
import type { AttachSocket } from './attach-socket';

export type RuntimeName = 'crun' | 'runc';

export interface CreateRequest {
  id: string;
  name: string;
  /** Directory holding the OCI bundle's config.json (root.path points at the mounted rootfs). */
  bundleDir: string;
  /** k8s-file log written by conmon; undefined = no log (`--log-driver none`). */
  logPath?: string;
  /** conmon replaces the log with a new file past this many bytes (Berth keeps the old one: engine/containers/log-rotate). */
  logSizeMax?: number;
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
  /** OCI `process` object for the exec (args, env, cwd, user, capabilities, terminal, consoleSize). */
  process: object;
  /** Give the process a pseudo-TTY (the process spec must say terminal=true). */
  tty: boolean;
  /** Give the process a stdin fed from the attach socket (else /dev/null). */
  stdin: boolean;
  /** Connect the attach socket before the process starts, so no output is lost (false: run detached). */
  attach: boolean;
}

export interface ExecHandle {
  pid: number;
  /** The exec's attach connection (when asked for): stdin in; stdout/stderr packets out; ends after the process. */
  attach?: AttachSocket;
  /** Resolves with the exit code of the exec'd process (128+n when killed by signal n). */
  exited: Promise<number>;
  /** Sets the exec's terminal size (no-op without a TTY or once it has exited). */
  resize(rows: number, cols: number): void;
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
  /** Every container the runtime keeps state for (a crash can leave one whose record is gone). */
  states(): { id: string; runtime: RuntimeName }[];
  /** The exit code conmon recorded, or undefined when the container has not exited (or never ran). */
  exitCode(id: string): number | undefined;
  /** Called once per container exit seen (exit file written by conmon). */
  onExit(listener: (id: string, code: number) => void): void;
  /** conmon's SOCK_SEQPACKET attach socket of a created container. */
  attachSocketPath(id: string): string;
  resize(id: string, rows: number, cols: number): void;
  /** Run a process in a running container under its own conmon (exec session); rejects with the runtime's message. */
  exec(req: ExecRequest): Promise<ExecHandle>;
  /** The compiled seccomp filter of a created container, when the runtime keeps one (crun), to reuse for others. */
  compiledSeccomp(id: string, runtime: RuntimeName): Buffer | undefined;
  /** Kill and remove whatever runs or remains of a container no record owns (conmon, runtime create, state, files). */
  discard(id: string, runtime: RuntimeName): Promise<boolean>;
  /** Forget conmon leftovers (exit file, socket link) of a removed container. */
  cleanup(id: string): void;
}
