/**
 * Compose's variable interpolation (compose-go template): `$VAR`, `${VAR}`, `${VAR:-default}` / `${VAR-default}`,
 * `${VAR:?error}` / `${VAR?error}`, `${VAR:+alt}` / `${VAR+alt}`, defaults that nest (`${A:-${B}}`), `$$` for a
 * literal `$`. Pure: the caller supplies the variables and receives warnings for unset ones.
 */

export type Lookup = (name: string) => string | undefined;

/** A `${VAR:?err}` whose variable is unset (or empty), or a malformed expression. */
export class InterpolationError extends Error {}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*/;

export interface InterpolateOptions {
  lookup: Lookup;
  /** Called once per unset variable used without a default (compose warns and uses ""). */
  onUnset?: (name: string) => void;
}

export function interpolate(text: string, opts: InterpolateOptions): string {
  const [out, end] = expand(text, 0, opts, '');
  if (end !== text.length) throw new InterpolationError(`invalid interpolation format for ${JSON.stringify(text)}`);
  return out;
}

/** Expands from `i` until the end or an unmatched `stop` character; returns the text and where it stopped. */
function expand(text: string, i: number, opts: InterpolateOptions, stop: string): [string, number] {
  let out = '';
  while (i < text.length) {
    const c = text[i];
    if (stop && c === stop) return [out, i];
    if (c !== '$') { out += c; i++; continue; }
    const next = text[i + 1];
    if (next === '$') { out += '$'; i += 2; continue; }
    if (next === '{') {
      const [value, end] = braced(text, i + 2, opts);
      out += value;
      i = end;
      continue;
    }
    const m = NAME.exec(text.slice(i + 1));
    if (!m) { out += '$'; i++; continue; }
    out += variable(m[0], opts);
    i += 1 + m[0].length;
  }
  if (stop) throw new InterpolationError(`invalid interpolation format for ${JSON.stringify(text)}: missing '}'`);
  return [out, i];
}

/** `${...}` from just after the brace; returns the value and the index after the closing brace. */
function braced(text: string, i: number, opts: InterpolateOptions): [string, number] {
  const m = NAME.exec(text.slice(i));
  if (!m) throw new InterpolationError(`invalid interpolation format for ${JSON.stringify(text)}`);
  const name = m[0];
  i += name.length;
  if (text[i] === '}') return [variable(name, opts), i + 1];
  const op = /^(:?[-?+])/.exec(text.slice(i))?.[1];
  if (!op) throw new InterpolationError(`invalid interpolation format for ${JSON.stringify(text)}`);
  const [arg, end] = expand(text, i + op.length, opts, '}');
  const value = opts.lookup(name);
  const unset = op.startsWith(':') ? !value : value === undefined;
  let out: string;
  switch (op.replace(':', '')) {
    case '-': out = unset ? arg : (value as string); break;
    case '+': out = unset ? '' : arg; break;
    default:
      if (unset) throw new InterpolationError(`required variable ${name} is missing a value${arg ? `: ${arg}` : ''}`);
      out = value as string;
  }
  return [out, end + 1];
}

function variable(name: string, opts: InterpolateOptions): string {
  const v = opts.lookup(name);
  if (v === undefined) {
    opts.onUnset?.(name);
    return '';
  }
  return v;
}

/** Interpolates every string value of a parsed YAML tree (keys are kept as written, as compose does). */
export function interpolateTree(value: unknown, opts: InterpolateOptions, path: (string | number)[] = [], onError?: (path: (string | number)[], e: InterpolationError) => never): unknown {
  if (typeof value === 'string') {
    try {
      return interpolate(value, opts);
    } catch (e) {
      if (e instanceof InterpolationError && onError) onError(path, e);
      throw e;
    }
  }
  if (Array.isArray(value)) return value.map((v, i) => interpolateTree(v, opts, [...path, i], onError));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, interpolateTree(v, opts, [...path, k], onError)]));
  }
  return value;
}
