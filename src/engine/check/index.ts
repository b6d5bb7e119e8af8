/**
 * `berth system check` (GET /system/check, POST /system/check?repair=1): verify the image store, the container
 * records against runtime, mounts and kernel, and find this daemon's leftovers; with repair, remove leftovers and
 * broken images. Scoped to this daemon: its data root, run root, netns prefix, bridges and network ids.
 */
import { log } from '../../common/log';
import type { NetworkService } from '../../network/service';
import { checkContainers, type HostDeps } from './containers';
import { Findings, type CheckReport, type Finding } from './findings';
import { checkImages } from './images';

export type { CheckReport } from './findings';

export interface CheckDeps extends HostDeps {
  networks: NetworkService;
  /** Resolves when removals finishing in the background (runtime deletes after an exit) are done. */
  settled: () => Promise<void>;
}

export class SystemCheck {
  /** One check at a time: two repairs racing would remove the same things twice. */
  private running: Promise<unknown> = Promise.resolve();

  constructor(private readonly d: CheckDeps) {}

  run(repair: boolean): Promise<CheckReport> {
    const next = this.running.then(() => this.once(repair));
    this.running = next.catch(() => undefined);
    return next;
  }

  private async once(repair: boolean): Promise<CheckReport> {
    await this.d.settled(); // what is being removed right now is not a leftover
    const f = new Findings();
    const counts = await checkImages(this.d.images, f);
    const live = await checkContainers(this.d, f);
    for (const l of await this.d.networks.leftovers(live)) f.orphan(l.kind, l.name, l.detail, l.repair);
    const outcome = repair ? await this.repairAll(f.list) : new Map<Finding, string | undefined>();
    const problems = f.list.map((p) => {
      const tried = outcome.has(p);
      const error = outcome.get(p);
      return {
        Kind: p.kind, Object: p.object, Problem: p.problem, Orphan: p.orphan, Repairable: !!p.repair, Repaired: tried && !error,
        ...(error ? { RepairError: error } : {}),
      };
    });
    return {
      Checked: { Blobs: counts.blobs, Layers: counts.layers, Images: counts.images, Containers: this.d.containers.all().length },
      Problems: problems,
      Remaining: problems.filter((p) => !p.Repaired).length,
    };
  }

  /** In finding order (images, containers, runtime, mounts, cgroups, network, trash); a shared repair runs once. */
  private async repairAll(list: Finding[]): Promise<Map<Finding, string | undefined>> {
    const done = new Map<Finding['repair'], string | undefined>();
    const out = new Map<Finding, string | undefined>();
    for (const p of list) {
      if (!p.repair) continue;
      if (!done.has(p.repair)) {
        try {
          await p.repair();
          done.set(p.repair, undefined);
        } catch (e) {
          done.set(p.repair, (e as Error).message);
        }
      }
      out.set(p, done.get(p.repair));
    }
    // pieces of images removed as broken are unreferenced now
    if (!this.d.images.busy()) await this.d.images.repair();
    if (out.size) log.info('system check repaired', { repaired: [...out.values()].filter((e) => !e).length, failed: [...out.values()].filter(Boolean).length });
    return out;
  }
}
