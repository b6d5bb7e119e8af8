/** What /info and /version report about this daemon and its host: read from the machine, not constants. */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readJson, writeJsonAtomic } from '../common/atomic';

/** dockerd's engine ID: made once, kept in the data root, so it survives restarts (clients use it as a key). */
export function engineId(dataRoot: string): string {
  const file = path.join(dataRoot, 'engine-id.json');
  const kept = readJson<{ id?: string }>(file)?.id;
  if (kept) return kept;
  const id = randomUUID();
  writeJsonAtomic(file, { id });
  return id;
}

/** A tool's `--version` output; '' when the binary does not answer. */
function versionText(binary: string): string {
  try {
    return execFileSync(binary, ['--version'], { encoding: 'utf8', timeout: 5000, stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return '';
  }
}

/** `crun --version` → "1.8.1" (the first line's last word); '' when the binary does not answer. */
export function toolVersion(binary: string): string {
  return versionText(binary).split('\n')[0].trim().split(/\s+/).pop() ?? '';
}

/**
 * The commit dockerd reports for a runtime or init (RuncCommit, InitCommit): the "commit:" line of crun/runc, the
 * "- git.X" of tini; '' for a build that names none (Debian's tini), as dockerd.
 */
export function toolCommit(binary: string): string {
  const text = versionText(binary);
  return /^commit:\s*(\S+)/m.exec(text)?.[1] ?? / - git\.(\S+)/.exec(text)?.[1] ?? '';
}

/** Whether memory+swap limits work: cgroup v1 needs swap accounting (memsw files); v2 has memory.swap.max. */
export function swapLimitSupported(cgroupVersion: '1' | '2'): boolean {
  if (cgroupVersion === '1') return fs.existsSync('/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes');
  return fs.readFileSync('/sys/fs/cgroup/cgroup.subtree_control', 'utf8').includes('memory');
}

/** dockerd's host warnings that apply here (the same words; `docker info` prints them). */
export function hostWarnings(swapLimit: boolean): string[] {
  const out: string[] = [];
  if (!swapLimit) out.push('WARNING: No swap limit support');
  if (!sysctlOn('net/ipv4/ip_forward')) out.push('WARNING: IPv4 forwarding is disabled');
  for (const [key, word] of [['net/bridge/bridge-nf-call-iptables', 'iptables'], ['net/bridge/bridge-nf-call-ip6tables', 'ip6tables']]) {
    if (fs.existsSync(`/proc/sys/${key}`) && !sysctlOn(key)) out.push(`WARNING: bridge-nf-call-${word} is disabled`);
  }
  return out;
}

function sysctlOn(key: string): boolean {
  try {
    return fs.readFileSync(`/proc/sys/${key}`, 'utf8').trim() === '1';
  } catch {
    return false;
  }
}
