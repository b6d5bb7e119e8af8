/** What `system check` reports: one finding per broken object or leftover, with its repair when there is a safe one. */

export interface Finding {
  /** blob, layer, image, reference, container, mount, netns, bridge, veth, iptables, cgroup, conmon, runtime, ingest, trash, ... */
  kind: string;
  /** Which one: a digest, id, name or path. */
  object: string;
  problem: string;
  /** A leftover no record needs (repair removes it), as opposed to a record that is broken. */
  orphan: boolean;
  repair?: () => void | Promise<void>;
}

/** The API's answer (GET/POST /system/check). */
export interface CheckReport {
  Checked: { Blobs: number; Layers: number; Images: number; Containers: number };
  Problems: { Kind: string; Object: string; Problem: string; Orphan: boolean; Repairable: boolean; Repaired: boolean; RepairError?: string }[];
  /** Problems left after repair (all of them without repair): the CLI's exit status is non-zero when this is not 0. */
  Remaining: number;
}

export class Findings {
  readonly list: Finding[] = [];

  add(kind: string, object: string, problem: string, repair?: Finding['repair'], orphan = false): void {
    this.list.push({ kind, object, problem, orphan, repair });
  }

  orphan(kind: string, object: string, problem: string, repair: Finding['repair']): void {
    this.add(kind, object, problem, repair, true);
  }
}
