/** Reading conmon's log backwards (tail) against the forward reading, on inputs that cross chunk boundaries. */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { linesBackward, readLogs, type LogOptions } from '../../src/engine/containers/logs';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-logread-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

let seq = 0;
function file(content: string | Buffer): string {
  const f = path.join(tmp, `f${seq++}`);
  fs.writeFileSync(f, content);
  return f;
}

/** All lines handed out by linesBackward (in file order) and the end it returns. */
function backward(f: string, max = Infinity): { lines: string[]; end: number } {
  const fd = fs.openSync(f, 'r');
  try {
    const lines: string[] = [];
    const end = linesBackward(fd, fs.fstatSync(fd).size, (l) => {
      lines.push(l.toString());
      return lines.length < max;
    });
    return { lines: lines.reverse(), end };
  } finally {
    fs.closeSync(fd);
  }
}

/** A small deterministic generator, so a failure can be replayed. */
function rng(seed: number): () => number {
  let x = seed;
  return () => ((x = (x * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
}

describe('linesBackward', () => {
  it('reads nothing from an empty file or one without a complete line', () => {
    assert.deepEqual(backward(file('')), { lines: [], end: 0 });
    assert.deepEqual(backward(file('no newline yet')), { lines: [], end: 0 });
    assert.deepEqual(backward(file(Buffer.alloc(200_000, 0x61))), { lines: [], end: 0 });
  });

  it('leaves out a last line without newline, as the forward reading does', () => {
    assert.deepEqual(backward(file('a\nbb\nccc')), { lines: ['a', 'bb'], end: 5 });
    assert.deepEqual(backward(file('a\nbb\n')), { lines: ['a', 'bb'], end: 5 });
    assert.deepEqual(backward(file('\n\nx\n')), { lines: ['', '', 'x'], end: 4 });
  });

  it('joins lines cut by chunk boundaries, short and longer than a chunk', () => {
    const next = rng(7);
    const want: string[] = [];
    for (let i = 0; i < 400; i++) {
      const r = next();
      const len = r < 0.05 ? 65_536 * (1 + Math.floor(next() * 3)) + Math.floor(next() * 3) - 1 : Math.floor(next() * 3000);
      want.push(String.fromCharCode(97 + (i % 26)).repeat(len));
    }
    const tail = 'x'.repeat(70_000);
    const f = file(want.join('\n') + '\n' + tail);
    const got = backward(f);
    assert.equal(got.end, fs.statSync(f).size - tail.length);
    assert.equal(got.lines.length, want.length);
    got.lines.forEach((l, i) => assert.ok(l === want[i], `line ${i}: ${l.length} bytes, want ${want[i].length}`));
  });

  it('stops as soon as asked', () => {
    const f = file(Array.from({ length: 100_000 }, (_, i) => `l${i}`).join('\n') + '\n');
    assert.deepEqual(backward(f, 3).lines, ['l99997', 'l99998', 'l99999']);
  });
});

describe('readLogs with tail', () => {
  /** Record n is written n µs after base. */
  const base = BigInt(Date.parse('2026-11-28T01:00:00Z')) * 1_000_000n;
  const stamp = (n: number) => `2026-11-28T01:00:00.${String(n * 1000).padStart(9, '0')}+00:00`;
  /** A log in conmon's format over rotated files: mixed streams, partial (P) lines, a malformed line, long lines. */
  function makeLog(dir: string): string {
    fs.mkdirSync(dir);
    const log = path.join(dir, 'ctr.log');
    const next = rng(11);
    let n = 0;
    const chunk = (count: number) => {
      let s = '';
      for (let i = 0; i < count; i++, n++) {
        const r = next();
        const stream = r < 0.3 ? 'stderr' : 'stdout';
        const tag = r > 0.9 ? 'P' : 'F';
        const text = r > 0.98 ? 'y'.repeat(70_000) : `msg ${n}`;
        s += r > 0.97 && r <= 0.98 ? 'garbage line\n' : `${stamp(n)} ${stream} ${tag} ${text}\n`;
      }
      return s;
    };
    fs.writeFileSync(`${log}.2`, chunk(3000));
    fs.writeFileSync(`${log}.1`, chunk(50));
    fs.writeFileSync(log, chunk(20_000) + `${stamp(n)} stdout F unfinished`);
    return log;
  }
  const read = (log: string, o: LogOptions) => {
    const out: string[] = [];
    const offset = readLogs(log, o, (r) => out.push(`${r.time} ${r.stream} ${r.data.toString()}`));
    return { out, offset };
  };

  it('gives the end of the forward reading, with stream and time filters, across rotated files', () => {
    const log = makeLog(path.join(tmp, 'rot'));
    const filters: LogOptions[] = [
      { stdout: true, stderr: true },
      { stdout: true, stderr: false },
      { stdout: false, stderr: true },
      { stdout: true, stderr: true, sinceNs: base + 2_500_000n, untilNs: base + 22_000_000n },
    ];
    for (const f of filters) {
      const all = read(log, f);
      assert.ok(all.out.length > 1000);
      for (const tail of [0, 1, 100, 5000, all.out.length, all.out.length + 10]) {
        const t = read(log, { ...f, tail });
        assert.deepEqual(t.out, tail === 0 ? [] : all.out.slice(-tail), `tail ${tail} of ${JSON.stringify(f, (_k, v) => (typeof v === 'bigint' ? String(v) : v))}`);
        assert.equal(t.offset, all.offset);
      }
    }
    assert.equal(read(log, { stdout: true, stderr: true }).offset, fs.readFileSync(log).lastIndexOf('\n') + 1);
  });
});
