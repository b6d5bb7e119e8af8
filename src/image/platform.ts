/** Platform selection from an image index (docker's platforms.Only / default matcher for linux hosts). */
import type { Descriptor, ImageConfig } from './types';

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

/** Node's process.arch as Go's GOARCH. */
export const goArch = (arch: string = process.arch): string =>
  ({ x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x' })[arch] ?? arch;

export const hostPlatform = (): Platform => ({ os: 'linux', architecture: goArch() });

const ARCH_ALIASES: Record<string, string> = { x86_64: 'amd64', 'x86-64': 'amd64', aarch64: 'arm64', armhf: 'arm', armel: 'arm', i386: '386' };

/** "linux/arm64/v8", "linux/amd64", "arm64" (os defaults to linux); normalized as containerd does. */
export function parsePlatform(s: string): Platform {
  const parts = s.trim().toLowerCase().split('/');
  if (parts.length > 3 || parts.some((p) => !/^[a-z0-9_.-]+$/.test(p))) throw new Error(`invalid platform "${s}": expected os[/arch[/variant]]`);
  const [os, arch0, variant0]: (string | undefined)[] = parts.length === 1 ? ['linux', parts[0]] : parts;
  let architecture = arch0 ?? goArch();
  let variant: string | undefined = variant0;
  if (parts.length === 1 && parts[0] === 'linux') architecture = goArch();
  architecture = ARCH_ALIASES[architecture] ?? architecture;
  if (architecture === 'arm64' && variant === 'v8') variant = undefined;
  if (os !== 'linux') throw new Error(`invalid platform "${s}": only linux images run here`);
  return variant ? { os, architecture, variant } : { os, architecture };
}

export const formatPlatform = (p: Platform): string => [p.os, p.architecture, p.variant].filter(Boolean).join('/');

/** The index entry for a platform: exact variant first, else an entry without a variant (arm64 = arm64/v8). */
export function selectManifest(manifests: Descriptor[], want: Platform): Descriptor | undefined {
  const norm = (v?: string, arch?: string): string | undefined => (arch === 'arm64' && v === 'v8' ? undefined : v);
  const candidates = manifests.filter((m) => m.platform && m.platform.os === want.os && (ARCH_ALIASES[m.platform.architecture] ?? m.platform.architecture) === want.architecture);
  return (
    candidates.find((m) => norm(m.platform?.variant, want.architecture) === want.variant) ??
    (want.variant ? undefined : candidates.find((m) => !m.platform?.variant) ?? candidates[0])
  );
}

/** The platform an image config declares, normalized as parsePlatform (but never refused: any os is reported). */
export function configPlatform(cfg: Pick<ImageConfig, 'os' | 'architecture' | 'variant'>): Platform {
  const architecture = ARCH_ALIASES[cfg.architecture] ?? (cfg.architecture || goArch());
  const variant = architecture === 'arm64' && cfg.variant === 'v8' ? undefined : cfg.variant || undefined;
  return { os: cfg.os || 'linux', architecture, ...(variant ? { variant } : {}) };
}

/** Whether an image of `have` serves a request for `want` (a want without variant takes any variant). */
export const platformMatches = (have: Platform, want: Platform): boolean =>
  have.os === want.os && have.architecture === want.architecture && (!want.variant || have.variant === want.variant);

/** "linux/amd64,linux/arm64" (BuildKit's --platform list): normalized, duplicates dropped, order kept. */
export function parsePlatformList(s: string): Platform[] {
  const seen = new Map<string, Platform>();
  for (const part of s.split(',').map((p) => p.trim()).filter(Boolean)) {
    const p = parsePlatform(part);
    seen.set(formatPlatform(p), p);
  }
  if (!seen.size) throw new Error(`invalid platform "${s}": expected os[/arch[/variant]]`);
  return [...seen.values()];
}
