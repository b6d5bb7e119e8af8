/**
 * Shell-like word processing for Dockerfile instructions (docker's "shell lexer"): quote removal, escapes and
 * variable substitution ($VAR, ${VAR}, ${VAR:-w}, ${VAR-w}, ${VAR:+w}, ${VAR+w}, ${VAR:?w}, ${VAR?w}), plus the
 * ARG/ENV scope that decides which names a stage can see. No command substitution: the builder never runs a shell.
 */

/** Returns the value of a variable, or undefined when it is not set (an empty string is "set"). */
export type Lookup = (name: string) => string | undefined;

export interface LexOptions {
  /** The file's escape character (`# escape=` directive), default backslash. */
  escape?: string;
  /** Keep quotes and escapes in the output, only substitute variables (heredoc bodies). */
  raw?: boolean;
}

export interface LexResult {
  /** The processed text with inner whitespace kept. */
  word: string;
  /** The processed text split into words on unquoted whitespace. */
  words: string[];
  /** Names that were looked up (set or not): the variables this text depends on. */
  used: Set<string>;
}

/** What the variables substituted into one word may add up to: ARG a1=$a0$a0…, a2=$a1$a1… grows tenfold a line, and
 *  without a bound a few lines block berthd for minutes building a string that cannot exist (a hostile Dockerfile). */
export const MAX_EXPANSION = 1 << 20;

const SPECIAL_PARAMS = new Set(['@', '*', '#', '?', '-', '$', '!', '0']);
const isSpace = (c: string): boolean => /\s/u.test(c);
const isNameChar = (c: string): boolean => /[\p{L}\p{N}_]/u.test(c);

class WordSplitter {
  private current = '';
  private inWord = false;
  readonly words: string[] = [];

  /** A character that may split words (unquoted, or from a variable's value). */
  add(c: string): void {
    if (isSpace(c)) {
      if (this.inWord && this.current !== '') {
        this.words.push(this.current);
        this.current = '';
        this.inWord = false;
      }
      return;
    }
    this.addRaw(c);
  }
  addRaw(s: string): void {
    this.current += s;
    this.inWord = true;
  }
  addText(s: string): void {
    for (const c of s) this.add(c);
  }
  finish(): string[] {
    if (this.current !== '') this.words.push(this.current);
    this.current = '';
    return this.words;
  }
}

class Lexer {
  private pos = 0;
  private expanded = 0;
  private readonly chars: string[];
  readonly used = new Set<string>();

  constructor(text: string, private readonly lookup: Lookup, private readonly escape: string, private readonly raw: boolean) {
    this.chars = Array.from(text);
  }

  private peek(): string | undefined {
    return this.chars[this.pos];
  }
  private next(): string | undefined {
    return this.chars[this.pos++];
  }

  /** Processes until end of input, or until `stop` (consumed) when given. */
  run(stop?: string): { word: string; words: string[] } {
    let out = '';
    const split = new WordSplitter();
    for (;;) {
      const c = this.peek();
      if (c === undefined) break;
      if (stop !== undefined && c === stop) {
        this.next();
        return { word: out, words: split.finish() };
      }
      if (c === "'" && !this.raw) {
        const s = this.singleQuoted();
        out += s;
        split.addRaw(s);
      } else if (c === '"' && !this.raw) {
        const s = this.doubleQuoted();
        out += s;
        split.addRaw(s);
      } else if (c === '$') {
        const s = this.dollar();
        out += s;
        split.addText(s);
      } else {
        this.next();
        if (c === this.escape) {
          const e = this.next();
          if (e === undefined) break; // a trailing escape is dropped
          if (this.raw && e !== '$') {
            out += c;
            split.addRaw(c);
          }
          out += e;
          split.addRaw(e);
        } else {
          out += c;
          split.add(c);
        }
      }
    }
    if (stop !== undefined) throw new Error(`unexpected end of statement while looking for matching ${stop}`);
    return { word: out, words: split.finish() };
  }

  private singleQuoted(): string {
    this.next();
    let out = '';
    for (;;) {
      const c = this.next();
      if (c === undefined) throw new Error('unexpected end of statement while looking for matching single-quote');
      if (c === "'") return out;
      out += c;
    }
  }

  private doubleQuoted(): string {
    this.next();
    let out = '';
    for (;;) {
      const c = this.peek();
      if (c === undefined) throw new Error('unexpected end of statement while looking for matching double-quote');
      if (c === '"') {
        this.next();
        return out;
      }
      if (c === '$') {
        out += this.dollar();
        continue;
      }
      this.next();
      if (c === this.escape) {
        const e = this.peek();
        if (e === undefined) continue;
        // Inside double quotes the escape only quotes ", $ and itself; otherwise it stays literal (sh rules).
        if (e === '"' || e === '$' || e === this.escape) {
          out += e;
          this.next();
          continue;
        }
      }
      out += c;
    }
  }

  private get(name: string): string | undefined {
    this.used.add(name);
    const value = this.lookup(name);
    this.expanded += value?.length ?? 0;
    if (this.expanded > MAX_EXPANSION) throw new Error(`variable expansion is larger than ${MAX_EXPANSION} bytes`);
    return value;
  }

  private dollar(): string {
    this.next();
    if (this.peek() !== '{') {
      const name = this.name();
      return name === '' ? '$' : (this.get(name) ?? '');
    }
    this.next();
    const first = this.peek();
    if (first === undefined) throw new Error("syntax error: missing '}'");
    if (first === '{' || first === '}' || first === ':') throw new Error('syntax error: bad substitution');
    const name = this.name();
    const c = this.next();
    if (c === '}') return this.get(name) ?? '';
    let colon = false;
    let op = c;
    if (c === ':') {
      colon = true;
      op = this.next();
    }
    if (op !== '-' && op !== '+' && op !== '?') {
      if (op === undefined) throw new Error("syntax error: missing '}'");
      throw new Error(colon ? `unsupported modifier (${op}) in substitution` : "missing ':' in substitution");
    }
    let word: string;
    try {
      word = this.run('}').word;
    } catch (err) {
      if (this.peek() === undefined) throw new Error("syntax error: missing '}'");
      throw err;
    }
    const value = this.get(name);
    // With a colon, empty counts as unset (sh semantics).
    const isSet = colon ? value !== undefined && value !== '' : value !== undefined;
    switch (op) {
      case '-':
        return isSet ? (value as string) : word;
      case '+':
        return isSet ? word : '';
      default:
        if (isSet) return value as string;
        throw new Error(`${name}: ${word === '' ? 'is not allowed to be unset' : word}`);
    }
  }

  private name(): string {
    let name = '';
    for (;;) {
      const c = this.peek();
      if (c === undefined) return name;
      if (name === '' && /\p{N}/u.test(c)) {
        while (this.peek() !== undefined && /\p{N}/u.test(this.peek() as string)) name += this.next();
        return name;
      }
      if (name === '' && SPECIAL_PARAMS.has(c)) return this.next() as string;
      if (!isNameChar(c)) return name;
      name += this.next();
    }
  }
}

/** Processes one word the way docker does for ENV, COPY, WORKDIR, ... (quotes removed, variables substituted). */
export function processWord(text: string, lookup: Lookup, opts: LexOptions = {}): LexResult {
  const lexer = new Lexer(text, lookup, opts.escape ?? '\\', opts.raw ?? false);
  try {
    const { word, words } = lexer.run();
    return { word, words, used: lexer.used };
  } catch (err) {
    throw new Error(`failed to process "${text}": ${(err as Error).message}`);
  }
}

/** Shorthand: the processed word only. */
export function expandWord(text: string, lookup: Lookup, opts: LexOptions = {}): string {
  return processWord(text, lookup, opts).word;
}

/** A lookup over a plain object or map (own keys only). */
export function lookupFrom(vars: Readonly<Record<string, string>> | ReadonlyMap<string, string>): Lookup {
  if (vars instanceof Map) return (n) => vars.get(n);
  const rec = vars as Readonly<Record<string, string>>;
  return (n) => (Object.prototype.hasOwnProperty.call(rec, n) ? rec[n] : undefined);
}

/** Proxy build args docker accepts without an ARG declaration (kept out of history and cache keys). */
export const PROXY_ARGS: ReadonlySet<string> = new Set([
  'HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy', 'FTP_PROXY', 'ftp_proxy',
  'NO_PROXY', 'no_proxy', 'ALL_PROXY', 'all_proxy',
]);

/**
 * The variables one stage can see while it is built. ENV (image Env first, then ENV instructions) wins over ARG of the
 * same name; an ARG is visible only after its declaration in the stage; its value is the build arg if given, else
 * its default, else (no default) the value of the global ARG of that name. Undeclared proxy build args are visible.
 */
export class StageScope {
  private readonly env = new Map<string, string>();
  private readonly args = new Map<string, string | undefined>();

  constructor(
    private readonly buildArgs: Readonly<Record<string, string>>,
    private readonly globalArgs: ReadonlyMap<string, string | undefined> = new Map(),
    imageEnv: readonly string[] = [],
  ) {
    for (const kv of imageEnv) {
      const i = kv.indexOf('=');
      if (i < 0) this.env.set(kv, '');
      else this.env.set(kv.slice(0, i), kv.slice(i + 1));
    }
  }

  readonly lookup: Lookup = (name) => {
    if (this.env.has(name)) return this.env.get(name);
    if (this.args.has(name)) return this.args.get(name);
    if (PROXY_ARGS.has(name) && Object.prototype.hasOwnProperty.call(this.buildArgs, name)) return this.buildArgs[name];
    return undefined;
  };

  /** Declares an ARG; `defaultValue` must already be expanded. */
  declareArg(name: string, defaultValue: string | undefined): void {
    let value = defaultValue;
    if (Object.prototype.hasOwnProperty.call(this.buildArgs, name)) value = this.buildArgs[name];
    else if (value === undefined && this.globalArgs.has(name)) value = this.globalArgs.get(name);
    this.args.set(name, value);
  }

  setEnv(name: string, value: string): void {
    this.env.set(name, value);
  }

  /** The Env list of the image config being built (order of first definition kept). */
  envList(): string[] {
    return [...this.env].map(([k, v]) => `${k}=${v}`);
  }

  /** Declared ARGs that have a value (what a RUN step sees and what its cache key depends on). */
  argValues(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [k, v] of this.args) if (v !== undefined) out[k] = v;
    return out;
  }

  /** Extra environment for a RUN step: ARG values not shadowed by ENV, plus undeclared proxy build args. */
  runEnv(): string[] {
    const out: string[] = [];
    for (const [k, v] of Object.entries(this.argValues())) if (!this.env.has(k)) out.push(`${k}=${v}`);
    for (const k of PROXY_ARGS) {
      if (!this.args.has(k) && !this.env.has(k) && Object.prototype.hasOwnProperty.call(this.buildArgs, k)) {
        out.push(`${k}=${this.buildArgs[k]}`);
      }
    }
    return out;
  }

  /** Values of the global ARGs as resolved so far (used for the scope of FROM lines). */
  static globals(decls: ReadonlyArray<{ name: string; value?: string }>, buildArgs: Readonly<Record<string, string>>,
    escape = '\\'): Map<string, string | undefined> {
    const scope = new StageScope(buildArgs);
    for (const d of decls) {
      scope.declareArg(d.name, d.value === undefined ? undefined : expandWord(d.value, scope.lookup, { escape }));
    }
    return new Map(scope.args);
  }
}
