/**
 * Unpacks a build context tar (plain or compressed, as a client sends it) into a scratch dir: regular files,
 * directories, symlinks and hardlinks only (to a regular file earlier in the archive, as in layers); names are
 * cleaned, nothing is ever written through a symlink or outside the dir, and symlinks are stored as they are (COPY
 * resolves them inside the context later).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import * as tarStream from 'tar-stream';
import { decompressed } from '../store/compression';

const SMALL_FILE = 1 << 20;

/** Context-relative clean name, or undefined for the root; refuses names that leave the context. */
function clean(name: string): string | undefined {
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw new Error(`invalid build context: entry ${JSON.stringify(name)} leaves the context`);
  return parts.length ? parts.join('/') : undefined;
}

/** mkdir -p below root, refusing to pass through anything but real directories. */
function ensureDir(root: string, rel: string, made: Set<string>): void {
  if (rel === '' || made.has(rel)) return;
  ensureDir(root, path.posix.dirname(rel) === '.' ? '' : path.posix.dirname(rel), made);
  const abs = path.join(root, rel);
  const st = fs.lstatSync(abs, { throwIfNoEntry: false });
  if (!st) fs.mkdirSync(abs, { mode: 0o755 });
  else if (!st.isDirectory()) throw new Error(`invalid build context: ${rel} is used as a directory but is not one`);
  made.add(rel);
}

/**
 * docker CLI 28 sends a context whose last entry (the Dockerfile it adds when -f is outside the context) ends
 * without its padding and without the end-of-archive blocks; Go's tar reader accepts that, tar-stream does not.
 * Complete the last block and add the end marker (an archive that had them ignores the extra zeros).
 */
async function* completed(src: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  let total = 0;
  for await (const c of src) {
    total += c.length;
    yield c;
  }
  yield Buffer.alloc(((512 - (total % 512)) % 512) + 1024);
}

export async function extractContext(src: Readable, dir: string): Promise<void> {
  const { stream: raw } = await decompressed(src);
  const stream = Readable.from(completed(raw), { objectMode: false });
  const ex = tarStream.extract();
  const made = new Set<string>();
  /** Regular files extracted so far (context-relative), the only things a hardlink may name. */
  const files = new Set<string>();
  const times: Array<[string, number]> = [];
  const writes: Array<Promise<void>> = [];
  ex.on('entry', (h, body, next) => {
    // Destroying the extractor destroys the current entry's stream with the same error, which the promise below
    // reports; without a listener there, that error was uncaught and stopped berthd (any context with `..` did).
    body.on('error', () => undefined);
    const done = (e?: unknown): void => {
      if (e) ex.destroy(e as Error);
      else next();
    };
    try {
      const rel = clean(h.name);
      const mtime = (h.mtime?.getTime() ?? 0) / 1000;
      if (rel === undefined) return void body.resume().on('end', () => done());
      const parent = path.posix.dirname(rel);
      ensureDir(dir, parent === '.' ? '' : parent, made);
      const abs = path.join(dir, rel);
      const mode = (h.mode ?? 0o644) & 0o7777;
      if (h.type === 'directory') {
        ensureDir(dir, rel, made);
        fs.chmodSync(abs, mode);
        times.push([abs, mtime]);
        return void body.resume().on('end', () => done());
      }
      fs.rmSync(abs, { force: true }); // a later entry replaces an earlier one; never write through a symlink
      files.delete(rel);
      if (h.type === 'symlink') {
        fs.symlinkSync(h.linkname ?? '', abs);
        return void body.resume().on('end', () => done());
      }
      if (h.type === 'link') {
        // by name among the files written so far: a path through a symlink could name a host file
        const target = clean(h.linkname ?? '');
        if (target === undefined || !files.has(target)) throw new Error(`invalid build context: hardlink ${rel} to ${h.linkname} which is not an earlier file`);
        fs.linkSync(path.join(dir, target), abs);
        files.add(rel);
        return void body.resume().on('end', () => done());
      }
      if (h.type !== 'file' && h.type !== 'contiguous-file') return void body.resume().on('end', () => done()); // devices etc. are dropped
      if ((h.size ?? 0) <= SMALL_FILE) {
        // Most context files are small: one synchronous write beats a write stream's set-up.
        const parts: Buffer[] = [];
        body.on('data', (c: unknown) => void parts.push(c as Buffer));
        body.on('error', done);
        body.on('end', () => {
          try {
            fs.writeFileSync(abs, Buffer.concat(parts), { flag: 'wx', mode });
            files.add(rel);
            times.push([abs, mtime]);
            done();
          } catch (e) {
            done(e);
          }
        });
        return;
      }
      const out = fs.createWriteStream(abs, { flags: 'wx', mode });
      files.add(rel);
      body.pipe(out);
      writes.push(new Promise<void>((resolve, reject) => {
        out.on('error', (e) => {
          reject(e);
          done(e);
        });
        out.on('close', () => {
          times.push([abs, mtime]);
          resolve();
          done();
        });
      }));
    } catch (e) {
      body.resume();
      done(e);
    }
  });
  await new Promise<void>((resolve, reject) => {
    ex.on('finish', resolve);
    ex.on('error', reject);
    stream.on('error', reject);
    stream.pipe(ex);
  });
  await Promise.all(writes); // the extractor may finish before the last file is on disk
  // Modes of files are set at creation; times last, so writing children does not change a directory's.
  for (const [abs, t] of times.reverse()) fs.utimesSync(abs, t, t);
}
