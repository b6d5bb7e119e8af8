/** docker/go-units and Go formatting helpers: the human forms docker prints (shared by berthd and the CLI). */

const DECIMAL = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB', 'ZB', 'YB'];
const BINARY = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB', 'ZiB', 'YiB'];

/** Go's `%.<prec>g` (fmt/strconv): shortest of %e/%f at `prec` significant digits, no trailing zeros. */
export function goFormatG(x: number, prec: number): string {
  if (!Number.isFinite(x)) return x > 0 ? '+Inf' : x < 0 ? '-Inf' : 'NaN';
  if (x === 0) return '0';
  const [mant, expStr] = x.toExponential(Math.max(prec, 1) - 1).split('e');
  const exp = Number(expStr);
  if (exp < -4 || exp >= prec) {
    const m = mant.includes('.') ? mant.replace(/0+$/, '').replace(/\.$/, '') : mant;
    const e = Math.abs(exp);
    return `${m}e${exp < 0 ? '-' : '+'}${e < 10 ? '0' : ''}${e}`;
  }
  const fixed = x.toFixed(Math.max(prec - 1 - exp, 0));
  return fixed.includes('.') ? fixed.replace(/0+$/, '').replace(/\.$/, '') : fixed;
}

function customSize(size: number, prec: number, base: number, units: string[]): string {
  let i = 0;
  while (size >= base && i < units.length - 1) {
    size /= base;
    i++;
  }
  return goFormatG(size, prec) + units[i];
}

/** units.HumanSizeWithPrecision: decimal units ("4.26MB" at precision 3). */
export const humanSizeWithPrecision = (size: number, prec: number): string => customSize(size, prec, 1000, DECIMAL);
/** units.HumanSize: precision 4 ("1.234kB"). */
export const humanSize = (size: number): string => humanSizeWithPrecision(size, 4);
/** units.BytesSize: binary units ("7.763GiB"). */
export const bytesSize = (size: number): string => customSize(size, 4, 1024, BINARY);

/** units.HumanDuration for a duration in milliseconds ("Less than a second", "About a minute", "3 weeks"). */
export function humanDuration(ms: number): string {
  const seconds = Math.trunc(ms / 1000);
  if (seconds < 1) return 'Less than a second';
  if (seconds === 1) return '1 second';
  if (seconds < 60) return `${seconds} seconds`;
  const minutes = Math.trunc(ms / 60000);
  if (minutes === 1) return 'About a minute';
  if (minutes < 60) return `${minutes} minutes`;
  const hours = Math.round(ms / 3600000);
  if (hours === 1) return 'About an hour';
  if (hours < 48) return `${hours} hours`;
  if (hours < 24 * 7 * 2) return `${Math.trunc(hours / 24)} days`;
  if (hours < 24 * 30 * 2) return `${Math.trunc(hours / 24 / 7)} weeks`;
  if (hours < 24 * 365 * 2) return `${Math.trunc(hours / 24 / 30)} months`;
  return `${Math.trunc(Math.trunc(ms / 3600000) / 24 / 365)} years`;
}

/** "<HumanDuration> ago" from a unix time in seconds, as docker's CREATED column. */
export const timeAgo = (unixSeconds: number, nowMs = Date.now()): string => `${humanDuration(nowMs - unixSeconds * 1000)} ago`;

const RAM_RE = /^(\d+(?:\.\d+)*) ?([kKmMgGtTpP])?[iI]?[bB]?$/;
const RAM_MULT: Record<string, number> = { k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 };

/** units.RAMInBytes: "512m" → 536870912 (binary multiples; the b/i suffixes are optional). */
export function ramInBytes(s: string): number {
  const m = RAM_RE.exec(s);
  if (!m) throw new Error(`invalid size: '${s}'`);
  const n = Number.parseFloat(m[1]);
  if (Number.isNaN(n)) throw new Error(`invalid size: '${s}'`);
  return Math.trunc(n * (m[2] ? RAM_MULT[m[2].toLowerCase()] : 1));
}

/** Go's Time.String() in local time: "2026-11-27 23:55:01 +0000 UTC". */
export function goTimeString(d: Date): string {
  const p = (n: number, w = 2): string => String(n).padStart(w, '0');
  const off = -d.getTimezoneOffset();
  const sign = off < 0 ? '-' : '+';
  const zone = off === 0 ? 'UTC' : zoneAbbrev(d);
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())} ` +
    `${sign}${p(Math.trunc(Math.abs(off) / 60))}${p(Math.abs(off) % 60)} ${zone}`;
}

function zoneAbbrev(d: Date): string {
  const part = new Intl.DateTimeFormat('en-US', { timeZoneName: 'short' }).formatToParts(d).find((x) => x.type === 'timeZoneName');
  return part?.value ?? '';
}

/** RFC3339Nano with a fixed 9-digit fraction, as docker's events output ("2006-01-02T15:04:05.000000000Z07:00"). */
export function rfc3339NanoFixed(unixNanos: bigint): string {
  const ms = Number(unixNanos / 1000000n);
  const d = new Date(ms);
  const p = (n: number, w = 2): string => String(n).padStart(w, '0');
  const off = -d.getTimezoneOffset();
  const zone = off === 0 ? 'Z' : `${off < 0 ? '-' : '+'}${p(Math.trunc(Math.abs(off) / 60))}:${p(Math.abs(off) % 60)}`;
  const frac = String(((unixNanos % 1000000000n) + 1000000000n) % 1000000000n).padStart(9, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${frac}${zone}`;
}

/** stringid.TruncateID: drop an "algo:" prefix and keep 12 characters. */
export function truncateId(id: string): string {
  const i = id.indexOf(':');
  const s = i >= 0 ? id.slice(i + 1) : id;
  return s.length > 12 ? s.slice(0, 12) : s;
}

/** formatter.Ellipsis: cut to `max` display columns, the last one being "…". */
export function ellipsis(s: string, max: number): string {
  if (max <= 0) return '';
  const runes = Array.from(s);
  if (runes.length <= max) return s;
  if (max === 1) return runes[0];
  return runes.slice(0, max - 1).join('') + '…';
}

/** Go's strconv.Quote. */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0) as number;
    switch (ch) {
      case '"': out += '\\"'; continue;
      case '\\': out += '\\\\'; continue;
      case '\x07': out += '\\a'; continue;
      case '\b': out += '\\b'; continue;
      case '\f': out += '\\f'; continue;
      case '\n': out += '\\n'; continue;
      case '\r': out += '\\r'; continue;
      case '\t': out += '\\t'; continue;
      case '\v': out += '\\v'; continue;
    }
    if (c < 0x20 || c === 0x7f) out += '\\x' + c.toString(16).padStart(2, '0');
    else if (c >= 0x80 && c < 0xa0) out += '\\u' + c.toString(16).padStart(4, '0');
    else out += ch;
  }
  return out + '"';
}
