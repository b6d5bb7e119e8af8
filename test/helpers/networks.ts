/**
 * What the network compatibility tests share: docker CLI calls that must succeed, networks made per test and removed
 * at the end, idle busybox containers, API refusals checked by status and wording.
 */
import assert from 'node:assert/strict';
import { TEST_LABEL, type Engine } from './engine';

export interface NetworkFixture {
  /** Every network a test made, removed by removeNetworks (by id: duplicate names are among them). */
  made: Set<string>;
  /** `docker ARGS`, which must succeed: its trimmed stdout. */
  ok(args: string[]): string;
  /** `docker network create` (named after the test run unless a name is given); remembered for cleanup. */
  netCreate(args: string[], name?: string): { id: string; name: string };
  /** A detached busybox that stays up (labelled for cleanup), running `cmd`. */
  runIdle(args: string[], cmd?: string[]): string;
  /**
   * An API refusal: status and message. `peerStatus`: Docker answers this bad input with a 500 (libnetwork's
   * BadRequest errors have no HTTP mapping in Docker 24 or 20.10); Berth's rule is a 4xx for bad input, so only the
   * wording is checked against another engine.
   */
  rejects(p: Promise<unknown>, status: number, message: string | RegExp, peerStatus?: number): Promise<void>;
  removeNetworks(): void;
}

export function networkFixture(e: Engine, tag: string): NetworkFixture {
  const made = new Set<string>();
  let next = 0;
  const ok = (args: string[]): string => {
    const r = e.docker(args);
    assert.equal(r.status, 0, `docker ${args.join(' ')}: ${r.stderr}`);
    return r.stdout.trim();
  };
  return {
    made,
    ok,
    netCreate(args, name = `${tag}-n${next++}`) {
      const id = ok(['network', 'create', '--label', TEST_LABEL, ...args, name]);
      made.add(id);
      return { id, name };
    },
    runIdle: (args, cmd = ['sleep', '600']) => ok(['run', '-d', '--label', TEST_LABEL, ...args, 'busybox', ...cmd]),
    async rejects(p, status, message, peerStatus) {
      await assert.rejects(p, (err: { statusCode?: number; json?: { message?: string } }) => {
        assert.equal(err.statusCode, e.external && peerStatus ? peerStatus : status);
        if (typeof message === 'string') assert.equal(err.json?.message, message);
        else assert.match(err.json?.message ?? '', message);
        return true;
      });
    },
    removeNetworks() {
      for (const id of made) e.docker(['network', 'rm', id]);
    },
  };
}
