/**
 * `compose build` of one service through `berth build` (POST /build), tagged as compose names it: args, target,
 * build secrets (`--secret`), cache_from (`--cache-from`) and platforms (`--platform`, the builder's own checks apply).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { absoluteCachePaths } from '../../build/buildflags';
import type { Ctx } from '../cli';
import { parseFlags } from '../flags';
import { build as buildCommand } from '../commands/build';
import { imageName } from './convert';
import { progress } from './engine';
import type { Obj, Project } from './loader';

export interface BuildPlan {
  argv: string[];
  /** Files to write (mode 0600) into the private directory before the build: an inline Dockerfile, secret contents. */
  files: { path: string; content: string }[];
}

/**
 * The platforms to build for (`--platform`, a list makes one image per platform under an index): build.platforms,
 * which must hold the service's `platform` when both are set, else the service's `platform`. The builder refuses
 * what it cannot run (no qemu handler for a foreign platform).
 */
function buildPlatforms(p: Project, service: string): string | undefined {
  const svc = p.model.services[service];
  const platforms = ((svc.build as Obj).platforms as string[] | undefined) ?? [];
  const own = svc.platform as string | undefined;
  if (own && platforms.length && !platforms.includes(own)) {
    throw new Error(`service.platform ${JSON.stringify(own)} should be part of the service.build.platforms: ${JSON.stringify(platforms)}`);
  }
  return platforms.length ? platforms.join(',') : own;
}

/** The `berth build` arguments for a service; `dir` is a private directory for the files the plan lists. */
export function buildPlan(p: Project, service: string, dir: string, noCache = false): BuildPlan {
  const b = p.model.services[service].build as Obj;
  const files: BuildPlan['files'] = [];
  let dockerfile = String(b.dockerfile);
  if (b.dockerfile_inline !== undefined) files.push({ path: (dockerfile = path.join(dir, 'Dockerfile')), content: String(b.dockerfile_inline) });
  const argv = ['-t', imageName(p, service), '-f', dockerfile, '-q'];
  for (const [k, v] of Object.entries((b.args as Obj | undefined) ?? {})) argv.push('--build-arg', v === null ? k : `${k}=${String(v)}`);
  if (b.target) argv.push('--target', String(b.target));
  if (noCache) argv.push('--no-cache');
  // images, or type=registry|local specs (a local src relative to the project directory), checked by `build`
  for (const spec of (b.cache_from as string[] | undefined) ?? []) argv.push('--cache-from', absoluteCachePaths(spec, p.workingDir));
  const platform = buildPlatforms(p, service);
  if (platform) argv.push('--platform', platform);
  // as compose: the id is the target if given, else the secret's name; a file source is read by `build`, other
  // sources (environment, content: read by the loader) go through a private file
  for (const ref of (b.secrets as (string | Obj)[] | undefined) ?? []) {
    const r = typeof ref === 'string' ? { source: ref } : ref;
    const def = ((p.model.secrets as Obj | undefined)?.[String(r.source)] as Obj | undefined);
    if (!def) throw new Error(`service "${service}" refers to undefined build secret ${String(r.source)}: invalid compose project`);
    const id = String(r.target ?? r.source);
    let src = typeof def.file === 'string' ? path.resolve(p.workingDir, def.file) : undefined;
    if (src === undefined) {
      if (typeof def.content !== 'string') throw new Error(`service "${service}": build secret ${String(r.source)}: only file, environment and content sources are supported`);
      files.push({ path: (src = path.join(dir, `secret-${files.length}`)), content: def.content });
    }
    argv.push('--secret', `id=${id},src=${src}`);
  }
  return { argv: [...argv, String(b.context)], files };
}

/**
 * Builds a service's image. `build -q` prints the image id, which compose does not: that one line is held back, the
 * rest of stdout (logs followed meanwhile by `up --watch`) goes on.
 */
export async function buildService(ctx: Ctx, p: Project, service: string, noCache = false): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-compose-'));
  const saved = process.stdout.write.bind(process.stdout);
  try {
    const plan = buildPlan(p, service, dir, noCache);
    for (const f of plan.files) fs.writeFileSync(f.path, f.content, { mode: 0o600 });
    progress('Image', imageName(p, service), 'Building');
    process.stdout.write = ((chunk: unknown, ...rest: never[]) => (/^sha256:[0-9a-f]{64}\n$/.test(String(chunk)) || saved(chunk as string, ...rest))) as typeof process.stdout.write;
    await buildCommand.run(ctx, parseFlags(plan.argv, buildCommand.flags));
  } finally {
    process.stdout.write = saved;
    fs.rmSync(dir, { recursive: true, force: true });
  }
  progress('Image', imageName(p, service), 'Built');
}
