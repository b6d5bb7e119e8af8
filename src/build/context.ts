/**
 * The build context: .dockerignore (docker's patternmatcher semantics), Go filepath.Match globs, and COPY/ADD source
 * resolution against a context directory (wildcards, scoped symlinks, docker's destination rules and errors).
 */
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { resolveInRoot } from '../common/rootpath';
import type { CopyInst } from './instructions';

// ---- .dockerignore -----------------------------------------------------------------------------------------------

/** Reads .dockerignore text into patterns (comments and blanks dropped, paths cleaned, leading "/" removed). */
export function parseDockerignore(text: string): string[] {
  const out: string[] = [];
  for (const line of text.replace(/^\uFEFF/, '').split('\n')) {
    if (line.startsWith('#')) continue;
    let p = line.trim();
    if (p === '') continue;
    const invert = p.startsWith('!');
    if (invert) p = p.slice(1).trim();
    if (p !== '') {
      p = path.posix.normalize(p).replace(/\/+$/, '') || '/';
      if (p.length > 1 && p.startsWith('/')) p = p.slice(1);
    }
    out.push(invert ? `!${p}` : p);
  }
  return out;
}

interface IgnorePattern {
  exclusion: boolean;
  matches: (p: string) => boolean;
}

const REGEX_SPECIAL = new Set(['.', '+', '(', ')', '|', '{', '}', '$', '^']);

/** Compiles one pattern like docker's patternmatcher: `*` and `?` stay within a path element, `**` spans them. */
function compileIgnorePattern(pattern: string): (p: string) => boolean {
  let re = '^';
  const chars = Array.from(pattern);
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i];
    if (c === '*') {
      if (chars[i + 1] === '*') {
        i++;
        if (chars[i + 1] === '/') i++;
        re += i + 1 >= chars.length ? '.*' : '(.*/)?';
      } else re += '[^/]*';
    } else if (c === '?') re += '[^/]';
    else if (c === '\\') re += i + 1 < chars.length ? `\\${chars[++i]}` : '\\\\';
    else if (c === '[' || c === ']') re += c;
    else re += REGEX_SPECIAL.has(c) ? `\\${c}` : c;
  }
  const rx = new RegExp(`${re}$`, 'u');
  return (p) => rx.test(p);
}

/** Decides which context paths .dockerignore excludes (later patterns win; `!` re-includes). */
export class IgnoreMatcher {
  private readonly patterns: IgnorePattern[] = [];

  constructor(patterns: readonly string[]) {
    for (let p of patterns) {
      p = p.trim();
      if (p === '') continue;
      const exclusion = p.startsWith('!');
      if (exclusion) {
        if (p.length === 1) throw new Error('illegal exclusion pattern: "!"');
        p = p.slice(1);
      }
      p = path.posix.normalize(p);
      goGlobMatch(p, '.'); // surfaces syntax errors now, as docker does
      this.patterns.push({ exclusion, matches: compileIgnorePattern(p) });
    }
  }

  static fromText(text: string): IgnoreMatcher {
    return new IgnoreMatcher(parseDockerignore(text));
  }

  get empty(): boolean {
    return this.patterns.length === 0;
  }

  /** True when `relPath` (slash-separated, relative to the context) is excluded, itself or through a parent. */
  matches(relPath: string): boolean {
    const file = path.posix.normalize(relPath).replace(/^\/+/, '').replace(/\/+$/, '');
    if (file === '.' || file === '') return false;
    const parents = path.posix.dirname(file) === '.' ? [] : path.posix.dirname(file).split('/');
    let matched = false;
    for (const pat of this.patterns) {
      if (pat.exclusion !== matched) continue;
      let m = pat.matches(file);
      for (let i = 0; !m && i < parents.length; i++) m = pat.matches(parents.slice(0, i + 1).join('/'));
      if (m) matched = !pat.exclusion;
    }
    return matched;
  }
}

// ---- Go filepath.Match -------------------------------------------------------------------------------------------

const globCache = new Map<string, RegExp>();
const escapeRe = (c: string): string => c.replace(/[\\^$.*+?()[\]{}|/-]/g, '\\$&');

function compileGlob(pattern: string): RegExp {
  const chars = Array.from(pattern);
  const bad = (): Error => new Error(`syntax error in pattern: ${pattern}`);
  let re = '^';
  let i = 0;
  const classChar = (): string => {
    let c = chars[i];
    if (c === undefined || c === '-' || c === ']') throw bad();
    if (c === '\\') {
      c = chars[++i];
      if (c === undefined) throw bad();
    }
    i++;
    return c;
  };
  while (i < chars.length) {
    const c = chars[i];
    if (c === '*') {
      re += '[^/]*';
      i++;
    } else if (c === '?') {
      re += '[^/]';
      i++;
    } else if (c === '\\') {
      if (i + 1 >= chars.length) throw bad();
      re += escapeRe(chars[i + 1]);
      i += 2;
    } else if (c === '[') {
      i++;
      let cls = '[';
      if (chars[i] === '^') {
        cls += '^';
        i++;
      }
      let first = true;
      for (;;) {
        if (i >= chars.length) throw bad();
        if (chars[i] === ']' && !first) {
          i++;
          break;
        }
        first = false;
        const lo = classChar();
        let hi = lo;
        if (chars[i] === '-') {
          i++;
          hi = classChar();
          if ((hi.codePointAt(0) as number) < (lo.codePointAt(0) as number)) throw bad();
        }
        cls += lo === hi ? escapeRe(lo) : `${escapeRe(lo)}-${escapeRe(hi)}`;
      }
      re += `${cls}]`;
    } else {
      re += escapeRe(c);
      i++;
    }
  }
  return new RegExp(`${re}$`, 'u');
}

/** Go's path/filepath.Match: `*`, `?`, `[a-z]`, `[^x]`, `\` escapes; `*` and `?` never match "/". */
export function goGlobMatch(pattern: string, name: string): boolean {
  let rx = globCache.get(pattern);
  if (!rx) {
    rx = compileGlob(pattern);
    globCache.set(pattern, rx);
  }
  return rx.test(name);
}

/** Whether a COPY source uses wildcards (an escaped character does not count). */
export function hasWildcards(p: string): boolean {
  for (let i = 0; i < p.length; i++) {
    if (p[i] === '\\') i++;
    else if (p[i] === '*' || p[i] === '?' || p[i] === '[') return true;
  }
  return false;
}

// ---- COPY / ADD sources ------------------------------------------------------------------------------------------

export interface CopySource {
  /** Path relative to the context as written/matched ("." for the whole context); symlinks not resolved. */
  rel: string;
  /** The path after resolving symlinks inside the context: what is read, relative to the context. */
  resolved: string;
  isDir: boolean;
}
export interface ResolvedCopy {
  sources: CopySource[];
  /** ADD URLs, left to the executor to download. */
  urls: string[];
  /** Destination made absolute against the working directory; a trailing "/" is kept. */
  dest: string;
  /** Sources land inside dest (dest ends with "/", or there is a single directory source, whose content is copied). */
  destIsDir: boolean;
}

const isURL = (s: string): boolean => /^https?:\/\//i.test(s);

/** All context paths (files and directories, lexical order, ignored ones left out) relative to the root. */
async function walkContext(root: string, ignore?: IgnoreMatcher, dir = ''): Promise<string[]> {
  const out: string[] = [];
  const entries = (await fs.readdir(path.join(root, dir), { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    const rel = dir === '' ? e.name : `${dir}/${e.name}`;
    if (ignore?.matches(rel)) continue;
    out.push(rel);
    if (e.isDirectory()) out.push(...(await walkContext(root, ignore, rel)));
  }
  return out;
}

/** Makes a COPY destination absolute against WORKDIR, keeping a trailing slash (docker's normalizeDest). */
export function normalizeDest(workdir: string, dest: string): string {
  if (dest.startsWith('/')) return dest;
  const abs = path.posix.join('/', workdir || '/', dest);
  return dest.endsWith('/') && !abs.endsWith('/') ? `${abs}/` : abs;
}

/**
 * Selects what an (expanded) COPY/ADD instruction reads from the context directory. Errors use docker's wording,
 * e.g. "COPY failed: file not found in build context or excluded by .dockerignore: stat x: file does not exist".
 */
export async function resolveCopySources(contextDir: string, inst: Pick<CopyInst, 'kind' | 'sources' | 'heredocs' | 'dest'>,
  opts: { workdir?: string; ignore?: IgnoreMatcher } = {}): Promise<ResolvedCopy> {
  const cmd = inst.kind;
  const failed = (msg: string): Error => new Error(`${cmd} failed: ${msg}`);
  const sources: CopySource[] = [];
  const urls: string[] = [];
  let walked: string[] | undefined;

  const add = async (rel: string): Promise<void> => {
    const resolved = resolveInRoot(contextDir, rel);
    const st = await fs.stat(path.join(contextDir, resolved)).catch(() => undefined);
    if (!st || (resolved !== '.' && opts.ignore?.matches(resolved))) {
      throw failed(`file not found in build context or excluded by .dockerignore: stat ${rel}: file does not exist`);
    }
    sources.push({ rel, resolved, isDir: st.isDirectory() });
  };

  for (const src of inst.sources) {
    if (isURL(src)) {
      if (cmd === 'COPY') throw failed("source can't be a URL for COPY");
      urls.push(src);
      continue;
    }
    const clean = path.posix.normalize(src.replace(/^\/+/, '')).replace(/\/+$/, '') || '.';
    if (clean === '..' || clean.startsWith('../')) throw failed(`forbidden path outside the build context: ${src}`);
    if (!hasWildcards(clean)) {
      await add(clean);
      continue;
    }
    walked ??= await walkContext(contextDir, opts.ignore);
    try {
      for (const rel of walked) if (goGlobMatch(clean, rel)) await add(rel);
    } catch (err) {
      throw (err as Error).message.startsWith(cmd) ? err : failed((err as Error).message);
    }
  }
  const count = sources.length + urls.length + inst.heredocs.length;
  if (count === 0) throw failed('no source files were specified');
  if (count > 1 && !inst.dest.endsWith('/')) {
    throw new Error(`When using ${cmd} with more than one source file, the destination must be a directory and end with a /`);
  }
  const dest = normalizeDest(opts.workdir ?? '/', inst.dest);
  const destIsDir = dest.endsWith('/') || (count === 1 && sources.length === 1 && sources[0].isDir);
  return { sources, urls, dest, destIsDir };
}
