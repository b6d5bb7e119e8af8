/**
 * Leases keep pieces (blob digests, layer diffIDs) that an operation in progress has written or reused but not yet
 * recorded in an image safe from a concurrent remove/prune. Keys are `blob:<digest>` and `layer:<diffID>`, added in
 * the same tick as the step that makes or reuses the piece.
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
  /** Is the key held by an active lease (other than `except`)? */
  has(key: string, except?: Lease): boolean {
    for (const l of this.active) if (l !== except && l.keys.has(key)) return true;
    return false;
  }
}
