/** Who waits for a container: docker's `wait` conditions, and the exit listeners of stop, kill and rm. */
export type WaitCondition = 'not-running' | 'next-exit' | 'removed';

interface Waiter {
  condition: WaitCondition;
  resolve: (code: number) => void;
}

export class Waiters {
  private readonly waiters = new Map<string, Waiter[]>();
  private readonly exitListeners = new Map<string, Array<() => void>>();

  /** Resolves with the exit code when `wake` is called with the condition. */
  wait(id: string, condition: WaitCondition): Promise<number> {
    return new Promise((resolve) => {
      const list = this.waiters.get(id) ?? [];
      list.push({ condition, resolve });
      this.waiters.set(id, list);
    });
  }

  wake(id: string, code: number, conditions: WaitCondition[]): void {
    const list = this.waiters.get(id) ?? [];
    const keep = list.filter((w) => {
      if (!conditions.includes(w.condition)) return true;
      w.resolve(code);
      return false;
    });
    if (keep.length) this.waiters.set(id, keep);
    else this.waiters.delete(id);
  }

  /** Resolves at the container's next exit. */
  nextExit(id: string): Promise<void> {
    return new Promise((resolve) => {
      const list = this.exitListeners.get(id) ?? [];
      list.push(resolve);
      this.exitListeners.set(id, list);
    });
  }

  exitedNow(id: string): void {
    for (const cb of this.exitListeners.get(id) ?? []) cb();
    this.exitListeners.delete(id);
  }
}
