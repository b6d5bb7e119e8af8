/**
 * Build cache keys. A step's key chains the parent (image or previous step) with the substituted instruction, the
 * build args the stage has in scope and, for COPY/ADD, a hash of the selected sources' content. Mtimes never count:
 * `touch` keeps the cache, a content, mode, name or symlink-target change invalidates it.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import type { Instruction } from './instructions';

export interface StepKeyInput {
  /** The parent: base image ID for the first step, else the previous step's key (or resulting image ID). */
  parent: string;
  /** The instruction after substitution (evaluateInstruction's result). */
  instruction: Instruction;
  /** Build args the step sees (StageScope.argValues()); undeclared proxy args must not be passed. */
  args?: Readonly<Record<string, string>>;
  /** For COPY/ADD: hashSources() of the selected sources (and URL content hashes, if any). */
  sources?: string;
}

/** Stable JSON: object keys sorted, Maps and Sets as sorted arrays, undefined dropped. */
export function canonical(value: unknown): string {
  return JSON.stringify(value, function (this: unknown, _key, v: unknown) {
    if (v instanceof Map) return [...v].sort();
    if (v instanceof Set) return [...v].sort();
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      return Object.fromEntries(Object.keys(v as object).sort().map((k) => [k, (v as Record<string, unknown>)[k]]));
    }
    return v;
  });
}

/** The instruction as it affects the result: location and source text dropped, substituted fields kept. */
export function instructionKeyText(inst: Instruction): string {
  const { loc: _loc, original: _original, ...rest } = inst;
  return canonical(rest);
}

/** "sha256:<hex>" for one build step. */
export function stepCacheKey(input: StepKeyInput): string {
  const h = createHash('sha256');
  h.update(canonical({
    v: 1,
    parent: input.parent,
    instruction: instructionKeyText(input.instruction),
    args: input.args ?? {},
    sources: input.sources ?? null,
  }));
  return `sha256:${h.digest('hex')}`;
}

async function fileDigest(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** One record per entry: name, type, permission bits, and content digest or link target. */
async function hashEntry(root: string, rel: string, out: string[], skip?: (rel: string) => boolean): Promise<void> {
  const abs = path.join(root, rel);
  const st = await fs.lstat(abs);
  const mode = (st.mode & 0o7777).toString(8);
  if (st.isSymbolicLink()) out.push(`${rel}\0l\0${mode}\0${await fs.readlink(abs)}`);
  else if (st.isFile()) out.push(`${rel}\0f\0${mode}\0${await fileDigest(abs)}`);
  else if (st.isDirectory()) {
    out.push(`${rel}\0d\0${mode}`);
    const names = (await fs.readdir(abs)).sort();
    for (const n of names) {
      const child = rel === '.' ? n : `${rel}/${n}`;
      if (!skip?.(child)) await hashEntry(root, child, out, skip);
    }
  } else out.push(`${rel}\0o\0${mode}\0${st.isFIFO() ? 'fifo' : st.isSocket() ? 'socket' : 'device'}:${st.rdev}`);
}

/**
 * Content hash ("sha256:<hex>") of the selected context paths (relative to contextDir, in COPY order): names,
 * types, permission bits, file contents and symlink targets of everything under them; not mtimes or owners.
 * `skip` leaves out paths (e.g. IgnoreMatcher.matches) the copy will also leave out.
 */
export async function hashSources(contextDir: string, selectedPaths: readonly string[],
  skip?: (rel: string) => boolean): Promise<string> {
  const h = createHash('sha256');
  for (const sel of selectedPaths) {
    const rel = path.posix.normalize(sel).replace(/^\/+/, '').replace(/\/+$/, '') || '.';
    if (rel === '..' || rel.startsWith('../')) throw new Error(`forbidden path outside the build context: ${sel}`);
    const records: string[] = [];
    await hashEntry(contextDir, rel, records, skip);
    h.update(`${records.length}\n${records.join('\n')}\n`);
  }
  return `sha256:${h.digest('hex')}`;
}
