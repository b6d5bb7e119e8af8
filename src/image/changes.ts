/**
 * `docker import --change` / `docker commit --change` lines: the Dockerfile instructions that only touch the image
 * config (CMD ENTRYPOINT ENV WORKDIR USER EXPOSE LABEL VOLUME STOPSIGNAL), applied to a ContainerConfig. Pure.
 */
import * as path from 'node:path';
import { inBounds, isProtocol, parsePortRange, portKeys, splitPortProto } from '../common/ports';
import type { ContainerConfig } from '../schema/container';

export class ChangeError extends Error {}

const allowed = new Set(['CMD', 'ENTRYPOINT', 'ENV', 'WORKDIR', 'USER', 'EXPOSE', 'LABEL', 'VOLUME', 'STOPSIGNAL']);

/** Split shell-like words: quotes group, backslash escapes the next character (outside single quotes). */
export function splitWords(s: string): string[] {
  const words: string[] = [];
  let cur = '';
  let inWord = false;
  let quote: '"' | "'" | undefined;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (quote) {
      if (c === quote) quote = undefined;
      else if (c === '\\' && quote === '"' && i + 1 < s.length) cur += s[++i];
      else cur += c;
    } else if (c === '"' || c === "'") {
      quote = c;
      inWord = true;
    } else if (c === '\\' && i + 1 < s.length) {
      cur += s[++i];
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(cur);
      cur = '';
      inWord = false;
    } else {
      cur += c;
      inWord = true;
    }
  }
  if (quote) throw new ChangeError(`unterminated quote in: ${s}`);
  if (inWord) words.push(cur);
  return words;
}

/** JSON (exec) form when the text is a JSON array of strings, else undefined (docker then uses the shell form). */
function jsonForm(rest: string): string[] | undefined {
  if (!rest.startsWith('[')) return undefined;
  try {
    const v: unknown = JSON.parse(rest);
    if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
  } catch {
    // not JSON: shell form
  }
  return undefined;
}

/** key=value pairs (or the legacy `KEY value with spaces` form for ENV/LABEL). */
function keyValues(instr: string, rest: string): [string, string][] {
  const words = splitWords(rest);
  if (words.length === 0) throw new ChangeError(`${instr} requires at least one argument`);
  if (!words[0].includes('=')) {
    const m = /^(\S+)\s+(.*)$/s.exec(rest);
    if (!m) throw new ChangeError(`${instr} requires at least two arguments`);
    return [[m[1], splitWords(m[2]).join(' ')]];
  }
  return words.map((w) => {
    const eq = w.indexOf('=');
    if (eq <= 0) throw new ChangeError(`${instr} names can not be blank`);
    return [w.slice(0, eq), w.slice(eq + 1)] as [string, string];
  });
}

function exposePorts(args: string[]): string[] {
  const out: string[] = [];
  for (const a of args) {
    const { ports, proto } = splitPortProto(a);
    const r = parsePortRange(ports);
    if (!r || !isProtocol(proto)) throw new ChangeError(`invalid containerPort: ${a}`);
    if (!inBounds(r)) throw new ChangeError(`invalid range specified for container port: ${a}`);
    out.push(...portKeys(r, proto));
  }
  return out;
}

/** Apply one change line to a copy of `cfg`. */
export function applyChange(cfg: ContainerConfig, line: string): ContainerConfig {
  const m = /^\s*(\S+)\s*(.*?)\s*$/s.exec(line);
  if (!m || !m[1]) throw new ChangeError('empty change');
  const instr = m[1].toUpperCase();
  const rest = m[2];
  if (!allowed.has(instr)) throw new ChangeError(`${instr} is not a valid change command`);
  const out: ContainerConfig = { ...cfg };
  const shellForm = (): string[] => [...(cfg.Shell ?? ['/bin/sh', '-c']), rest];
  switch (instr) {
    case 'CMD':
      out.Cmd = jsonForm(rest) ?? shellForm();
      break;
    case 'ENTRYPOINT':
      out.Entrypoint = jsonForm(rest) ?? shellForm();
      break;
    case 'ENV': {
      const env = [...(cfg.Env ?? [])];
      for (const [k, v] of keyValues(instr, rest)) {
        const i = env.findIndex((e) => e.split('=')[0] === k);
        if (i >= 0) env[i] = `${k}=${v}`;
        else env.push(`${k}=${v}`);
      }
      out.Env = env;
      break;
    }
    case 'LABEL':
      out.Labels = { ...(cfg.Labels ?? {}), ...Object.fromEntries(keyValues(instr, rest)) };
      break;
    case 'WORKDIR': {
      const dir = splitWords(rest).join(' ');
      if (!dir) throw new ChangeError('WORKDIR requires exactly one argument');
      out.WorkingDir = path.posix.resolve('/', cfg.WorkingDir ?? '/', dir);
      break;
    }
    case 'USER': {
      const words = splitWords(rest);
      if (words.length !== 1) throw new ChangeError('USER requires exactly one argument');
      out.User = words[0];
      break;
    }
    case 'STOPSIGNAL': {
      const words = splitWords(rest);
      if (words.length !== 1) throw new ChangeError('STOPSIGNAL requires exactly one argument');
      out.StopSignal = words[0];
      break;
    }
    case 'EXPOSE': {
      const ports = exposePorts(splitWords(rest));
      if (ports.length === 0) throw new ChangeError('EXPOSE requires at least one argument');
      out.ExposedPorts = { ...(cfg.ExposedPorts ?? {}), ...Object.fromEntries(ports.map((p) => [p, {}])) };
      break;
    }
    case 'VOLUME': {
      const vols = jsonForm(rest) ?? splitWords(rest);
      if (vols.length === 0 || vols.some((v) => !v.trim())) throw new ChangeError('VOLUME specified can not be an empty string');
      out.Volumes = { ...(cfg.Volumes ?? {}), ...Object.fromEntries(vols.map((v) => [v, {}])) };
      break;
    }
  }
  return out;
}

/** Apply every change line in order. */
export const applyChanges = (cfg: ContainerConfig, lines: string[]): ContainerConfig => lines.reduce(applyChange, cfg);
