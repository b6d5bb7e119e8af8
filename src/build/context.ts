/**
 * The build context: .dockerignore (docker's patternmatcher semantics), Go filepath.Match globs, and COPY/ADD source
 * resolution against a context directory (wildcards, scoped symlinks, docker's destination rules and errors).
 */
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { resolveInRoot } from '../common/rootpath';
import { isGitURL } from './gitsource';
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
  text: string;
  matches: (p: string) => boolean;
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
      const rx = globRegExp(p, true); // a syntax error surfaces now, as docker's
      this.patterns.push({ exclusion, text: p, matches: (f) => rx.test(f) });
    }
  }

  static fromText(text: string): IgnoreMatcher {
    return new IgnoreMatcher(parseDockerignore(text));
  }

  get empty(): boolean {
    return this.patterns.length === 0;
  }

  /**
   * Whether a walk must look inside the excluded directory `dir`: docker's walk does when a `!` pattern names a path
   * below it (the pattern starts with "dir/").
   */
  mayReinclude(dir: string): boolean {
    return this.patterns.some((p) => p.exclusion && `${p.text}/`.startsWith(`${dir}/`));
  }

  /** Whether a walk leaves `relPath` out, itself and everything under it. */
  prunes(relPath: string): boolean {
    return this.matches(relPath) && !this.mayReinclude(relPath);
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
/** Escapes that a unicode-mode RegExp accepts: syntax characters outside a class; `\ ] [ ^ -` inside one. */
const escapeRe = (c: string): string => c.replace(/[\\^$.*+?()[\]{}|/]/g, '\\$&');
const escapeClass = (c: string): string => c.replace(/[\\\]\[^-]/g, '\\$&');

/**
 * A Go filepath.Match pattern as a RegExp (`*`, `?`, `[a-z]`, `[^x]`, `\` escapes; `*` and `?` never match "/").
 * `doubleStar` adds .dockerignore's `**` (docker's patternmatcher): any number of path elements, even none.
 * A malformed pattern throws `syntax error in pattern`, Go's ErrBadPattern.
 */
function globRegExp(pattern: string, doubleStar = false): RegExp {
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
    if (c === '*' && doubleStar && chars[i + 1] === '*') {
      i += chars[i + 2] === '/' ? 3 : 2;
      re += i >= chars.length ? '.*' : '(.*/)?';
    } else if (c === '*') {
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
        cls += lo === hi ? escapeClass(lo) : `${escapeClass(lo)}-${escapeClass(hi)}`;
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
    rx = globRegExp(pattern);
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

/** What leaves paths out of a copy: .dockerignore, COPY --exclude. */
export type PathFilter = Pick<IgnoreMatcher, 'matches' | 'prunes' | 'mayReinclude'>;

/** A path is left out when either filter leaves it out (.dockerignore and COPY --exclude together). */
export function eitherFilter(a: PathFilter | undefined, b: PathFilter): PathFilter {
  if (!a) return b;
  const prunes = (rel: string) => a.prunes(rel) || b.prunes(rel);
  return { matches: (rel) => a.matches(rel) || b.matches(rel), prunes, mayReinclude: (rel) => !prunes(rel) };
}

export interface CopySource {
  /** Path relative to the context as written/matched ("." for the whole context); symlinks not resolved. */
  rel: string;
  /** COPY --parents: the path kept under the destination (rel below the `/./` pivot, or all of rel). */
  keep?: string;
  /** The path after resolving symlinks inside the context: what is read, relative to the context. */
  resolved: string;
  isDir: boolean;
}
export interface ResolvedCopy {
  sources: CopySource[];
  /** ADD URLs, left to the executor to download. */
  urls: string[];
  /** ADD git repositories (gitsource.ts), left to the executor to check out. */
  gits: string[];
  /** Destination made absolute against the working directory; a trailing "/" is kept. */
  dest: string;
  /** Sources land inside dest (dest ends with "/", or there is a single directory source, whose content is copied). */
  destIsDir: boolean;
}

const isURL = (s: string): boolean => /^https?:\/\//i.test(s);

/** All context paths (files and directories, lexical order, ignored ones left out) relative to the root. */
async function walkContext(root: string, ignore?: PathFilter, dir = ''): Promise<string[]> {
  const out: string[] = [];
  const entries = (await fs.readdir(path.join(root, dir), { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    const rel = dir === '' ? e.name : `${dir}/${e.name}`;
    const ignored = !!ignore?.matches(rel);
    if (!ignored) out.push(rel);
    // as docker's walk: an excluded directory may still hold paths a `!` pattern re-includes
    if (e.isDirectory() && (!ignored || ignore!.mayReinclude(rel))) out.push(...(await walkContext(root, ignore, rel)));
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
export async function resolveCopySources(contextDir: string, inst: Pick<CopyInst, 'kind' | 'sources' | 'heredocs' | 'dest'> & { parents?: boolean },
  opts: { workdir?: string; ignore?: PathFilter } = {}): Promise<ResolvedCopy> {
  const cmd = inst.kind;
  const failed = (msg: string): Error => new Error(`${cmd} failed: ${msg}`);
  const sources: CopySource[] = [];
  const urls: string[] = [];
  const gits: string[] = [];
  let walked: string[] | undefined;

  let pivot = '';
  const add = async (rel: string): Promise<void> => {
    const resolved = resolveInRoot(contextDir, rel);
    const st = await fs.stat(path.join(contextDir, resolved)).catch(() => undefined);
    if (!st || (resolved !== '.' && opts.ignore?.matches(resolved))) {
      throw failed(`file not found in build context or excluded by .dockerignore: stat ${rel}: file does not exist`);
    }
    const keep = inst.parents ? path.posix.relative(pivot || '.', rel) || '.' : undefined;
    sources.push({ rel, resolved, isDir: st.isDirectory(), ...(keep !== undefined ? { keep } : {}) });
  };

  for (const src of inst.sources) {
    if (cmd === 'ADD' && isGitURL(src)) {
      gits.push(src);
      continue;
    }
    if (isURL(src)) {
      if (cmd === 'COPY') throw failed("source can't be a URL for COPY");
      urls.push(src);
      continue;
    }
    const clean = path.posix.normalize(src.replace(/^\/+/, '')).replace(/\/+$/, '') || '.';
    // --parents keeps the path below a `/./` in the source (BuildKit's pivot), else all of it
    const raw = src.replace(/^\/+/, '');
    const cut = `/${raw}`.indexOf('/./');
    pivot = cut > 0 ? path.posix.normalize(raw.slice(0, cut - 1)) : '';
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
  const count = sources.length + urls.length + gits.length + inst.heredocs.length;
  if (count === 0) throw failed('no source files were specified');
  if (count > 1 && !inst.dest.endsWith('/')) {
    throw new Error(`When using ${cmd} with more than one source file, the destination must be a directory and end with a /`);
  }
  const dest = normalizeDest(opts.workdir ?? '/', inst.dest);
  const destIsDir = dest.endsWith('/') || (count === 1 && (sources[0]?.isDir || gits.length === 1)) || inst.parents === true;
  return { sources, urls, gits, dest, destIsDir };
}
