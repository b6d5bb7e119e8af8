/** Go's time.ParseDuration and docker's timetypes.GetTimestamp, shared by the CLI, the builder and the daemon. */

const UNITS: Record<string, number> = { ns: 1, us: 1e3, 'µs': 1e3, 'μs': 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };

/** Go's time.ParseDuration, in nanoseconds ("1m30s", "1.5h", "300ms", "0"), with Go's error messages. */
export function parseGoDuration(s: string): number {
  const quoted = JSON.stringify(s);
  let rest = s;
  let sign = 1;
  if (rest.startsWith('-') || rest.startsWith('+')) {
    if (rest[0] === '-') sign = -1;
    rest = rest.slice(1);
  }
  if (rest === '0') return 0;
  if (rest === '') throw new Error(`time: invalid duration ${quoted}`);
  let total = 0;
  while (rest !== '') {
    const m = /^(\d*)(?:\.(\d*))?/.exec(rest) as RegExpExecArray;
    if (m[0] === '' || m[0] === '.' || (m[1] === '' && (m[2] ?? '') === '')) throw new Error(`time: invalid duration ${quoted}`);
    rest = rest.slice(m[0].length);
    const u = /^[^\d.]+/.exec(rest);
    if (!u) throw new Error(`time: missing unit in duration ${quoted}`);
    const scale = UNITS[u[0]];
    if (scale === undefined) throw new Error(`time: unknown unit ${JSON.stringify(u[0])} in duration ${quoted}`);
    rest = rest.slice(u[0].length);
    total += Number(`${m[1] || '0'}.${m[2] || '0'}`) * scale;
  }
  return sign * Math.round(total);
}

/** parseGoDuration, or undefined when `s` is not a Go duration. */
export function tryGoDuration(s: string): number | undefined {
  try {
    return parseGoDuration(s);
  } catch {
    return undefined;
  }
}

/** `until` / `before` style timestamps: unix seconds, RFC 3339, or a Go duration ago (`24h`, `10m30s`). */
export function parseTimestamp(v: string, now = Date.now()): number {
  if (/^\d+(\.\d+)?$/.test(v)) return Number(v) * 1000;
  const ago = tryGoDuration(v);
  if (ago !== undefined) return now - ago / 1e6;
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw new Error(`failed to parse value as time or duration: "${v}"`);
  return t;
}
