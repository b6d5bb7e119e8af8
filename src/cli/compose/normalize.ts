/**
 * One service in the Compose Specification's normalized form (what `config` prints and the config hash covers):
 * long syntax for volumes and depends_on, mappings for environment and labels (env_file folded in), commands as
 * lists, paths (develop.watch's too) absolute, `networks` defaulting to the project's default network.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseEnvFile } from '../commands/container-opts';
import { toMap } from './merge';
import { ComposeError, type KeyPath } from './source';

type Obj = Record<string, unknown>;

export interface NormalizeContext {
  /** The directory of the file that defined the service (relative paths are resolved from it). */
  dir: string;
  env: Record<string, string>;
  where(keyPath: KeyPath): string;
}

/** shell words as compose-go splits a string command (quotes and backslashes, no expansion). */
export function shellWords(s: string): string[] {
  const out: string[] = [];
  let cur = '';
  let has = false;
  let quote = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (quote) {
      if (c === quote) quote = '';
      else if (c === '\\' && quote === '"' && i + 1 < s.length && '"\\$`'.includes(s[i + 1])) cur += s[++i];
      else cur += c;
    } else if (c === '"' || c === "'") { quote = c; has = true; }
    else if (c === '\\' && i + 1 < s.length) { cur += s[++i]; has = true; }
    else if (/\s/.test(c)) { if (has || cur) out.push(cur); cur = ''; has = false; }
    else cur += c;
  }
  if (quote) throw new Error(`unterminated quote in ${JSON.stringify(s)}`);
  if (has || cur) out.push(cur);
  return out;
}

function expandHome(p: string): string {
  return p === '~' || p.startsWith('~/') ? path.join(os.homedir(), p.slice(1)) : p;
}

/** A volume in long syntax: `[source:]target[:mode]` strings become {type, source, target, read_only}. */
export function volumeLong(v: unknown, dir: string): Obj {
  if (typeof v !== 'string') {
    const o = { ...(v as Obj) };
    if (o.type === 'bind' && typeof o.source === 'string') o.source = path.resolve(dir, expandHome(o.source));
    return o;
  }
  const parts = v.split(':');
  if (parts.length === 1) return { type: 'volume', target: parts[0] };
  const [source, target, mode = ''] = parts;
  const bind = source.startsWith('.') || source.startsWith('/') || source.startsWith('~');
  const out: Obj = { type: bind ? 'bind' : 'volume', source: bind ? path.resolve(dir, expandHome(source)) : source, target };
  const modes = mode.split(',').filter(Boolean);
  if (modes.includes('ro')) out.read_only = true;
  if (bind) out.bind = { create_host_path: true };
  if (!bind && modes.includes('nocopy')) out.volume = { nocopy: true };
  return out;
}

export function normalizeService(name: string, svc: Obj, ctx: NormalizeContext): Obj {
  const out: Obj = { ...svc };
  if (typeof out.build === 'string') out.build = { context: out.build };
  if (out.build) {
    const b = out.build as Obj;
    if (b.dockerfile !== undefined && b.dockerfile_inline !== undefined) {
      throw new ComposeError(`${ctx.where(['build'])}: services.${name}.build: service "${name}" declares mutually exclusive dockerfile and dockerfile_inline: invalid compose project`);
    }
    // an inline Dockerfile replaces the file; the context is still sent
    const dockerfile = b.dockerfile_inline === undefined ? { dockerfile: b.dockerfile ?? 'Dockerfile' } : {};
    out.build = { ...b, context: path.resolve(ctx.dir, String(b.context ?? '.')), ...dockerfile, ...(b.args ? { args: toMap(b.args) } : {}) };
  }
  for (const k of ['command', 'entrypoint'] as const) {
    if (typeof out[k] === 'string') {
      try {
        out[k] = shellWords(out[k] as string);
      } catch (e) {
        throw new ComposeError(`${ctx.where([k])}: services.${name}.${k}: ${(e as Error).message}`);
      }
    }
  }
  const environment: Obj = {};
  const envFiles = out.env_file === undefined ? [] : Array.isArray(out.env_file) ? out.env_file : [out.env_file];
  envFiles.forEach((f: unknown, i: number) => {
    const spec = typeof f === 'string' ? { path: f, required: true } : (f as { path: string; required?: boolean });
    const file = path.resolve(ctx.dir, spec.path);
    if (!fs.existsSync(file)) {
      if (spec.required === false) return;
      throw new ComposeError(`${ctx.where(['env_file', ...(Array.isArray(out.env_file) ? [i] : [])])}: services.${name}.env_file: env file ${file} not found: no such file or directory`);
    }
    Object.assign(environment, toMap(parseEnvFile(fs.readFileSync(file, 'utf8'), ctx.env)));
  });
  if (envFiles.length) out.env_file = envFiles.map((f: unknown) => path.resolve(ctx.dir, typeof f === 'string' ? f : (f as { path: string }).path));
  for (const [k, v] of Object.entries((toMap(out.environment) as Obj | undefined) ?? {})) {
    environment[k] = v === null || v === undefined ? ctx.env[k] ?? null : String(v);
  }
  for (const [k, v] of Object.entries(environment)) if (v === null) delete environment[k];
  if (Object.keys(environment).length || out.environment) out.environment = environment;
  if (out.labels) out.labels = Object.fromEntries(Object.entries(toMap(out.labels) as Obj).map(([k, v]) => [k, v === null ? '' : String(v)]));
  if (Array.isArray(out.depends_on)) {
    out.depends_on = Object.fromEntries(out.depends_on.map((d) => [d, { condition: 'service_started', required: true }]));
  } else if (out.depends_on) {
    out.depends_on = Object.fromEntries(Object.entries(out.depends_on as Obj).map(([d, v]) => [d, { condition: 'service_started', required: true, ...(v as Obj) }]));
  }
  if (Array.isArray(out.volumes)) out.volumes = out.volumes.map((v) => volumeLong(v, ctx.dir));
  if (Array.isArray(out.networks)) out.networks = Object.fromEntries(out.networks.map((n) => [n, null]));
  if (!out.networks && !out.network_mode) out.networks = { default: null };
  const develop = out.develop as { watch?: Obj[] } | null | undefined;
  if (develop?.watch) out.develop = { ...develop, watch: develop.watch.map((w) => ({ ...w, path: path.resolve(ctx.dir, String(w.path)) })) };
  if (Array.isArray(out.secrets)) out.secrets = out.secrets.map((s) => (typeof s === 'string' ? { source: s } : s));
  if (Array.isArray(out.configs)) out.configs = out.configs.map((s) => (typeof s === 'string' ? { source: s } : s));
  return out;
}
