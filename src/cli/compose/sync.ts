/**
 * compose watch's sync: changed host paths copied into each running container of a service as one tar through
 * PUT /containers/{id}/archive (parents made by the extraction), paths gone from the host removed with `rm -rf`
 * run in the container (the Engine API has no delete), as compose v2's tar syncer does.
 */
import * as fs from 'node:fs';
import { Readable } from 'node:stream';
import * as tarStream from 'tar-stream';
import type { EngineClient } from '../../client/engine';
import { FrameDemuxer } from '../../client/stream';
import { addHostPath } from '../tarpack';
import { projectContainers } from './engine';
import type { PathMapping } from './watch-rules';

/** The tar of the mappings that still exist on the host (a directory with all below it), entries named by container path. */
function archive(mappings: PathMapping[]): Readable {
  const pack = tarStream.pack();
  const add = async (host: string, name: string): Promise<void> => {
    const st = fs.lstatSync(host, { throwIfNoEntry: false });
    if (!st) return; // gone since: its deletion comes with the next batch
    await addHostPath(pack, name, host, st);
    if (st.isDirectory()) for (const n of fs.readdirSync(host).sort()) await add(`${host}/${n}`, `${name}/${n}`);
  };
  (async () => {
    for (const m of mappings) await add(m.host, m.container.replace(/^\/+/, ''));
    pack.finalize();
  })().catch((e: Error) => pack.destroy(e));
  return Readable.from(pack);
}

/** Runs `cmd` in the container and waits for it; a non-zero exit is an error carrying its stderr. */
async function execIn(client: EngineClient, id: string, cmd: string[]): Promise<void> {
  const { Id } = await client.request<{ Id: string }>('POST', `/containers/${id}/exec`, { body: { Cmd: cmd, AttachStdout: false, AttachStderr: true } });
  const socket = await client.hijack('POST', `/exec/${Id}/start`, { body: { Detach: false, Tty: false } });
  let stderr = '';
  const demux = new FrameDemuxer((_s, payload) => (stderr += payload.toString()));
  socket.on('data', (c: Buffer) => demux.push(c));
  await new Promise<void>((resolve) => socket.on('end', resolve).on('close', resolve).on('error', () => resolve()));
  const info = await client.request<{ ExitCode: number | null }>('GET', `/exec/${Id}/json`);
  if (info.ExitCode) throw new Error(`${cmd.join(' ')}: exit code ${info.ExitCode}${stderr ? `: ${stderr.trim()}` : ''}`);
}

/** Brings the mappings' container paths of every running container of `service` in line with the host. */
export async function syncService(client: EngineClient, project: string, service: string, mappings: PathMapping[]): Promise<void> {
  const gone = mappings.filter((m) => !fs.existsSync(m.host)).map((m) => m.container);
  const present = mappings.filter((m) => fs.existsSync(m.host));
  for (const c of await projectContainers(client, project, { service })) {
    if (gone.length) await execIn(client, c.Id, ['rm', '-rf', ...gone]);
    if (present.length) {
      await client.request('PUT', `/containers/${c.Id}/archive`, { query: { path: '/' }, body: archive(present), contentType: 'application/x-tar' });
    }
  }
}
