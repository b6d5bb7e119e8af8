/**
 * Logs of several containers interleaved as compose prints them: each line prefixed with the container's name
 * without the project (`web-1  | ...`), coloured per container on a terminal. Attached `up` follows them until the
 * containers stop or Ctrl-C.
 */
import type { IncomingMessage } from 'node:http';
import type { EngineClient } from '../../client/engine';
import { FrameDemuxer } from '../../client/stream';
import { L } from './convert';
import { output } from './engine';

export interface LogOptions {
  follow: boolean;
  prefix: boolean;
  timestamps: boolean;
  tail: string;
  /** Stop following when the first container exits (up --abort-on-container-exit). */
  untilOneExits?: boolean;
  /** The service whose exit code is returned (up --exit-code-from). */
  exitCodeFrom?: string;
}

const COLORS = [36, 33, 32, 35, 34, 96, 93, 92, 95, 94];

interface Info { Name: string; Config: { Tty: boolean; Labels: Record<string, string> }; State: { ExitCode: number } }

/** Resolves with an exit code: that of --exit-code-from's service, else 0 (130 after Ctrl-C). */
export async function followLogs(client: EngineClient, ids: string[], o: LogOptions): Promise<number> {
  const infos = await Promise.all(ids.map((id) => client.request<Info>('GET', `/containers/${id}/json`)));
  const label = (i: Info): string => {
    const project = i.Config.Labels[L.project];
    const name = i.Name.replace(/^\//, '');
    return project && name.startsWith(`${project}-`) ? name.slice(project.length + 1) : name;
  };
  const width = Math.max(0, ...infos.map((i) => label(i).length));
  const color = output.color ?? !!process.stdout.isTTY;
  const streams: IncomingMessage[] = [];
  let interrupted = false;
  const onSigint = (): void => {
    if (interrupted) process.exit(130);
    interrupted = true;
    for (const s of streams) s.destroy();
  };
  process.on('SIGINT', onSigint);
  let firstExit: string | undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      let open = ids.length;
      if (!open) resolve();
      ids.forEach(async (id, idx) => {
        const info = infos[idx];
        let head = o.prefix ? `${label(info).padEnd(width)}  | ` : '';
        if (o.prefix && color) head = `\x1b[${COLORS[idx % COLORS.length]}m${head}\x1b[0m`;
        let partial = '';
        const write = (chunk: Buffer): void => {
          const lines = (partial + chunk.toString('utf8')).split('\n');
          partial = lines.pop() ?? '';
          if (lines.length) process.stdout.write(lines.map((l) => head + l + '\n').join(''));
        };
        try {
          const res = await client.stream('GET', `/containers/${id}/logs`, {
            query: { stdout: 1, stderr: 1, follow: o.follow ? 1 : undefined, timestamps: o.timestamps ? 1 : undefined, tail: o.tail },
          });
          streams.push(res);
          if (interrupted) res.destroy();
          const demux = new FrameDemuxer((_s, payload) => write(payload));
          res.on('data', (c: Buffer) => (info.Config.Tty ? write(c) : demux.push(c)));
          await new Promise<void>((r) => res.on('end', r).on('close', r));
          if (partial) write(Buffer.from('\n'));
          if (o.follow && !interrupted) {
            const exit = await client.request<Info>('GET', `/containers/${id}/json`);
            info.State = exit.State;
            process.stdout.write(`${label(info)} exited with code ${exit.State.ExitCode}\n`);
            firstExit ??= id;
            if (o.untilOneExits) { for (const s of streams) s.destroy(); resolve(); }
          }
        } catch (e) {
          reject(e);
        }
        if (--open === 0) resolve();
      });
    });
  } finally {
    process.off('SIGINT', onSigint);
  }
  if (interrupted) return 130;
  if (o.exitCodeFrom) {
    const i = infos.find((x) => x.Config.Labels[L.service] === o.exitCodeFrom);
    return i ? i.State.ExitCode : 0;
  }
  return firstExit && o.untilOneExits ? infos[ids.indexOf(firstExit)].State.ExitCode : 0;
}
