/**
 * Platforms of a build: which platform each stage builds for (`FROM --platform=...`, else the stage it starts from,
 * else the target) and whether RUN can execute there (the host's own, or a qemu binfmt_misc handler registered with
 * the F flag, as Debian's qemu-user-static sets up, so that containers find the interpreter without bind mounts).
 */
import * as fs from 'node:fs';
import { formatPlatform, parsePlatform, platformMatches, type Platform } from '../image/platform';
import { DockerfileError } from './parser';
import type { BuildPlan } from './planner';

/** The platform each stage of the plan builds for, by stage index; a bad `--platform` names its FROM line. */
export function stagePlatforms(plan: BuildPlan, target: Platform): Platform[] {
  const out: Platform[] = [];
  for (const s of plan.stages) {
    if (s.from.platform) {
      try {
        out.push(parsePlatform(s.from.platform));
      } catch (e) {
        throw new DockerfileError(s.from.loc.file, s.from.loc.startLine, (e as Error).message, 'FROM');
      }
    } else {
      out.push(s.base.kind === 'stage' ? out[s.base.index] : target);
    }
  }
  return out;
}

/** qemu's name for a GOARCH (the binfmt_misc entry is qemu-<name>). */
const QEMU_NAMES: Record<string, string> = {
  amd64: 'x86_64', arm64: 'aarch64', arm: 'arm', '386': 'i386', ppc64le: 'ppc64le', ppc64: 'ppc64', s390x: 's390x',
  riscv64: 'riscv64', mips64le: 'mips64el', mips64: 'mips64', mipsle: 'mipsel', mips: 'mips', loong64: 'loongarch64',
};

const BINFMT = '/proc/sys/fs/binfmt_misc';

/** Whether programs of `p` run on this host: natively, or through an enabled qemu binfmt_misc handler. */
export function canRun(p: Platform, host: Platform, binfmtDir = BINFMT): boolean {
  if (platformMatches(p, { os: host.os, architecture: host.architecture })) return true;
  const name = QEMU_NAMES[p.architecture];
  if (!name) return false;
  try {
    return fs.readFileSync(`${binfmtDir}/qemu-${name}`, 'utf8').split('\n')[0] === 'enabled';
  } catch {
    return false;
  }
}

/** The error for a RUN on a platform this host cannot execute. */
export function noEmulator(p: Platform, host: Platform): string {
  const name = QEMU_NAMES[p.architecture];
  return `no emulator for ${formatPlatform(p)} (this builder runs ${formatPlatform(host)}): ` +
    (name ? `no enabled qemu-${name} handler in ${BINFMT}; scripts/setup.sh installs qemu-user-static and registers its handlers` : 'qemu has no emulator for it');
}
