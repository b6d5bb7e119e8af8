/**
 * Shared by the BuildKit-feature build tests: the engine (own berthd, or Docker with BERTH_COMPAT_DOCKER_HOST), the
 * berth CLI against it, context dirs, and the check that a build left nothing behind.
 */
import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BERTH, type RunResult } from './daemon';
import { compatEngine, type Engine } from './engine';

export interface BuildHarness {
  e: Engine;
  tmp: string;
  TAG: string;
  NO_MOUNT: string | false;
  BERTH_ONLY: string | false;
  berth(args: string[], env?: NodeJS.ProcessEnv): RunResult;
  /** The berth CLI without blocking this process (a loopback server in it must answer). */
  asyncBerth(args: string[]): Promise<RunResult>;
  context(name: string, files: Record<string, string>): string;
  ok(r: RunResult, what: string): RunResult;
  assertNothingLeft(): void;
  /** Registers the file's before/after hooks. */
  lifecycle(tags: string[]): void;
}

export function buildHarness(name: string): BuildHarness {
  const e = compatEngine(name);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), `berth-${name}-test-`));
  const NO_MOUNT = e.external ? "Docker's legacy builder has no RUN --mount / --secret (BuildKit only)" : false;
  const BERTH_ONLY = e.external ? 'a Berth-only check (Docker ignores it or has no such state)' : false;
  const TAG = `${name}${process.pid}`;

  function berth(args: string[], env: NodeJS.ProcessEnv = {}): RunResult {
    const r = spawnSync(BERTH, args, { env: { ...e.env, ...env }, timeout: 120_000 });
    return { status: r.status ?? -1, stdout: r.stdout?.toString() ?? '', stderr: r.stderr?.toString() ?? '' };
  }

  const context = (dir: string, files: Record<string, string>): string => writeContext(path.join(tmp, dir), files);

  const ok = (r: RunResult, what: string): RunResult => {
    assert.equal(r.status, 0, `${what} failed:\n${r.stdout}\n${r.stderr}`);
    return r;
  };

  /** Nothing a build may leave: containers, and (Berth) scratch dirs, secrets, half-made cache mounts, mounts. */
  function assertNothingLeft(): void {
    assert.equal(e.docker(['ps', '-aq', '--filter', `ancestor=${TAG}`]).stdout.trim(), '');
    if (e.external) return;
    const daemon = e as unknown as { dataRoot: string; execRoot: string };
    assert.equal(berth(['ps', '-aq']).stdout.trim(), '', 'no container left');
    assert.deepEqual(fs.readdirSync(path.join(daemon.dataRoot, 'build/tmp')), [], 'no scratch left');
    assert.deepEqual(fs.readdirSync(path.join(daemon.dataRoot, 'build/mounts/.tmp')), [], 'no half-made cache');
    const secrets = path.join(daemon.execRoot, 'build-secrets');
    assert.deepEqual(fs.existsSync(secrets) ? fs.readdirSync(secrets) : [], [], 'no secret files left');
    const agents = spawnSync('pgrep', ['-f', `ssh-agent -D -a ${path.join(daemon.execRoot, 'build-secrets')}`]).stdout.toString().trim();
    assert.equal(agents, '', 'no ssh-agent of a build left');
    const mounts = fs.readFileSync('/proc/self/mountinfo', 'utf8');
    assert.ok(!mounts.includes(path.join(daemon.dataRoot, 'build')), 'no mount left under build/');
  }

  const asyncBerth = (args: string[]): Promise<RunResult> => berthAsync(args, e.env);

  /** The engine up with busybox before the file's tests; the given tags, the engine and the scratch dir gone after. */
  function lifecycle(tags: string[]): void {
    before(async () => {
      await e.start();
      e.importBusybox();
    });
    after(async () => {
      for (const t of tags) e.docker(['rmi', '-f', `${TAG}-${t}`]);
      await e.stop();
      fs.rmSync(tmp, { recursive: true, force: true });
    });
  }

  return { e, tmp, TAG, NO_MOUNT, BERTH_ONLY, berth, asyncBerth, context, ok, assertNothingLeft, lifecycle };
}

/** A build context dir from a map of relative path -> content. */
export function writeContext(dir: string, files: Record<string, string>): string {
  fs.mkdirSync(dir, { recursive: true });
  for (const [rel, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), content);
  }
  return dir;
}

/** The berth CLI without blocking this process (a loopback server in it must answer). */
export function berthAsync(args: string[], env: NodeJS.ProcessEnv): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(BERTH, args, { env }, (err, stdout, stderr) => {
      resolve({ status: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}
