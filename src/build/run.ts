/**
 * A RUN step: a container on the image so far, through the container service (same runtime, mounts, user and
 * network rules as `berth run`), its output streamed as build output (stderr in ANSI red, as docker's legacy
 * builder), its exit code returned. The caller diffs the container's upper dir and removes it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import type { MountSpec } from '../schema/container';
import type { ContainerService } from '../engine/containers/service';
import type { RunCommandLine } from './instructions';

export interface RunStep {
  image: string;
  command: RunCommandLine;
  /** The image's SHELL (or /bin/sh -c). */
  shell: string[];
  env: string[];
  user?: string;
  workdir?: string;
  network: string;
  extraHosts: string[];
  /** Where a heredoc script is written on the host before it is bind-mounted at /dev/pipes/<name>. */
  scratch: string;
  /** RUN --mount's mounts (runmounts.ts) and --security=insecure. */
  mounts: MountSpec[];
  tmpfs: Record<string, string>;
  privileged: boolean;
}

const RED = '\u001b[91m';
const RESET = '\u001b[0m';

/** Starts the step's container; resolves with its id and exit code once it has exited and its output is flushed. */
export async function runContainer(containers: ContainerService, step: RunStep, write: (text: string) => void,
  onCreated: (id: string) => void): Promise<{ id: string; code: number }> {
  let argv: string[];
  const binds: string[] = [];
  const c = step.command;
  if (c.form === 'exec') argv = c.argv;
  else if (c.form === 'shell') argv = [...step.shell, c.command];
  else {
    fs.mkdirSync(step.scratch, { recursive: true });
    const script = path.join(step.scratch, `heredoc-${c.name}`);
    fs.writeFileSync(script, c.content, { mode: 0o755 });
    binds.push(`${script}:/dev/pipes/${c.name}:ro`);
    argv = [`/dev/pipes/${c.name}`];
  }
  const { Id: id } = containers.create({
    Image: step.image, Cmd: argv, Entrypoint: [], Env: step.env, User: step.user ?? '', WorkingDir: step.workdir ?? '',
    AttachStdout: true, AttachStderr: true,
    HostConfig: {
      NetworkMode: step.network, ExtraHosts: step.extraHosts, Binds: binds, Mounts: step.mounts, Tmpfs: step.tmpfs,
      Privileged: step.privileged,
    },
  }, null);
  onCreated(id);
  const decoders = { stdout: new StringDecoder('utf8'), stderr: new StringDecoder('utf8') };
  const emit = (stream: 'stdout' | 'stderr', text: string): void => {
    if (text) write(stream === 'stderr' ? `${RED}${text}${RESET}` : text);
  };
  const drained = new Promise<void>((resolve) => {
    containers.attach.addPending(id, {
      sink: {
        write: (stream, data) => emit(stream, decoders[stream].write(data)),
        end: () => {
          emit('stdout', decoders.stdout.end());
          emit('stderr', decoders.stderr.end());
          resolve();
        },
      },
      streams: { stdout: true, stderr: true },
      stdinOnce: false,
      onClose: () => resolve(),
    });
  });
  const exited = containers.wait(id, 'next-exit');
  await containers.start(id);
  const code = await exited;
  await drained;
  return { id, code };
}
