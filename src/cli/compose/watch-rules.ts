/**
 * `develop.watch` as rules (pure but for reading .dockerignore): which host paths a rule covers (its path, less its
 * `ignore`, the build context's .dockerignore, .git and editors' temporary files) and where a path lands in the
 * container, and what a batch of changed paths asks of each service, as compose v2 decides it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { IgnoreMatcher } from '../../build/context';
import type { Obj, Project } from './loader';

export type WatchAction = 'sync' | 'rebuild' | 'restart' | 'sync+restart';

export interface WatchRule {
  service: string;
  action: WatchAction;
  /** Absolute host path (a directory or a file). */
  path: string;
  target?: string;
  initialSync: boolean;
  /** Patterns relative to `path`. */
  ignore: IgnoreMatcher;
  include?: IgnoreMatcher;
  /** The build context's .dockerignore, patterns relative to `context`. */
  dockerignore?: { context: string; matcher: IgnoreMatcher };
}

export interface PathMapping { host: string; container: string }

/** Editors' and tools' temporary files, never synced (compose's ephemeral path matcher). */
const EPHEMERAL = [/___jb_(old|tmp)___$/, /^\.#/, /^#.*#$/, /^4913$/, /~$/, /^\..*\.(swp|swx|swo|swn|kate-swp)$/, /^go-build/];

/** `relPath`: slash-separated, below a rule's path (the directories above it are the user's business). */
export function isEphemeral(relPath: string): boolean {
  const parts = relPath.split('/');
  const base = parts[parts.length - 1];
  return parts.includes('.git') || parts.includes('.idea') || EPHEMERAL.some((re) => re.test(base));
}

/** A context's .dockerignore as compose reads it for watch: `<Dockerfile>.dockerignore` first, else `.dockerignore`. */
function dockerignore(build: Obj | undefined): WatchRule['dockerignore'] {
  if (!build) return undefined;
  const context = String(build.context);
  for (const name of [`${String(build.dockerfile ?? 'Dockerfile')}.dockerignore`, '.dockerignore']) {
    const file = path.resolve(context, name);
    if (fs.existsSync(file)) return { context, matcher: IgnoreMatcher.fromText(fs.readFileSync(file, 'utf8')) };
  }
  return undefined;
}

/** Patterns as .dockerignore lines (a trailing "/" dropped, a leading one too). */
const patterns = (list: string[]): IgnoreMatcher => IgnoreMatcher.fromText(list.join('\n'));

/** Whether `host` is `dir` or below it. */
export const within = (dir: string, host: string): boolean => host === dir || host.startsWith(dir.endsWith(path.sep) ? dir : dir + path.sep);

/** The rules of the selected services; a sync path also bind-mounted is not watched (compose warns the same). */
export function watchRules(p: Project, services: string[]): { rules: WatchRule[]; warnings: string[] } {
  const rules: WatchRule[] = [];
  const warnings: string[] = [];
  for (const service of services) {
    const svc = p.model.services[service];
    const watch = ((svc.develop as Obj | null | undefined)?.watch as Obj[] | undefined) ?? [];
    const binds = ((svc.volumes as Obj[] | undefined) ?? []).filter((v) => v.type === 'bind').map((v) => String(v.source));
    for (const w of watch) {
      const action = w.action as WatchAction;
      if (action === 'rebuild' && !svc.build) throw new Error(`can't watch service "${service}" with action rebuild without a build context`);
      if (action !== 'rebuild' && action !== 'restart' && w.target === undefined) {
        throw new Error(`services.${service}.develop.watch: target is required for sync and sync+restart actions: invalid compose project`);
      }
      const hostPath = String(w.path);
      if (action.startsWith('sync') && binds.some((b) => within(b, hostPath))) {
        warnings.push(`path '${hostPath}' also declared by a bind mount volume, this path won't be monitored!`);
        continue;
      }
      const include = w.include as string[] | undefined;
      rules.push({
        service, action, path: hostPath, target: w.target as string | undefined, initialSync: w.initial_sync === true,
        ignore: patterns((w.ignore as string[] | undefined) ?? []), include: include ? patterns(include) : undefined,
        dockerignore: dockerignore(svc.build as Obj | undefined),
      });
    }
  }
  return { rules, warnings };
}

const rel = (from: string, to: string): string => path.relative(from, to).split(path.sep).join('/');

/** Where `host` goes in the container under `rule` ('' for a rule without target), or undefined when the rule does not cover it. */
export function mapPath(rule: WatchRule, host: string): string | undefined {
  if (!within(rule.path, host)) return undefined;
  const r = rel(rule.path, host);
  if (isEphemeral(r)) return undefined;
  if (rule.include && !rule.include.matches(r)) return undefined;
  if (rule.ignore.matches(r)) return undefined;
  const di = rule.dockerignore;
  if (di && within(di.context, host) && di.matcher.matches(rel(di.context, host))) return undefined;
  return rule.target === undefined ? '' : path.posix.join(rule.target, r);
}

export interface BatchPlan {
  rebuild: string[];
  sync: Map<string, PathMapping[]>;
  restart: string[];
}

/** What a batch of changed host paths asks: services to rebuild, paths to sync per service, services to restart. */
export function planBatch(rules: WatchRule[], paths: Iterable<string>): BatchPlan {
  const rebuild = new Set<string>();
  const restart = new Set<string>();
  const sync = new Map<string, PathMapping[]>();
  for (const host of paths) {
    for (const rule of rules) {
      const container = mapPath(rule, host);
      if (container === undefined) continue;
      if (rule.action === 'rebuild') rebuild.add(rule.service);
      if (rule.action === 'restart' || rule.action === 'sync+restart') restart.add(rule.service);
      if (rule.action.startsWith('sync')) {
        const list = sync.get(rule.service) ?? [];
        if (!list.some((m) => m.container === container)) list.push({ host, container });
        sync.set(rule.service, list);
      }
    }
  }
  return { rebuild: [...rebuild], sync, restart: [...restart] };
}

/** The files below a sync rule's path for its initial sync (a file rule: the file), less what the rule ignores. */
export function initialFiles(rule: WatchRule): PathMapping[] {
  const out: PathMapping[] = [];
  const walk = (dir: string): void => {
    for (const name of fs.readdirSync(dir).sort()) {
      const host = path.join(dir, name);
      const container = mapPath(rule, host);
      if (container === undefined) continue;
      if (fs.lstatSync(host).isDirectory()) walk(host);
      else out.push({ host, container });
    }
  };
  const st = fs.statSync(rule.path, { throwIfNoEntry: false });
  if (st?.isDirectory()) walk(rule.path);
  else if (st) out.push({ host: rule.path, container: String(rule.target) });
  return out;
}
