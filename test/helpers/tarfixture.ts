/** Build small tars in memory for image/layer tests (tar-stream, the same library the engine validates with). */
import * as tarStream from 'tar-stream';
import * as zlib from 'node:zlib';

export interface FixtureEntry {
  name: string;
  type?: 'file' | 'directory' | 'symlink' | 'link' | 'character-device' | 'fifo';
  data?: string | Buffer;
  linkname?: string;
  mode?: number;
  /** Raw header fields over the defaults (uid, devmajor, pax records, a size that lies ...), for hostile tars. */
  header?: Partial<tarStream.Header>;
}

export async function makeTar(entries: FixtureEntry[], gzip = false): Promise<Buffer> {
  const pack = tarStream.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (c: unknown) => void chunks.push(c as Buffer));
  const done = new Promise<void>((resolve, reject) => {
    pack.on('end', () => resolve());
    pack.on('error', reject);
  });
  for (const e of entries) {
    const type = e.type ?? 'file';
    const mode = e.mode ?? (type === 'directory' ? 0o755 : 0o644);
    const data = e.data === undefined ? undefined : Buffer.from(e.data);
    await new Promise<void>((resolve, reject) => {
      const header = { name: e.name, type, mode, linkname: e.linkname, mtime: new Date(0), uid: 0, gid: 0, ...e.header };
      if (data) pack.entry({ ...header, size: data.length }, data, (err) => (err ? reject(err) : resolve()));
      else pack.entry(header, (err) => (err ? reject(err) : resolve()));
    });
  }
  pack.finalize();
  await done;
  const tar = Buffer.concat(chunks);
  return gzip ? zlib.gzipSync(tar) : tar;
}

/** One raw tar header block, for hostile tars no tar writer would make (typeflags, prefixes, raw name bytes). */
export interface RawHeader {
  name: string | Buffer;
  /** One character: '0' file, '2' symlink, '5' dir, 'x' pax, 'g' pax global, 'L'/'K' GNU long name/link, 'N' ... */
  typeflag: string;
  size?: number;
  linkname?: string | Buffer;
  /** POSIX ustar (the default, with prefix) or GNU magic. */
  magic?: 'ustar' | 'gnu';
  prefix?: string;
  mode?: number;
}

export function rawHeader(h: RawHeader): Buffer {
  const b = Buffer.alloc(512);
  const oct = (off: number, len: number, n: number): void => void b.write(n.toString(8).padStart(len - 1, '0') + '\0', off, 'latin1');
  Buffer.from(h.name).copy(b, 0, 0, 100);
  oct(100, 8, h.mode ?? (h.typeflag === '5' ? 0o755 : 0o644));
  oct(108, 8, 0);
  oct(116, 8, 0);
  oct(124, 12, h.size ?? 0);
  oct(136, 12, 0);
  b.write(h.typeflag, 156, 'latin1');
  if (h.linkname !== undefined) Buffer.from(h.linkname).copy(b, 157, 0, 100);
  b.write(h.magic === 'gnu' ? 'ustar  \0' : 'ustar\x0000', 257, 'latin1');
  if (h.prefix) b.write(h.prefix, 345, 'latin1');
  b.fill(0x20, 148, 156);
  let sum = 0;
  for (const x of b) sum += x;
  b.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'latin1');
  return b;
}

/** A header and its data, padded to whole blocks. */
export function rawEntry(h: RawHeader, data: Buffer | string = Buffer.alloc(0)): Buffer {
  const body = Buffer.from(data);
  const pad = (512 - (body.length % 512)) % 512;
  return Buffer.concat([rawHeader({ ...h, size: h.size ?? body.length }), body, Buffer.alloc(pad)]);
}

/** The body of a pax header: `LEN key=value\n` records (values may be binary). */
export function paxBody(records: [string, string | Buffer][]): Buffer {
  return Buffer.concat(
    records.map(([k, v]) => {
      const rest = Buffer.concat([Buffer.from(` ${k}=`), Buffer.from(v), Buffer.from('\n')]);
      let len = rest.length + 1;
      while (String(len).length + rest.length !== len) len++;
      return Buffer.concat([Buffer.from(String(len)), rest]);
    }),
  );
}

/** Concatenate raw entries and the two end-of-archive blocks. */
export const rawTar = (...entries: Buffer[]): Buffer => Buffer.concat([...entries, Buffer.alloc(1024)]);
