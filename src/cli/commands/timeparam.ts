/** docker's timetypes.GetTimestamp for --since/--until: durations ("10m") are relative to now. */

const UNIT_MS: Record<string, number> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, ms: 1, s: 1000, m: 60000, h: 3600000 };

/** Go's time.ParseDuration, in milliseconds ("1h30m", "1.5s"); null when `s` is not a duration. */
export function parseGoDuration(s: string): number | null {
  const m = /^([+-]?)((?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|ms|s|m|h))+$/.exec(s);
  if (!m) return s === '0' ? 0 : null;
  let total = 0;
  for (const part of s.replace(/^[+-]/, '').matchAll(/(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/g)) total += Number(part[1]) * UNIT_MS[part[2]];
  return m[1] === '-' ? -total : total;
}

/** The ?since=/?until= value: unix seconds with a 9-digit fraction, or the input when it already is one. */
export function sinceParam(value: string, nowMs: number): string {
  if (/^\d+(\.\d{1,9})?$/.test(value)) return value;
  const d = parseGoDuration(value);
  let ms: number;
  if (d !== null) ms = nowMs - d;
  else {
    ms = Date.parse(value);
    if (Number.isNaN(ms)) throw new Error(`failed to parse value as time or duration: "${value}"`);
  }
  const secs = Math.floor(ms / 1000);
  const nanos = Math.round((ms - secs * 1000) * 1e6);
  return `${secs}.${String(nanos).padStart(9, '0')}`;
}
