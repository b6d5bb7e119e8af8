/** docker's timetypes.GetTimestamp for --since/--until: durations ("10m") are relative to now. */
import { tryGoDuration } from '../../common/duration';

/** The ?since=/?until= value: unix seconds with a 9-digit fraction, or the input when it already is one. */
export function sinceParam(value: string, nowMs: number): string {
  if (/^\d+(\.\d{1,9})?$/.test(value)) return value;
  const d = tryGoDuration(value);
  let ms: number;
  if (d !== undefined) ms = nowMs - d / 1e6;
  else {
    ms = Date.parse(value);
    if (Number.isNaN(ms)) throw new Error(`failed to parse value as time or duration: "${value}"`);
  }
  const secs = Math.floor(ms / 1000);
  const nanos = Math.round((ms - secs * 1000) * 1e6);
  return `${secs}.${String(nanos).padStart(9, '0')}`;
}
