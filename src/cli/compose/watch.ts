/**
 * The watch loop of `compose watch` and `up --watch`: fs.watch (recursive; Node 20 and Deno both do it on Linux, so no
 * dependency) on each rule's path, events gathered until 500 ms pass without one (compose's quiet period), then
 * per batch: rebuild (build, recreate), sync (copy and delete in the containers), restart (both also restarting the
 * services that declare `depends_on.<svc>.restart: true`). Batches run one at a time;
 * a failed batch is a warning and the watch goes on, as compose's.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { EngineClient } from '../../client/engine';
import { imageName, L } from './convert';
import { nameOf, progress, projectContainers, withRestartDependents } from './engine';
import type { Project } from './loader';
import { syncService } from './sync';
import { up } from './up';
import { initialFiles, planBatch, watchRules, within } from './watch-rules';

const QUIET_PERIOD_MS = 500;

export interface WatchOptions {
  services: string[];
  buildImage(service: string): Promise<void>;
  /** Remove a rebuilt service's previous image when nothing else names it (watch --prune). */
  prune: boolean;
  /** Called with the ids of containers a rebuild made (up --watch follows their logs). */
  onRecreated?(ids: string[]): void;
}

/** Go's %q of a []string, as compose prints service lists: ["a" "b"]. */
const quoted = (list: string[]): string => `[${list.map((s) => JSON.stringify(s)).join(' ')}]`;
const say = (line: string): void => void process.stdout.write(`${line}\n`);
const warn = (line: string): void => void process.stderr.write(`WARN[0000] ${line}\n`);

/** The directories to watch: a rule's directory, or the parent of a file (editors replace files by renaming). */
export function watchRoots(paths: string[]): { dir: string; recursive: boolean }[] {
  const roots = paths.map((p) => (fs.statSync(p, { throwIfNoEntry: false })?.isDirectory() ? { dir: p, recursive: true } : { dir: path.dirname(p), recursive: false }));
  // recursive ones first, outermost first: a root inside one already kept is left out
  roots.sort((a, b) => Number(b.recursive) - Number(a.recursive) || a.dir.length - b.dir.length);
  const kept: typeof roots = [];
  for (const r of roots) if (!kept.some((k) => k.dir === r.dir || (k.recursive && within(k.dir, r.dir)))) kept.push(r);
  return kept;
}

async function rebuild(client: EngineClient, p: Project, services: string[], o: WatchOptions): Promise<void> {
  say(`Rebuilding service(s) ${quoted(services)} after changes were detected...`);
  const imageId = async (s: string): Promise<string | undefined> => (await client.request<{ Id: string }>('GET', `/images/${encodeURIComponent(imageName(p, s))}/json`).catch(() => undefined))?.Id;
  const before = new Map<string, string | undefined>();
  for (const s of services) {
    before.set(s, await imageId(s));
    await o.buildImage(s);
  }
  say(`service(s) ${quoted(services)} successfully built`);
  const ids = await up(client, p, {
    build: false, forceRecreate: true, noRecreate: false, noStart: false, removeOrphans: false, scale: {}, services, noDeps: true, buildImage: o.buildImage,
  });
  o.onRecreated?.(ids);
  await restart(client, p, services, true);
  if (!o.prune) return;
  for (const [s, old] of before) {
    if (!old || old === await imageId(s)) continue;
    const tags = (await client.request<{ RepoTags?: string[] }>('GET', `/images/${old}/json`).catch(() => undefined))?.RepoTags;
    if (tags && !tags.length) await client.request('DELETE', `/images/${old}`).catch(() => undefined);
  }
}

/**
 * Restarts `services` (unless `dependentsOnly`) and, after them, the services declaring `depends_on.<svc>.restart: true`
 * on one restarted, as compose's restart does.
 */
async function restart(client: EngineClient, p: Project, services: string[], dependentsOnly = false): Promise<void> {
  const list = await projectContainers(client, p.name);
  for (const s of withRestartDependents(list, services).filter((x) => !dependentsOnly || !services.includes(x))) {
    for (const c of list.filter((x) => x.Labels?.[L.service] === s)) {
      progress('Container', nameOf(c), 'Restarting');
      await client.request('POST', `/containers/${c.Id}/restart`);
      progress('Container', nameOf(c), 'Started');
    }
  }
}

/**
 * Starts watching the selected services' develop.watch paths (after each sync rule's initial_sync); resolves once
 * the watch is on ("Watch enabled") with a function that ends it.
 */
export async function startWatch(client: EngineClient, p: Project, o: WatchOptions): Promise<() => void> {
  const { rules, warnings } = watchRules(p, o.services);
  warnings.forEach(warn);
  if (!rules.length) throw new Error("none of the selected services is configured for watch, consider setting a 'develop' section");
  for (const rule of rules.filter((r) => r.initialSync && r.action.startsWith('sync'))) {
    await syncService(client, p.name, rule.service, initialFiles(rule));
  }
  const pending = new Set<string>();
  let timer: NodeJS.Timeout | undefined;
  let queue = Promise.resolve();
  const handle = async (batch: string[]): Promise<void> => {
    const plan = planBatch(rules, batch);
    try {
      if (plan.rebuild.length) await rebuild(client, p, plan.rebuild, o);
      for (const [service, mappings] of plan.sync) {
        say(`Syncing service ${JSON.stringify(service)} after ${mappings.length} changes were detected`);
        await syncService(client, p.name, service, mappings);
      }
      if (plan.restart.length) {
        await restart(client, p, plan.restart);
        say(`service(s) ${quoted(plan.restart)} restarted`);
      }
    } catch (e) {
      warn(`Error handling changed files: ${(e as Error).message}`);
    }
  };
  const flush = (): void => {
    const batch = [...pending];
    pending.clear();
    queue = queue.then(() => handle(batch));
  };
  const watchers = watchRoots(rules.map((r) => r.path)).map(({ dir, recursive }) => fs.watch(dir, { recursive }, (_event, name) => {
    if (name === null) return;
    pending.add(path.join(dir, name.toString()));
    clearTimeout(timer);
    timer = setTimeout(flush, QUIET_PERIOD_MS);
  }).on('error', (e) => warn(`Watch disabled with errors: ${e.message}`)));
  say('Watch enabled');
  return () => {
    clearTimeout(timer);
    for (const w of watchers) w.close();
  };
}
