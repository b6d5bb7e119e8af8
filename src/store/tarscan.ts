/**
 * The layer validator's tar reader. It reads headers the way GNU tar's read_header (list.c) does, so the names that
 * TarPolicy checks are the names GNU tar then writes: the ustar prefix only with the POSIX magic, GNU long names and
 * links (L/K), pax `path`/`linkpath`/`size` overriding both, two zero blocks ending the archive. What GNU tar and other
 * readers could understand differently is refused instead of guessed: pax global headers that set anything but a
 * comment (GNU tar applies a global `path` to every later entry), two long names or two pax headers for one entry,
 * malformed pax records, GNU.* keywords (GNU.sparse.name renames the entry), names that are not UTF-8 or hold a NUL,
 * data on entries that have none, and every type GNU tar would extract in its own way (sparse, multi-volume, 'N' ...).
 * Only headers are parsed; file data is skipped.
 */
import { LayerError } from './tarpolicy';

export type EntryType = 'file' | 'link' | 'symlink' | 'character-device' | 'block-device' | 'directory' | 'fifo';

export interface TarEntry {
  name: string;
  type: EntryType;
  linkname: string;
  size: number;
}

const BLOCK = 512;
/** pax and long-name headers are small; GNU tar itself refuses absurd ones. */
const MAX_META = 1 << 20;
const TYPES: Record<string, EntryType> = {
  '0': 'file', '\0': 'file', '7': 'file', '1': 'link', '2': 'symlink', '3': 'character-device', '4': 'block-device', '5': 'directory', '6': 'fifo',
};
/** Keywords a pax global header may carry: `git archive` writes a comment (the commit id). */
const GLOBAL_KEYS = new Set(['comment']);
const utf8 = new TextDecoder('utf-8', { fatal: true });
const USTAR_MAGIC = Buffer.from('ustar\0', 'latin1');

interface Pending {
  longName?: string;
  longLink?: string;
  pax?: Map<string, Buffer>;
}

interface Meta {
  typeflag: string;
  size: number;
  parts: Buffer[];
  got: number;
}

const padding = (n: number): number => (BLOCK - (n % BLOCK)) % BLOCK;

function text(b: Buffer, what: string): string {
  if (b.includes(0)) throw new LayerError(`${what} contains a NUL byte`);
  try {
    return utf8.decode(b);
  } catch {
    throw new LayerError(`${what} is not valid UTF-8`);
  }
}

/** A NUL-terminated header field. */
function field(block: Buffer, off: number, len: number): Buffer {
  const f = block.subarray(off, off + len);
  const nul = f.indexOf(0);
  return nul < 0 ? f : f.subarray(0, nul);
}

/** An octal number (space/NUL padded) or GNU's base-256 form. */
function numeric(block: Buffer, off: number, len: number, what: string): number {
  const f = block.subarray(off, off + len);
  if (f[0] & 0x80) {
    if (f[0] !== 0x80) throw new LayerError(`tar header ${what} is negative`);
    let n = 0;
    for (let i = 1; i < len; i++) n = n * 256 + f[i];
    if (!Number.isSafeInteger(n)) throw new LayerError(`tar header ${what} is too large`);
    return n;
  }
  const s = f.toString('latin1').replace(/[\0 ]+$/, '').replace(/^ +/, '');
  if (s === '') return 0;
  if (!/^[0-7]+$/.test(s)) throw new LayerError(`tar header ${what} ${JSON.stringify(s)} is not an octal number`);
  return parseInt(s, 8);
}

function checksumOk(block: Buffer): boolean {
  const want = numeric(block, 148, 8, 'checksum');
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const b = i >= 148 && i < 156 ? 0x20 : block[i];
    unsigned += b;
    signed += b > 127 ? b - 256 : b;
  }
  return want === unsigned || want === signed; // GNU tar accepts either sum
}

/** `LEN key=value\n` records, strictly: GNU tar stops at the first malformed one, other readers skip it. */
function paxRecords(buf: Buffer, what: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  let off = 0;
  while (off < buf.length) {
    if (buf[off] === 0) {
      if (buf.subarray(off).every((b) => b === 0)) break; // NUL padding after the last record
      throw new LayerError(`${what} has a malformed record`);
    }
    const sp = buf.indexOf(0x20, off);
    const lenText = sp < 0 ? '' : buf.toString('latin1', off, sp);
    const len = Number(lenText);
    if (!/^[1-9][0-9]*$/.test(lenText) || off + len > buf.length || buf[off + len - 1] !== 0x0a) throw new LayerError(`${what} has a malformed record`);
    const rec = buf.subarray(sp + 1, off + len - 1);
    const eq = rec.indexOf(0x3d);
    if (eq <= 0) throw new LayerError(`${what} has a record without a keyword`);
    out.set(text(rec.subarray(0, eq), `${what} keyword`), rec.subarray(eq + 1));
    off += len;
  }
  return out;
}

export class TarScanner {
  private carry = Buffer.alloc(0);
  /** Data and padding bytes of the current entry still to pass by. */
  private skip = 0;
  private meta: Meta | undefined;
  private pending: Pending = {};
  private zeroBlocks = 0;
  /** Two zero blocks were read: GNU tar stops here, and so does the check. */
  ended = false;

  /** Feed the next bytes; returns the entries whose headers completed in them. Throws LayerError on a refusal. */
  push(chunk: Buffer): TarEntry[] {
    const out: TarEntry[] = [];
    let off = 0;
    while (off < chunk.length && !this.ended) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, chunk.length - off);
        this.skip -= n;
        off += n;
      } else if (this.meta) {
        const m = this.meta;
        const n = Math.min(m.size - m.got, chunk.length - off);
        m.parts.push(chunk.subarray(off, off + n));
        m.got += n;
        off += n;
        if (m.got === m.size) {
          this.meta = undefined;
          this.skip = padding(m.size);
          this.metaDone(m.typeflag, Buffer.concat(m.parts));
        }
      } else {
        const need = BLOCK - this.carry.length;
        if (chunk.length - off < need) {
          this.carry = Buffer.concat([this.carry, chunk.subarray(off)]);
          break;
        }
        const block = this.carry.length ? Buffer.concat([this.carry, chunk.subarray(off, off + need)]) : chunk.subarray(off, off + need);
        this.carry = Buffer.alloc(0);
        off += need;
        const e = this.header(block);
        if (e) out.push(e);
      }
    }
    return out;
  }

  /** The input ended: refuse a tar cut in the middle of an entry. */
  end(): void {
    if (this.ended) return;
    if (this.carry.length || this.skip || this.meta) throw new LayerError('invalid tar: unexpected end of data');
    if (this.pending.longName !== undefined || this.pending.longLink !== undefined || this.pending.pax) throw new LayerError('invalid tar: ends after an extended header');
  }

  private header(block: Buffer): TarEntry | undefined {
    if (block.every((b) => b === 0)) {
      if (this.pending.longName !== undefined || this.pending.longLink !== undefined || this.pending.pax) throw new LayerError('invalid tar: zero block after an extended header');
      if (++this.zeroBlocks === 2) this.ended = true;
      return undefined;
    }
    this.zeroBlocks = 0;
    if (!checksumOk(block)) throw new LayerError('invalid tar: header checksum mismatch');
    const typeflag = String.fromCharCode(block[156]);
    const size = numeric(block, 124, 12, 'size');
    if (typeflag === 'x' || typeflag === 'g' || typeflag === 'L' || typeflag === 'K') {
      if (size > MAX_META) throw new LayerError(`extended header of ${size} bytes is too large`);
      this.meta = { typeflag, size, parts: [], got: 0 };
      if (size === 0) {
        this.meta = undefined;
        this.metaDone(typeflag, Buffer.alloc(0));
      }
      return undefined;
    }
    let rawName = field(block, 0, 100);
    if (block.subarray(257, 263).equals(USTAR_MAGIC) && block[345] !== 0) rawName = Buffer.concat([field(block, 345, 155), Buffer.from('/'), rawName]);
    const { pax, longName, longLink } = this.pending;
    this.pending = {};
    const name = pax?.has('path') ? text(pax.get('path') as Buffer, 'pax path') : longName ?? text(rawName, 'entry name');
    const type = TYPES[typeflag];
    if (!type) throw new LayerError(`entry ${JSON.stringify(name)} has an unsupported type (typeflag ${JSON.stringify(typeflag)})`);
    const linkname = pax?.has('linkpath') ? text(pax.get('linkpath') as Buffer, 'pax linkpath') : longLink ?? text(field(block, 157, 100), 'link name');
    let entrySize = size;
    if (pax?.has('size')) {
      const s = pax.get('size')?.toString('latin1') ?? '';
      if (!/^[0-9]+$/.test(s) || !Number.isSafeInteger(Number(s))) throw new LayerError(`entry ${JSON.stringify(name)} has an invalid pax size`);
      entrySize = Number(s);
    }
    if (type !== 'file' && entrySize !== 0) throw new LayerError(`entry ${JSON.stringify(name)} (${type}) carries ${entrySize} bytes of data`);
    // GNU tar makes a regular file whose name ends in "/" a directory but still skips its data: refuse the ambiguity
    if (type === 'file' && name.endsWith('/')) throw new LayerError(`entry ${JSON.stringify(name)} is a regular file with a directory name`);
    this.skip = entrySize + padding(entrySize);
    return { name, type, linkname, size: entrySize };
  }

  private metaDone(typeflag: string, body: Buffer): void {
    const p = this.pending;
    if (typeflag === 'L' || typeflag === 'K') {
      const key = typeflag === 'L' ? 'longName' : 'longLink';
      if (p[key] !== undefined) throw new LayerError(`two GNU long ${typeflag === 'L' ? 'names' : 'link names'} for one entry`);
      p[key] = text(field(body, 0, body.length), `GNU long ${typeflag === 'L' ? 'name' : 'link name'}`);
      return;
    }
    if (typeflag === 'g') {
      for (const k of paxRecords(body, 'pax global header').keys()) {
        if (!GLOBAL_KEYS.has(k)) throw new LayerError(`pax global header sets ${JSON.stringify(k)}: refused (GNU tar would apply it to every following entry)`);
      }
      return;
    }
    if (p.pax) throw new LayerError('two pax headers for one entry');
    const pax = paxRecords(body, 'pax header');
    for (const [k, v] of pax) {
      if (k.startsWith('GNU.')) throw new LayerError(`pax keyword ${JSON.stringify(k)} is not supported (sparse, multi-volume or incremental archive)`);
      if ((k === 'path' || k === 'linkpath' || k === 'size') && v.length === 0) throw new LayerError(`pax header has an empty ${k}`);
    }
    p.pax = pax;
  }
}
