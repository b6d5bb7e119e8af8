/**
 * A spf13/pflag-compatible command-line parser driven by per-command flag specs, with pflag's error texts
 * ("unknown flag: --foo", "unknown shorthand flag: 'z' in -z", "flag needs an argument: --name",
 * `invalid argument "x" for "-m, --memory" flag: ...`) and cobra's option listing for --help.
 */

export type FlagKind = 'bool' | 'string' | 'int' | 'list';

export interface FlagSpec {
  name: string;
  short?: string;
  kind: FlagKind;
  usage: string;
  /** Type word shown in --help ("string", "list", "bytes", "decimal", ...); defaults from kind. */
  varname?: string;
  default?: string | number | boolean;
  hidden?: boolean;
  /** Validates a value as it is set; a thrown Error's message becomes pflag's "invalid argument" reason. */
  check?: (value: string) => void;
}

export type FlagValue = string | number | boolean | string[];

export interface ParsedFlags {
  values: Record<string, FlagValue>;
  /** Names (long) of flags given on the command line, like pflag's Changed(). */
  changed: Set<string>;
  args: string[];
  help: boolean;
}

/** A usage error: printed with "See '<cmd> --help'." and exit status 125, as docker does. */
export class FlagError extends Error {}

const TRUE = new Set(['1', 't', 'T', 'TRUE', 'true', 'True']);
const FALSE = new Set(['0', 'f', 'F', 'FALSE', 'false', 'False']);

/** strconv.ParseInt(s, 0, 64) as a JS number. */
export function parseGoInt(s: string): number {
  const m = /^([+-]?)(0[xX][0-9a-fA-F_]+|0[oO]?[0-7_]*|0[bB][01_]+|[1-9][0-9_]*|0)$/.exec(s);
  if (!m) throw new Error(`strconv.ParseInt: parsing ${JSON.stringify(s)}: invalid syntax`);
  let body = m[2].replace(/_/g, '');
  let radix = 10;
  if (/^0[xX]/.test(body)) { radix = 16; body = body.slice(2); }
  else if (/^0[bB]/.test(body)) { radix = 2; body = body.slice(2); }
  else if (/^0[oO]/.test(body)) { radix = 8; body = body.slice(2); }
  else if (body.length > 1 && body[0] === '0') { radix = 8; body = body.slice(1); }
  const n = parseInt(body || '0', radix);
  return m[1] === '-' ? -n : n;
}

function defaultOf(f: FlagSpec): FlagValue {
  if (f.kind === 'list') return [];
  if (f.default !== undefined) return f.default;
  return f.kind === 'bool' ? false : f.kind === 'int' ? 0 : '';
}

const flagLabel = (f: FlagSpec): string => (f.short ? `-${f.short}, --${f.name}` : `--${f.name}`);

/**
 * Parses argv. With `interspersed` false (docker run/exec/create), flags end at the first positional argument.
 * `-h`/`--help` set `help` unless the command defines its own -h (docker run's --hostname).
 */
export function parseFlags(argv: string[], specs: FlagSpec[], interspersed = true): ParsedFlags {
  const byName = new Map<string, FlagSpec>();
  const byShort = new Map<string, FlagSpec>();
  for (const f of specs) {
    byName.set(f.name, f);
    if (f.short) byShort.set(f.short, f);
  }
  const values: Record<string, FlagValue> = {};
  for (const f of specs) values[f.name] = defaultOf(f);
  const changed = new Set<string>();
  const args: string[] = [];
  let help = false;

  const set = (f: FlagSpec, raw: string): void => {
    try {
      let v: FlagValue;
      if (f.kind === 'bool') {
        if (TRUE.has(raw)) v = true;
        else if (FALSE.has(raw)) v = false;
        else throw new Error(`strconv.ParseBool: parsing ${JSON.stringify(raw)}: invalid syntax`);
      } else if (f.kind === 'int') v = parseGoInt(raw);
      else v = raw;
      f.check?.(raw);
      if (f.kind === 'list') {
        // pflag replaces the default on first use, then appends
        values[f.name] = [...(changed.has(f.name) ? (values[f.name] as string[]) : []), raw];
      } else values[f.name] = v;
      changed.add(f.name);
    } catch (e) {
      throw new FlagError(`invalid argument ${JSON.stringify(raw)} for ${JSON.stringify(flagLabel(f))} flag: ${(e as Error).message}`);
    }
  };

  let i = 0;
  while (i < argv.length) {
    const s = argv[i++];
    if (s.length < 2 || s[0] !== '-') {
      args.push(s);
      if (!interspersed) { args.push(...argv.slice(i)); break; }
      continue;
    }
    if (s === '--') { args.push(...argv.slice(i)); break; }
    if (s.startsWith('--')) {
      const body = s.slice(2);
      if (body === '' || body[0] === '-' || body[0] === '=') throw new FlagError(`bad flag syntax: ${s}`);
      const eq = body.indexOf('=');
      const name = eq < 0 ? body : body.slice(0, eq);
      const f = byName.get(name);
      if (!f) {
        if (name === 'help') { help = true; continue; }
        throw new FlagError(`unknown flag: --${name}`);
      }
      if (eq >= 0) set(f, body.slice(eq + 1));
      else if (f.kind === 'bool') set(f, 'true');
      else if (i < argv.length) set(f, argv[i++]);
      else throw new FlagError(`flag needs an argument: ${s}`);
      continue;
    }
    let shorts = s.slice(1);
    while (shorts.length > 0) {
      const c = shorts[0];
      const f = byShort.get(c);
      if (!f) {
        if (c === 'h') { help = true; shorts = shorts.slice(1); continue; }
        throw new FlagError(`unknown shorthand flag: '${c}' in -${shorts}`);
      }
      if (shorts.length > 2 && shorts[1] === '=') { set(f, shorts.slice(2)); shorts = ''; }
      else if (f.kind === 'bool') { set(f, 'true'); shorts = shorts.slice(1); }
      else if (shorts.length > 1) { set(f, shorts.slice(1)); shorts = ''; }
      else if (i < argv.length) { set(f, argv[i++]); shorts = ''; }
      else throw new FlagError(`flag needs an argument: '${c}' in -${shorts}`);
    }
  }
  return { values, changed, args, help };
}

/** pflag's FlagUsages: sorted, aligned option lines as cobra prints them under "Options:". */
export function flagUsages(specs: FlagSpec[]): string {
  const rows: [string, string][] = [];
  let maxlen = 0;
  for (const f of [...specs].sort((a, b) => (a.name < b.name ? -1 : 1))) {
    if (f.hidden) continue;
    let line = f.short ? `  -${f.short}, --${f.name}` : `      --${f.name}`;
    const varname = f.varname ?? (f.kind === 'bool' ? '' : f.kind);
    if (varname) line += ' ' + varname;
    maxlen = Math.max(maxlen, line.length);
    let usage = f.usage;
    const d = f.default;
    if (d !== undefined && d !== '' && d !== false && d !== 0) usage += typeof d === 'string' ? ` (default ${JSON.stringify(d)})` : ` (default ${d})`;
    rows.push([line, usage]);
  }
  // continuation lines of a multi-line usage line up under its first line, as pflag's wrap does
  const indent = '\n' + ' '.repeat(maxlen + 3);
  return rows.map(([l, u]) => `${l}${' '.repeat(maxlen - l.length + 2)} ${u.replace(/\n/g, indent)}\n`).join('');
}
