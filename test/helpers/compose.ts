/** `berth compose` and `berth` run against a test daemon, asserting success where asked (compose integration tests). */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { BERTH, type TestDaemon } from './daemon';

export interface ComposeResult { status: number; stdout: string; stderr: string }

/** Commands for project `project` in `dir`; `env()` adds variables at each call (values known only once tests run). */
export function composeHelpers(d: TestDaemon, project: string, dir: string, env: () => NodeJS.ProcessEnv = () => ({})) {
  const compose = (args: string[], extra: NodeJS.ProcessEnv = {}): ComposeResult => {
    const r = spawnSync(BERTH, ['compose', '-p', project, ...args], { cwd: dir, env: { ...d.env, ...env(), ...extra }, timeout: 180_000 });
    return { status: r.status ?? -1, stdout: r.stdout?.toString() ?? '', stderr: r.stderr?.toString() ?? '' };
  };
  /** Both streams: compose's progress goes to stderr. */
  const ok = (args: string[]): string => {
    const r = compose(args);
    assert.equal(r.status, 0, `berth compose ${args.join(' ')}: ${r.stdout}${r.stderr}`);
    return r.stdout + r.stderr;
  };
  const berth = (args: string[]): string => {
    const r = d.berth(args);
    assert.equal(r.status, 0, `berth ${args.join(' ')}: ${r.stderr}`);
    return r.stdout.trim();
  };
  return { compose, ok, berth };
}
