/**
 * A compose file parsed with the `yaml` library, keeping its source so that every error can name file:line and the
 * key (compose's own messages name the file and key; the line is Berth's addition).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';

export type KeyPath = (string | number)[];

/** Bad input in a compose file (or its environment): the message already names the file, line and key. */
export class ComposeError extends Error {}

export class ComposeSource {
  private constructor(readonly file: string, private readonly doc: Document, private readonly lines: LineCounter, readonly value: Record<string, unknown>) {}

  /** Reads and parses `file`; a YAML error or a top level that is not a mapping is a ComposeError. */
  static read(file: string): ComposeSource {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (e) {
      throw new ComposeError(`open ${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (e as Error).message}`);
    }
    return ComposeSource.parse(file, text);
  }

  static parse(file: string, text: string): ComposeSource {
    const lines = new LineCounter();
    const doc = parseDocument(text, { lineCounter: lines, merge: true, prettyErrors: false, uniqueKeys: true });
    const err = doc.errors[0];
    if (err) {
      const pos = lines.linePos(err.pos[0]);
      throw new ComposeError(`${file}:${pos.line}:${pos.col}: yaml: ${err.message.split('\n')[0]}`);
    }
    const value = (doc.toJS({ maxAliasCount: 10_000 }) ?? {}) as unknown;
    if (typeof value !== 'object' || Array.isArray(value) || value === null) {
      throw new ComposeError(`${file}:1: top-level object must be a mapping`);
    }
    return new ComposeSource(file, doc, lines, value as Record<string, unknown>);
  }

  /** "file:line" of the node at `keyPath` (its key when `key` is set), else of the deepest ancestor found. */
  where(keyPath: KeyPath, key = false): string {
    for (let n = keyPath.length; n >= 0; n--) {
      const pos = this.offset(keyPath.slice(0, n), key && n === keyPath.length);
      if (pos !== undefined) return `${this.file}:${this.lines.linePos(pos).line}`;
    }
    return this.file;
  }

  private offset(keyPath: KeyPath, key: boolean): number | undefined {
    let node: unknown = this.doc.contents;
    let keyNode: Node | undefined;
    for (const k of keyPath) {
      keyNode = undefined;
      if (isMap(node)) {
        const pair = node.items.find((p) => (isScalar(p.key) ? String(p.key.value) : String(p.key)) === String(k));
        if (!pair) return undefined;
        keyNode = pair.key as Node;
        node = pair.value;
      } else if (isSeq(node) && typeof k === 'number') {
        node = node.items[k];
      } else return undefined;
    }
    const target = (key && keyNode) || (node as Node | null);
    return target?.range?.[0];
  }
}

/** compose's dotted key names: services.web.ports[0] */
export function keyName(keyPath: KeyPath): string {
  return keyPath.map((k, i) => (typeof k === 'number' ? `[${k}]` : i ? `.${k}` : k)).join('');
}

/** A path relative to the file's directory made absolute (compose resolves relative paths per file). */
export const resolveFrom = (file: string, p: string): string => path.resolve(path.dirname(file), p);
