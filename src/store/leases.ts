/**
 * Leases keep pieces (blob digests, layer diffIDs) that an operation in progress has written or reused but not yet
 * recorded in an image safe from a concurrent remove/prune. Add a key before the step that makes or reuses it.
 */
export class Lease {
  readonly keys = new Set<string>();
  constructor(private readonly owner: Leases) {}
  add(key: string): void {
    this.keys.add(key);
  }
  release(): void {
    this.owner.active.delete(this);
  }
}

export class Leases {
  readonly active = new Set<Lease>();
  acquire(): Lease {
    const l = new Lease(this);
    this.active.add(l);
    return l;
  }
  has(key: string): boolean {
    for (const l of this.active) if (l.keys.has(key)) return true;
    return false;
  }
}
