/** Host paths into a tar-stream pack, as the CLI sends them to the engine (build contexts, compose watch syncs). */
import * as fs from 'node:fs';
import type * as tarStream from 'tar-stream';

/** Files this small are read whole first, so a file written meanwhile cannot make its entry's size wrong. */
const BUFFERED = 5 * 1024 * 1024;

/** One entry; `data` for a regular file given in full. */
export function addEntry(pack: tarStream.Pack, h: Partial<tarStream.Header> & { name: string }, data?: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const cb = (e?: Error | null): void => (e ? reject(e) : resolve());
    if (data) pack.entry(h, data, cb);
    else pack.entry(h, cb);
  });
}

/** A host directory, symlink or regular file as the entry `name`, owned by 0:0; other kinds are skipped. */
export async function addHostPath(pack: tarStream.Pack, name: string, abs: string, st: fs.Stats): Promise<void> {
  const base = { name, mode: st.mode & 0o7777, mtime: st.mtime, uid: 0, gid: 0 };
  if (st.isDirectory()) return addEntry(pack, { ...base, type: 'directory' });
  if (st.isSymbolicLink()) return addEntry(pack, { ...base, type: 'symlink', linkname: fs.readlinkSync(abs) });
  if (!st.isFile()) return;
  if (st.size < BUFFERED) {
    const data = fs.readFileSync(abs);
    return addEntry(pack, { ...base, size: data.length }, data);
  }
  await new Promise<void>((resolve, reject) => {
    const entry = pack.entry({ ...base, size: st.size }, (e) => (e ? reject(e) : resolve()));
    fs.createReadStream(abs).on('error', reject).pipe(entry);
  });
}
