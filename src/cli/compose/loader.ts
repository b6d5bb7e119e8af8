/**
 * Loads a compose project as `docker compose` does: the files (-f, COMPOSE_FILE, or compose.yaml & co. found from
 * the working directory up), the environment (.env or --env-file, the process environment winning), interpolation,
 * validation of each file against the Compose Specification, `include`, merge, `extends`, profiles and the project
 * name. Every error names file:line and key and comes before anything is created.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseEnvFile } from '../commands/container-opts';
import { interpolateTree, InterpolationError } from './interpolate';
import { mergeFiles, mergeValues, toMap } from './merge';
import { normalizeService } from './normalize';
import { validate } from './schema';
import { ComposeError, ComposeSource, keyName, resolveFrom, type KeyPath } from './source';

export type Obj = Record<string, unknown>;

export interface LoadOptions {
  files: string[];
  projectName?: string;
  projectDirectory?: string;
  envFiles: string[];
  profiles: string[];
  env: NodeJS.ProcessEnv;
  cwd: string;
}

export interface Project {
  name: string;
  workingDir: string;
  files: string[];
  /** The normalized model (services only those enabled by the profiles). */
  model: Obj & { services: Record<string, Obj> };
  /** Variables as compose sees them: the env file(s) under the process environment. */
  env: Record<string, string>;
  /** Where a service was (last) defined, for errors found after the merge. */
  where(service: string, keyPath?: KeyPath): string;
}

const DEFAULT_FILES = ['compose.yaml', 'compose.yml', 'docker-compose.yml', 'docker-compose.yaml'];
const OVERRIDE_FILES = ['compose.override.yaml', 'compose.override.yml', 'docker-compose.override.yml', 'docker-compose.override.yaml'];

/** compose's normalization of a project name: lower case, only [a-z0-9_-], starting with a letter or digit. */
export function normalizeProjectName(s: string): string {
  return s.toLowerCase().replace(/[^a-z0-9_-]/g, '').replace(/^[_-]+/, '');
}

function findFiles(opts: LoadOptions, env: Record<string, string>): string[] {
  if (opts.files.length) return opts.files.map((f) => path.resolve(opts.cwd, f));
  if (env.COMPOSE_FILE) return env.COMPOSE_FILE.split(env.COMPOSE_PATH_SEPARATOR || ':').filter(Boolean).map((f) => path.resolve(opts.cwd, f));
  for (let dir = path.resolve(opts.projectDirectory ?? opts.cwd); ; dir = path.dirname(dir)) {
    const found = DEFAULT_FILES.find((f) => fs.existsSync(path.join(dir, f)));
    if (found) {
      const override = OVERRIDE_FILES.find((f) => fs.existsSync(path.join(dir, f)));
      return [path.join(dir, found), ...(override ? [path.join(dir, override)] : [])];
    }
    if (dir === path.dirname(dir)) break;
  }
  throw new ComposeError('no configuration file provided: not found');
}

function readEnvFile(file: string, env: NodeJS.ProcessEnv): Record<string, string> {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    throw new ComposeError(`couldn't find env file: ${file}`);
  }
  try {
    // compose's .env also takes `export K=V` and quoted values
    const lines = parseEnvFile(text.replace(/^[ \t]*export[ \t]+/gm, ''), env);
    return toMap(lines.map((l) => l.replace(/^([^=]*)=(["'])(.*)\2$/, '$1=$3'))) as Record<string, string>;
  } catch (e) {
    throw new ComposeError(`${file}: ${(e as Error).message}`);
  }
}

export function loadProject(opts: LoadOptions): Project {
  const procEnv = Object.fromEntries(Object.entries(opts.env).filter(([, v]) => v !== undefined)) as Record<string, string>;
  // the env file is looked for before the compose files are known: in --project-directory or the current directory
  const envDir = path.resolve(opts.cwd, opts.projectDirectory ?? '.');
  const envFiles = opts.envFiles.length ? opts.envFiles.map((f) => path.resolve(opts.cwd, f)) : [path.join(envDir, '.env')].filter((f) => fs.existsSync(f));
  const fromFiles = Object.assign({}, ...envFiles.map((f) => readEnvFile(f, opts.env))) as Record<string, string>;
  const env = { ...fromFiles, ...procEnv };
  const files = findFiles(opts, env);
  const workingDir = path.resolve(opts.cwd, opts.projectDirectory ?? path.dirname(files[0]));

  const state: LoadState = { owner: new Map(), warned: new Set(), procEnv, chain: [] };
  const loaded = files.map((file) => loadFile(file, env, workingDir, state).value);
  const owner = state.owner;
  const merged = mergeFiles(loaded) as Obj & { services?: Record<string, Obj> };
  const where = (service: string, keyPath: KeyPath = []): string => owner.get(service)?.where(['services', service, ...keyPath], true) ?? files[0];

  const profiles = new Set([...opts.profiles, ...(env.COMPOSE_PROFILES ?? '').split(',').filter(Boolean)]);
  const services: Record<string, Obj> = {};
  for (const [name, svc] of Object.entries(merged.services ?? {})) {
    const own = (svc.profiles as string[] | undefined) ?? [];
    if (own.length && !own.some((p) => profiles.has(p) || profiles.has('*'))) continue;
    const src = owner.get(name) as ComposeSource;
    services[name] = normalizeService(name, svc, { dir: path.dirname(src.file), env, where: (k) => where(name, k) });
  }
  checkDependencies(services, where);
  const name = normalizeProjectName(opts.projectName || env.COMPOSE_PROJECT_NAME || (merged.name as string | undefined) || path.basename(workingDir));
  if (!name) throw new ComposeError(`project name must not be empty`);
  const model = { name, ...merged, services } as Project['model'];
  return { name, workingDir, files, model, env, where };
}

interface LoadState {
  /** The file that (last) defined each service: its relative paths are resolved against that file's directory. */
  owner: Map<string, ComposeSource>;
  warned: Set<string>;
  procEnv: Record<string, string>;
  /** The files being included, outermost first (an include cycle is an error). */
  chain: string[];
}

/** The resources `include` merges into the including project; a name defined twice among them is a conflict. */
const INCLUDED = ['services', 'networks', 'volumes', 'secrets', 'configs'] as const;

/** One file read, interpolated with `env`, validated, its includes merged in and its `extends` resolved. */
function loadFile(file: string, env: Record<string, string>, baseDir: string, state: LoadState): { value: Obj; origins: Map<string, ComposeSource> } {
  const src = ComposeSource.read(file);
  const onError = (p: KeyPath, e: InterpolationError): never => {
    throw new ComposeError(`${src.where(p)}: ${keyName(p)}: ${e.message}`);
  };
  const onUnset = (name: string): void => {
    if (!state.warned.has(name)) process.stderr.write(`WARN[0000] The "${name}" variable is not set. Defaulting to a blank string.\n`);
    state.warned.add(name);
  };
  const value = interpolateTree(src.value, { lookup: (n) => env[n], onUnset }, [], onError) as Obj;
  validate(src, value);
  for (const name of Object.keys((value.services as Obj | undefined) ?? {})) state.owner.set(name, src);
  resolveSources(src, value, env, baseDir);
  const origins = new Map<string, ComposeSource>();
  for (const kind of INCLUDED) for (const name of Object.keys((value[kind] as Obj | undefined) ?? {})) origins.set(`${kind}:${name}`, src);
  const { include, ...own } = value;
  let merged = resolveExtends(src, own);
  ((include as unknown[] | undefined) ?? []).forEach((entry, i) => {
    const inc = loadInclude(src, i, entry, state);
    for (const [key, incSrc] of inc.origins) {
      const other = origins.get(key);
      const keyPath = [key.slice(0, key.indexOf(':')), key.slice(key.indexOf(':') + 1)];
      if (other) throw new ComposeError(`${incSrc.where(keyPath, true)}: ${keyName(keyPath)} conflicts with ${other.where(keyPath, true)}: included resources must have unique names`);
      origins.set(key, incSrc);
    }
    merged = { ...merged, ...Object.fromEntries(INCLUDED.map((kind) => [kind, { ...(inc.value[kind] as Obj | undefined), ...(merged[kind] as Obj | undefined) }])) };
  });
  // services the including file defines win over the owner an included file recorded
  for (const name of Object.keys((own.services as Obj | undefined) ?? {})) state.owner.set(name, src);
  return { value: merged, origins };
}

/**
 * An `include` entry (a path, or {path, project_directory, env_file}) loaded as a project of its own: paths relative
 * to the including file's directory, variables from its env file(s) (else project_directory's .env) under the
 * process environment, relative paths within it resolved against its own directory.
 */
function loadInclude(parent: ComposeSource, i: number, entry: unknown, state: LoadState): { value: Obj; origins: Map<string, ComposeSource> } {
  const at = parent.where(['include', i]);
  const long = (typeof entry === 'string' ? { path: entry } : entry) as { path: string | string[]; project_directory?: string; env_file?: string | string[] };
  const list = (v: string | string[] | undefined): string[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);
  const paths = list(long.path).map((f) => resolveFrom(parent.file, f));
  for (const f of paths) {
    if (!fs.existsSync(f)) throw new ComposeError(`${at}: include: open ${f}: no such file or directory`);
    if ([...state.chain, parent.file].includes(f)) throw new ComposeError(`${at}: include cycle detected: ${[...state.chain, parent.file, f].join(' -> ')}`);
  }
  const dir = long.project_directory ? resolveFrom(parent.file, long.project_directory) : path.dirname(paths[0]);
  const envFiles = long.env_file !== undefined ? list(long.env_file).map((f) => resolveFrom(parent.file, f)) : [path.join(dir, '.env')].filter((f) => fs.existsSync(f));
  const env = { ...Object.assign({}, ...envFiles.map((f) => readEnvFile(f, state.procEnv))) as Record<string, string>, ...state.procEnv };
  state.chain.push(parent.file);
  try {
    const parts = paths.map((f) => loadFile(f, env, dir, state));
    const origins = new Map(parts.flatMap((part) => [...part.origins]));
    return { value: mergeFiles(parts.map((part) => part.value)) as Obj, origins };
  } finally {
    state.chain.pop();
  }
}

/**
 * Top-level secrets and configs made self-contained at load: a relative `file` absolute (from the project directory),
 * an `environment` source read now into `content`, as compose reads it; an unset variable is an error.
 */
function resolveSources(src: ComposeSource, value: Obj, env: Record<string, string>, baseDir: string): void {
  for (const kind of ['secrets', 'configs'] as const) {
    for (const [name, def] of Object.entries((value[kind] as Record<string, Obj | null> | undefined) ?? {})) {
      if (!def) continue;
      if (typeof def.file === 'string') def.file = path.resolve(baseDir, def.file);
      if (typeof def.environment !== 'string') continue;
      const v = env[def.environment];
      if (v === undefined) throw new ComposeError(`${src.where([kind, name, 'environment'])}: environment variable "${def.environment}" required by ${kind.slice(0, -1)} "${name}" is not set`);
      def.content = v;
    }
  }
}

/** `extends: {service, file?}` (or a plain service name) within one file, resolved recursively. */
function resolveExtends(src: ComposeSource, value: Obj): Obj {
  const services = (value.services as Record<string, Obj> | undefined) ?? {};
  const resolve = (name: string, seen: string[], from: Record<string, Obj>, file: ComposeSource): Obj => {
    const svc = from[name];
    if (!svc) throw new ComposeError(`${file.where(['services'])}: cannot extend service "${name}": service not found`);
    const ext = svc.extends as string | { service: string; file?: string } | undefined;
    if (!ext) return svc;
    const { service, file: other } = typeof ext === 'string' ? { service: ext, file: undefined } : ext;
    if (seen.includes(service) && !other) throw new ComposeError(`${file.where(['services', name, 'extends'], true)}: circular reference with extends in ${[...seen, service].join(' -> ')}`);
    const baseSrc = other ? ComposeSource.read(path.resolve(path.dirname(file.file), other)) : file;
    const base = resolve(service, other ? [service] : [...seen, service], (baseSrc.value.services as Record<string, Obj>) ?? {}, baseSrc);
    const { extends: _ext, ...rest } = svc;
    return mergeValues(base, rest) as Obj;
  };
  return { ...value, services: Object.fromEntries(Object.keys(services).map((n) => [n, resolve(n, [n], services, src)])) };
}

/** depends_on: every name a service, and no cycle (compose refuses both before creating anything). */
function checkDependencies(services: Record<string, Obj>, where: Project['where']): void {
  const deps = (n: string): string[] => Object.keys((services[n].depends_on as Obj | undefined) ?? {});
  for (const n of Object.keys(services)) {
    for (const d of deps(n)) {
      if (!services[d]) throw new ComposeError(`${where(n, ['depends_on'])}: service "${n}" depends on undefined service "${d}": invalid compose project`);
    }
  }
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (n: string, trail: string[]): void => {
    if (state.get(n) === 'done') return;
    if (state.get(n) === 'visiting') throw new ComposeError(`${where(trail[0], ['depends_on'])}: dependency cycle detected: ${[...trail, n].join(' -> ')}`);
    state.set(n, 'visiting');
    for (const d of deps(n)) visit(d, [...trail, n]);
    state.set(n, 'done');
  };
  for (const n of Object.keys(services)) visit(n, []);
}

/** Services in dependency order (dependencies first). */
export function startOrder(services: Record<string, Obj>): string[] {
  const out: string[] = [];
  const visit = (n: string): void => {
    if (out.includes(n)) return;
    for (const d of Object.keys((services[n]?.depends_on as Obj | undefined) ?? {})) if (services[d]) visit(d);
    out.push(n);
  };
  Object.keys(services).sort().forEach(visit);
  return out;
}
