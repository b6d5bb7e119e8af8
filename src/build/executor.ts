/**
 * Runs a build plan against the engine: stages level by level (independent stages in parallel, unused ones skipped),
 * each instruction a step that is either found in the cache or executed (RUN in a container, COPY/ADD into a layer,
 * everything else into the config only), each step's result an image whose parent is the previous step, as docker's
 * legacy builder does. Output is docker's legacy builder output.
 * Over ~400 lines: a step's cache lookup, execution and commit share the stage's state; its parts (planner, cache keys,
 * run mounts, cache-from) are modules already.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { shortId } from '../common/ids';
import { readInRoot } from '../common/rootpath';
import type { ContainerService } from '../engine/containers/service';
import { familiarString, parseNormalizedNamed, tagNameOnly, validateTag, type Reference } from '../image/reference';
import type { ImageService } from '../image/service';
import type { ImageRecord } from '../image/store';
import { configPlatform, formatPlatform, hostPlatform, type Platform } from '../image/platform';
import type { ContainerConfig } from '../schema/container';
import { diffTar, tarBytes } from '../store/diff';
import { BuildCache } from './cache';
import { CacheFromSources, onTheWay, type StepOutcome } from './cachefrom';
import { INLINE_CACHE_KEY, chainOf, inlineCacheOf, type CachedStep } from './cacheformat';
import type { CacheSpec } from './buildflags';
import { exportCache, importCache, type ImportedCache, type OpenRepository } from './cacheio';
import { stepCacheKey } from './cachekey';
import { CacheMounts, type CacheRecord } from './cachemounts';
import { commitImage, commitLayer, loadState, scratchState, type ImageState, type NewLayer } from '../image/commit';
import { IgnoreMatcher } from './context';
import { copyEntries, planCopy, type CopySourceRoot } from './copy';
import { StageScope } from './expand';
import { DEFAULT_SHELL, applyMetadata, createdBy, runText, type StageFacts } from './imageconfig';
import { evaluateInstruction, parseOnbuildTrigger, runCommandLine, type Instruction } from './instructions';
import { OrderedOutput, type Emit, type Write } from './output';
import { DockerfileError } from './parser';
import { planBuild, platformArgs, type BuildPlan, type FromRef, type PlannedStage } from './planner';
import { canRun, noEmulator, stagePlatforms } from './platforms';
import { withRootfs } from './rootfs';
import { runContainer } from './run';
import { atLine, mountSourcesKey, prepareRunMounts, runMounts, stubSkipper, type SshSource } from './runmounts';

export interface BuilderDeps {
  images: ImageService;
  containers: ContainerService;
  /** The builder's own directory (cache, scratch space, cache mounts), e.g. <data-root>/build. */
  root: string;
  /** A directory on a tmpfs for RUN secrets (under the exec root), never on disk. */
  secretsRoot: string;
  /** berthd --allow-insecure-entitlement values. */
  entitlements: readonly string[];
  /** Registry access for `type=registry` cache import and export. */
  openRepository?: OpenRepository;
}

export interface BuildRequest {
  contextDir: string;
  /** Path of the Dockerfile inside the context. */
  dockerfile: string;
  tags: string[];
  buildArgs: Record<string, string>;
  target?: string;
  noCache: boolean;
  /** `--cache-from` images: cache sources besides the steps this builder made (unknown ones are skipped, as docker). */
  cacheFrom: string[];
  /** `--cache-from type=local|registry,...`: exported caches to take steps from (one that cannot be read is a warning). */
  cacheImports: CacheSpec[];
  /** `--cache-to type=local|registry|inline,...`: where this build's steps go. */
  cacheExports: CacheSpec[];
  labels: Record<string, string>;
  /** RUN's network unless the instruction says otherwise: default | none | host | a network name. */
  network: string;
  extraHosts: string[];
  rm: boolean;
  forceRm: boolean;
  quiet: boolean;
  /** `--platform`: the host's when empty; more than one makes a multi-platform image (an OCI index). */
  platforms: Platform[];
  /** `--secret` values by id (RUN --mount=type=secret). */
  secrets: ReadonlyMap<string, Buffer>;
  /** `--ssh` sources by id (RUN --mount=type=ssh). */
  ssh: ReadonlyMap<string, SshSource>;
}

/** A build failure; `code` is the exit status docker's CLI takes (a failed RUN's exit code). */
export class BuildError extends Error {
  constructor(message: string, readonly code?: number) {
    super(message);
  }
}

const SOURCE_DATE_EPOCH = 'SOURCE_DATE_EPOCH';

function parseEpoch(value: string | undefined): number | undefined {
  if (value === undefined || value === '') return undefined;
  if (!/^\d+$/.test(value)) throw new BuildError(`invalid SOURCE_DATE_EPOCH ${JSON.stringify(value)}: must be seconds since the epoch`);
  return Number(value);
}

/** Lines only the classic builder prints (image ids, intermediate containers): not a step's output for BuildKit. */
const CLASSIC = { classic: true } as const;

/** The instructions BuildKit makes a vertex of (the others only change the image config). */
const FILESYSTEM_STEPS = new Set<Instruction['kind']>(['RUN', 'COPY', 'ADD', 'WORKDIR']);

const describeCacheSpec = (spec: CacheSpec): string => [`type=${spec.type}`, ...Object.entries(spec.attrs).map(([k, v]) => `${k}=${v}`)].join(',');

/** "Dockerfile:3: unknown instruction: RUNN" and the line itself, so the user sees what was read. */
function describeDockerfileError(e: DockerfileError, text: string): string {
  const line = text.split('\n')[e.line - 1];
  return line === undefined ? e.message : `${e.message}\n  ${String(e.line).padStart(4)} | ${line}`;
}

/** A step's parent in its cache key: the image, or `scratch` of the stage's platform (same steps, other images). */
const parentKey = (state: ImageState): string => state.id ?? `scratch ${formatPlatform(configPlatform(state.config))}`;

/** Every step a build made or reused, for --cache-to (shared by the platforms of one build). */
interface StepLog {
  steps: CachedStep[];
  /** Step key by the image it made (a step's parent key; the final image's: the last step of its chain). */
  keyOf: Map<string, string>;
}

interface StageRun {
  stage: PlannedStage;
  write: Write;
  stepNo: () => number;
}

export class Builder {
  private readonly cache: BuildCache;
  private readonly cacheMounts: CacheMounts;
  private readonly tmp: string;

  constructor(private readonly d: BuilderDeps) {
    this.cache = new BuildCache(path.join(d.root, 'cache'));
    this.cacheMounts = new CacheMounts(path.join(d.root, 'mounts'));
    fs.rmSync(d.secretsRoot, { recursive: true, force: true });
    this.tmp = path.join(d.root, 'tmp');
    fs.rmSync(this.tmp, { recursive: true, force: true }); // what a crashed build left
    fs.mkdirSync(this.tmp, { recursive: true });
  }

  /**
   * POST /build/prune: remove unused cache mounts (last used before `before`; beyond `keepStorage` bytes) and forget
   * cached steps (with `all`, or when no cap is set). The layers cached steps point at are images of the store,
   * reclaimed by image prune once nothing else holds them.
   */
  async prune(opts: { before?: number; keepStorage?: number; all: boolean }): Promise<{ CachesDeleted: string[]; SpaceReclaimed: number }> {
    const mounts = await this.cacheMounts.prune(opts);
    const steps = opts.all || opts.keepStorage === undefined ? this.cache.prune(opts.before) : [];
    return { CachesDeleted: [...mounts.removed, ...steps], SpaceReclaimed: mounts.reclaimed };
  }

  /** GET /system/df's BuildCache: the cache mounts. */
  cacheRecords(): Promise<CacheRecord[]> {
    return this.cacheMounts.records();
  }

  /** A scratch dir for one build's context and temp files (removed by the caller with `release`). */
  scratch(): string {
    return fs.mkdtempSync(path.join(this.tmp, 'b-'));
  }

  /** Validated tags (errors before any work, with docker's wording). */
  static parseTags(tags: readonly string[]): Reference[] {
    return tags.map((t) => {
      try {
        const named = parseNormalizedNamed(t);
        if (named.digest) throw new Error('cannot tag with a digest');
        return named.tag ? { ...named, tag: validateTag(named.tag) } : tagNameOnly(named);
      } catch (e) {
        throw new BuildError(`invalid tag ${JSON.stringify(t)}: ${(e as Error).message}`);
      }
    });
  }

  /**
   * Runs a build, once per platform (a multi-platform image from several); returns the image ID (of the entry tags
   * show for a multi-platform image). Errors before the first message are thrown as is (an HTTP error).
   */
  async build(req: BuildRequest, emit: Emit): Promise<string> {
    const tags = Builder.parseTags(req.tags);
    // Both are read inside the context, symlinks resolved there (as docker's FollowSymlinkInScope): a context whose
    // Dockerfile is a symlink to a host file must not get that file's text back in an error.
    let text: string | undefined;
    try {
      text = readInRoot(req.contextDir, req.dockerfile);
    } catch {
      text = undefined;
    }
    if (text === undefined) throw new BuildError(`Cannot locate specified Dockerfile: ${req.dockerfile}`);
    const ignore = IgnoreMatcher.fromText(readInRoot(req.contextDir, '.dockerignore') ?? '');
    const epoch = parseEpoch(req.buildArgs[SOURCE_DATE_EPOCH]);
    const host = hostPlatform();
    const targets = req.platforms.length ? req.platforms : [host];
    const write = (s: string): void => {
      if (!req.quiet) emit({ stream: s });
    };
    const imported: ImportedCache[] = [];
    try {
      for (const spec of req.cacheImports) {
        try {
          imported.push(await importCache(spec, this.d.openRepository));
        } catch (e) {
          write(`[Warning] importing cache from ${describeCacheSpec(spec)} failed: ${(e as Error).message}\n`);
        }
      }
      const log: StepLog = { steps: [], keyOf: new Map() };
      const ids: string[] = [];
      const finals: CachedStep[] = []; // mode=min: the steps of the images built
      for (const target of targets) {
        if (targets.length > 1) write(`Building for ${formatPlatform(target)}\n`);
        const built = await this.buildFor({ req, text, ignore, epoch, target, host, imported, log }, emit);
        const chain = chainOf(log.steps, log.keyOf.get(built));
        finals.push(...chain);
        ids.push(req.cacheExports.some((c) => c.type === 'inline') ? await this.withInlineCache(built, chain) : built);
      }
      const store = this.d.images.store;
      const id = targets.length > 1 ? (await store.createIndex(ids.map((i) => store.get(i) as ImageRecord), host)).id : ids[0];
      for (const spec of req.cacheExports.filter((c) => c.type !== 'inline')) {
        const steps = spec.attrs.mode === 'max' ? log.steps : finals;
        await exportCache(spec, steps, store, this.d.openRepository).catch((e: Error) => {
          throw new BuildError(`exporting cache to ${describeCacheSpec(spec)}: ${e.message}`);
        });
        write(`Exported the build cache (${new Set(steps.map((st) => st.key)).size} steps) to ${describeCacheSpec(spec)}\n`);
      }
      emit({ aux: { ID: id } });
      if (req.quiet) emit({ stream: `${id}\n` });
      write(`Successfully built ${shortId(id)}\n`);
      for (const t of tags) {
        this.d.images.setTag(id, t);
        write(`Successfully tagged ${familiarString(t)}\n`);
      }
      return id;
    } catch (e) {
      if (e instanceof DockerfileError) throw new BuildError(describeDockerfileError(e, text));
      throw e;
    } finally {
      for (const c of imported) c.close();
    }
  }

  /** The image with the inline cache of `steps` in its config (BuildKit's key), a child of the image built. */
  private async withInlineCache(id: string, steps: CachedStep[]): Promise<string> {
    const store = this.d.images.store;
    const config = store.config(id);
    const cfg = { ...config, [INLINE_CACHE_KEY]: inlineCacheOf(steps, config.rootfs.diff_ids) };
    const rec = await store.create({ config: Buffer.from(JSON.stringify(cfg)), layers: store.manifest(store.get(id) as ImageRecord).layers, parent: id });
    return rec.id;
  }

  /** One platform's build: every needed stage, then the `--label` step; returns the final image's ID. */
  private async buildFor(run: {
    req: BuildRequest; text: string; ignore: IgnoreMatcher; epoch?: number; target: Platform; host: Platform; imported: ImportedCache[]; log: StepLog;
  }, emit: Emit): Promise<string> {
    const { req, text, ignore, epoch, target, host, imported, log } = run;
    let plan: BuildPlan;
    let platforms: Platform[];
    try {
      plan = planBuild(text, {
        buildArgs: req.buildArgs, target: req.target, file: path.basename(req.dockerfile),
        automaticArgs: platformArgs(formatPlatform(target), formatPlatform(host)),
      });
      platforms = stagePlatforms(plan, target);
      for (const i of plan.needed) {
        const runInst = plan.stages[i].instructions.find((inst) => inst.kind === 'RUN');
        if (runInst && !canRun(platforms[i], host)) throw new DockerfileError(runInst.loc.file, runInst.loc.startLine, noEmulator(platforms[i], host), 'RUN');
      }
    } catch (e) {
      if (e instanceof DockerfileError) throw new BuildError(describeDockerfileError(e, text));
      throw new BuildError((e as Error).message);
    }
    const bases = this.resolveImages(plan, platforms);
    const store = this.d.images.store;
    const cacheFrom = new CacheFromSources(req.cacheFrom.flatMap((ref) => {
      const rec = this.d.images.resolve(ref);
      return rec ? [loadState(store, rec.id)] : [];
    }));

    const out = new OrderedOutput(emit, req.quiet);
    const total = plan.needed.reduce((n, i) => n + 1 + plan.stages[i].instructions.length, 0) + (Object.keys(req.labels).length ? 1 : 0);
    const results = new Map<number, ImageState>();
    const unused = plan.unusedBuildArgs.filter((a) => a !== SOURCE_DATE_EPOCH);
    const ctx: BuildCtx = {
      req, plan, platforms, ignore, epoch, bases, cacheFrom, imported, log, results, scratch: fs.mkdtempSync(path.join(this.tmp, 's-')),
    };
    try {
      for (const level of plan.levels) {
        // Step numbers follow stage order, as if the stages ran one after another.
        const runs = level.map((i) => {
          const first = plan.needed.slice(0, plan.needed.indexOf(i)).reduce((n, j) => n + 1 + plan.stages[j].instructions.length, 0);
          let n = first;
          const ch = out.channel(plan.needed.indexOf(i));
          return { run: { stage: plan.stages[i], write: ch.write, stepNo: () => ++n } as StageRun, close: ch.close };
        });
        const settled = await Promise.allSettled(runs.map(async ({ run, close }) => {
          results.set(run.stage.index, await this.buildStage(ctx, run, total));
          close();
        }));
        const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
        if (failed) throw failed.reason;
      }
      let final = results.get(plan.target) as ImageState;
      const write: Write = (s, trace) => {
        if (!req.quiet) emit({ stream: s, ...(trace ? { trace } : {}) });
      };
      if (Object.keys(req.labels).length) {
        const pairs = Object.keys(req.labels).sort().map((k) => ({ key: k, value: req.labels[k] }));
        const inst: Instruction = { kind: 'LABEL', pairs, loc: { file: '', startLine: 0, endLine: 0 }, original: `LABEL ${pairs.map((p) => `${JSON.stringify(p.key)}=${JSON.stringify(p.value)}`).join(' ')}` };
        write(`Step ${total}/${total} : ${inst.original}\n`, { metadata: true });
        final = await this.metadataStep(ctx, final, inst, { cmdSet: true }, {}, write, []);
      }
      if (unused.length) write(`[Warning] One or more build-args [${unused.join(' ')}] were not consumed\n`);
      return await this.ensureImage(ctx, final);
    } catch (e) {
      out.flushAll();
      throw e;
    } finally {
      fs.rmSync(ctx.scratch, { recursive: true, force: true });
    }
  }

  /**
   * Every FROM/COPY --from image must be local, of the stage's platform: one clear error naming it, before any work.
   * Keyed by platform and reference (see imageState).
   */
  private resolveImages(plan: BuildPlan, platforms: Platform[]): Map<string, string> {
    const found = new Map<string, string>();
    for (const i of plan.needed) {
      const s = plan.stages[i];
      const refs: Array<{ ref: FromRef; line: number; kind: string }> = [{ ref: s.base, line: s.from.loc.startLine, kind: 'FROM' }];
      for (const [k, r] of s.copyFrom) refs.push({ ref: r, line: s.instructions[k].loc.startLine, kind: 'COPY --from' });
      for (const [k, m] of s.mountFrom) for (const r of m.values()) refs.push({ ref: r, line: s.instructions[k].loc.startLine, kind: 'RUN --mount from' });
      for (const { ref, line, kind } of refs) {
        const key = `${formatPlatform(platforms[i])} ${ref.kind === 'image' ? ref.ref : ''}`;
        if (ref.kind !== 'image' || ref.ref === 'scratch' || found.has(key)) continue;
        if (!this.d.images.resolve(ref.ref)) {
          throw new BuildError(`${s.from.loc.file}:${line}: ${kind} ${ref.ref}: image not found locally; ` +
            'there is no Docker Hub here: make base images from Debian packages with `berth image bootstrap` or ' +
            'scripts/base-images.sh (debian, python, postgres recipes in images/), or bring one with berth pull or load');
        }
        try {
          found.set(key, this.d.images.forPlatform(ref.ref, formatPlatform(platforms[i])).id);
        } catch (e) {
          throw new BuildError(`${s.from.loc.file}:${line}: ${kind} ${ref.ref}: ${(e as Error).message}`);
        }
      }
    }
    return found;
  }

  /** What a stage (`stage`: its index) starts from or reads: an earlier stage's result or an image of its platform. */
  private imageState(ctx: BuildCtx, ref: FromRef, stage: number): ImageState {
    if (ref.kind === 'stage') return ctx.results.get(ref.index) as ImageState;
    if (ref.ref === 'scratch') return scratchState(ctx.platforms[stage]);
    return loadState(this.d.images.store, ctx.bases.get(`${formatPlatform(ctx.platforms[stage])} ${ref.ref}`) as string);
  }

  private async buildStage(ctx: BuildCtx, run: StageRun, total: number): Promise<ImageState> {
    const { stage, write } = run;
    const { plan, req } = ctx;
    // BuildKit names the steps that change the filesystem, counted per stage, the stage named when there are several
    const prefix = plan.needed.length > 1 ? `${stage.name ?? `stage-${stage.index}`} ` : '';
    const steps = 1 + stage.instructions.filter((inst) => FILESYSTEM_STEPS.has(inst.kind)).length;
    let inStage = 0;
    const header = (text: string, fs = true): void =>
      write(`Step ${run.stepNo()}/${total} : ${text}\n`, fs ? { step: `[${prefix}${++inStage}/${steps}] ${text}` } : { metadata: true });
    header(stage.from.original);
    let state = this.imageState(ctx, stage.base, stage.index);
    if (state.id) write(` ---> ${shortId(state.id)}\n`, CLASSIC);
    const scope = new StageScope(req.buildArgs, plan.globalArgs, state.config.config?.Env ?? []);
    const facts: StageFacts = { cmdSet: false };
    const triggers = state.config.config?.OnBuild ?? [];
    if (triggers.length) {
      // The triggers run first; the new image does not inherit them (docker's rule).
      write(`# Executing ${triggers.length} build trigger${triggers.length > 1 ? 's' : ''}\n`);
      state = { ...state, config: { ...state.config, config: { ...state.config.config, OnBuild: null } } };
      for (const t of triggers) state = await this.step(ctx, run, state, parseOnbuildTrigger(t), -1, scope, facts);
    }
    for (const [i, inst] of stage.instructions.entries()) {
      header(inst.original, FILESYSTEM_STEPS.has(inst.kind));
      state = await this.step(ctx, run, state, inst, i, scope, facts);
    }
    return state;
  }

  /** One instruction: substituted, then taken from the cache or executed. */
  private async step(ctx: BuildCtx, run: StageRun, state: ImageState, raw: Instruction, index: number,
    scope: StageScope, facts: StageFacts): Promise<ImageState> {
    const inst = evaluateInstruction(raw, scope, ctx.plan.escapeToken).inst;
    const args = { ...scope.argValues(), ...(ctx.epoch !== undefined ? { [`\0${SOURCE_DATE_EPOCH}`]: String(ctx.epoch) } : {}) };
    if (inst.kind === 'RUN') return this.runStep(ctx, run, state, inst, scope, args, index);
    if (inst.kind === 'COPY' || inst.kind === 'ADD') return this.copyStep(ctx, run, state, inst, index, args);
    return this.metadataStep(ctx, state, inst, facts, args, run.write, scope.envList());
  }

  private created(ctx: BuildCtx): string {
    return new Date(ctx.epoch !== undefined ? ctx.epoch * 1000 : Date.now()).toISOString();
  }

  /**
   * The cached result of a step on `parent`, announced as docker does; undefined on a miss or with --no-cache. The
   * sources: the steps this builder made (by key; with --cache-from only those on the way to a source), then the
   * --cache-from images (by history, see cachefrom.ts); a step found in the middle of one becomes an image of its own,
   * remembered under the key.
   */
  private async cached(ctx: BuildCtx, key: string, parent: ImageState, outcome: StepOutcome, write: Write): Promise<ImageState | undefined> {
    if (ctx.req.noCache) return undefined;
    const store = this.d.images.store;
    let id = this.cache.get(key, (img) => {
      const rec = store.get(img);
      return rec !== undefined && store.missing(rec) === undefined &&
        (!ctx.req.cacheFrom.length || onTheWay(ctx.cacheFrom.list, loadState(store, img)));
    });
    if (!id) id = await this.fromImported(ctx, key, parent, outcome, write);
    if (!id) {
      const hit = ctx.cacheFrom.match(parent, outcome);
      if (!hit) return undefined;
      id = hit.kind === 'image' ? hit.id : (await commitImage(store, parent, {
        config: outcome.config, created: hit.history.created ?? this.created(ctx), createdBy: outcome.createdBy,
        layer: hit.layer, author: outcome.author, history: hit.history,
      })).id as string;
      this.cache.set(key, id);
    }
    write(' ---> Using cache\n', { cached: true });
    write(` ---> ${shortId(id)}\n`, CLASSIC);
    return this.noteStep(ctx, key, parent, loadState(store, id));
  }

  /**
   * A step out of an imported cache (`--cache-from type=...`): its layer fetched into the store when missing, then the
   * image the exporting build made (same parent, config, history, so the same ID), remembered under the key. A layer
   * that cannot be fetched or does not unpack to its diffID is a warning and a miss (the step runs), and leaves nothing.
   */
  private async fromImported(ctx: BuildCtx, key: string, parent: ImageState, outcome: StepOutcome, write: Write): Promise<string | undefined> {
    const store = this.d.images.store;
    for (const src of ctx.imported) {
      const step = src.steps.get(key);
      if (!step || !!step.layer !== outcome.layer) continue;
      if (step.layer) {
        const { desc, diffId } = step.layer;
        const fetched = !store.content.has(desc.digest);
        try {
          if (fetched) await store.content.ingest(await src.blob(desc.digest), { digest: desc.digest, size: desc.size });
          if (!store.layers.has(diffId)) await store.layers.unpack(store.content.read(desc.digest), { expectedDiffId: diffId });
        } catch (e) {
          if (fetched && store.content.has(desc.digest)) store.content.delete(desc.digest);
          write(`[Warning] cached layer ${desc.digest} could not be used: ${(e as Error).message}\n`);
          continue;
        }
      }
      const next = await commitImage(store, parent, {
        config: outcome.config, created: step.created, createdBy: outcome.createdBy, layer: step.layer, author: outcome.author,
      });
      this.cache.set(key, next.id as string);
      return next.id;
    }
    return undefined;
  }


  /** Remember a step's result for `--cache-to`. */
  private noteStep(ctx: BuildCtx, key: string, parent: ImageState, result: ImageState): ImageState {
    const last = result.config.history?.at(-1);
    const diffIds = result.config.rootfs.diff_ids;
    ctx.log.steps.push({
      key, parentKey: parent.id ? ctx.log.keyOf.get(parent.id) : undefined, created: last?.created ?? '',
      layer: last && !last.empty_layer ? { desc: result.layers[result.layers.length - 1], diffId: diffIds[diffIds.length - 1] } : undefined,
    });
    if (result.id) ctx.log.keyOf.set(result.id, key);
    return result;
  }

  private async commit(ctx: BuildCtx, key: string, state: ImageState, config: ContainerConfig, createdByText: string,
    write: Write, layer?: NewLayer, author?: string): Promise<ImageState> {
    const next = await commitImage(this.d.images.store, state, { config, created: this.created(ctx), createdBy: createdByText, layer, author });
    this.cache.set(key, next.id as string);
    write(` ---> ${shortId(next.id as string)}\n`, CLASSIC);
    return this.noteStep(ctx, key, state, next);
  }

  private async metadataStep(ctx: BuildCtx, state: ImageState, inst: Instruction, facts: StageFacts,
    args: Record<string, string>, write: Write, env: string[]): Promise<ImageState> {
    const cfg = state.config.config ?? {};
    const config = applyMetadata(cfg, inst, facts, inst.kind === 'ENV' ? env : cfg.Env ?? []);
    const key = stepCacheKey({ parent: parentKey(state), instruction: inst, args });
    const text = createdBy(inst, cfg);
    const author = inst.kind === 'MAINTAINER' ? inst.maintainer : undefined;
    const hit = await this.cached(ctx, key, state, { createdBy: text, layer: false, config, author }, write);
    if (hit) return hit;
    return this.commit(ctx, key, state, config, text, write, undefined, author);
  }

  /** RUN needs an image record to start a container from (scratch has none until its first step). */
  private async ensureImage(ctx: BuildCtx, state: ImageState): Promise<string> {
    if (state.id) return state.id;
    const next = await commitImage(this.d.images.store, state, { config: state.config.config ?? {}, created: this.created(ctx), createdBy: '' });
    return next.id as string;
  }

  private async runStep(ctx: BuildCtx, run: StageRun, state: ImageState, inst: Extract<Instruction, { kind: 'RUN' }>,
    scope: StageScope, args: Record<string, string>, index: number): Promise<ImageState> {
    const { req } = ctx;
    const mountList = runMounts(inst, this.d.entitlements);
    const mountFrom = (from: string): { lowers: string[]; id: string } => {
      const st = this.imageState(ctx, run.stage.mountFrom.get(index)?.get(from) ?? { kind: 'image', ref: from }, run.stage.index);
      return { lowers: this.lowers(st), id: st.id ?? 'scratch' };
    };
    const key = stepCacheKey({ parent: parentKey(state), instruction: inst, args, sources: await mountSourcesKey(mountList, ctx.req.contextDir, ctx.ignore, mountFrom) });
    const cfg = state.config.config ?? {};
    const text = createdBy(inst, cfg, { args: scope.argValues() });
    const hit = await this.cached(ctx, key, state, { createdBy: text, layer: true, config: cfg }, run.write);
    if (hit) return hit;
    const image = await this.ensureImage(ctx, state);
    let container: string | undefined;
    const { containers } = this.d;
    const remove = async (): Promise<void> => {
      if (!container) return;
      run.write(`Removing intermediate container ${shortId(container)}\n`, CLASSIC);
      await containers.remove(container, true);
      container = undefined;
    };
    const stepId = crypto.randomBytes(6).toString('hex');
    const scratch = path.join(ctx.scratch, stepId);
    let layer: NewLayer;
    let kept = false;
    const mounts = await prepareRunMounts(mountList, {
      cacheMounts: this.cacheMounts, contextDir: req.contextDir, source: mountFrom, secrets: req.secrets, ssh: req.ssh,
      secretsDir: path.join(this.d.secretsRoot, stepId), scratch: path.join(scratch, 'mounts'),
    }).catch((e: unknown) => {
      throw atLine(inst, e);
    });
    try {
      const network = inst.network === undefined || inst.network === 'default' ? req.network : inst.network;
      const { id, code } = await runContainer(containers, {
        image, command: runCommandLine(inst), shell: cfg.Shell?.length ? cfg.Shell : DEFAULT_SHELL,
        env: [...(cfg.Env ?? []), ...scope.runEnv(), ...mounts.env], user: cfg.User, workdir: cfg.WorkingDir,
        network, extraHosts: req.extraHosts, scratch,
        mounts: mounts.mounts, tmpfs: mounts.tmpfs, privileged: inst.security === 'insecure',
      }, run.write, (id) => {
        container = id;
        run.write(` ---> Running in ${shortId(id)}\n`, CLASSIC);
      });
      if (code !== 0) throw new BuildError(`The command '${runText(inst, cfg)}' returned a non-zero code: ${code}`, code);
      const lowers = this.lowers(state);
      layer = await commitLayer(this.d.images.store, diffTar(containers.store.paths(id).upper, {
        epoch: ctx.epoch, skip: stubSkipper(lowers, containers.store.paths(id).upper, mounts.targets),
      }));
      // A container that saw a secret in its environment is never kept (--rm=false notwithstanding).
      kept = !(req.rm || req.forceRm || mounts.env.length);
    } finally {
      // Unlike docker's legacy builder, a failed step leaves no container (or mount) behind (issue #4).
      if (!kept) await remove().catch(() => undefined);
      await mounts.release();
    }
    return this.commit(ctx, key, state, cfg, text, run.write, layer);
  }

  private lowers(state: ImageState): string[] {
    return this.d.images.store.layers.lowerDirs(state.config.rootfs.diff_ids);
  }

  private async copyStep(ctx: BuildCtx, run: StageRun, state: ImageState, inst: Extract<Instruction, { kind: 'COPY' | 'ADD' }>,
    index: number, args: Record<string, string>): Promise<ImageState> {
    const cfg = state.config.config ?? {};
    const from = index >= 0 ? run.stage.copyFrom.get(index) : undefined;
    const scratch = path.join(ctx.scratch, crypto.randomBytes(4).toString('hex'));
    const withSource = async <T>(fn: (src: CopySourceRoot) => Promise<T>): Promise<T> => {
      if (!from) return fn({ dir: ctx.req.contextDir, ignore: ctx.ignore });
      const src = this.imageState(ctx, from, run.stage.index);
      return withRootfs(this.lowers(src), path.join(scratch, 'from'), (dir) => fn({ dir, imageId: src.id ?? 'scratch' }));
    };
    try {
      return await withSource(async (src) => {
        const plan = await planCopy(inst, src, cfg.WorkingDir ?? '/', scratch).catch((e: Error) => {
          throw new DockerfileError(inst.loc.file, inst.loc.startLine, e.message, inst.kind);
        });
        const key = stepCacheKey({ parent: parentKey(state), instruction: inst, args, sources: plan.sourcesKey });
        const text = createdBy(inst, cfg, { sourceDigest: plan.sourceDigest, dest: plan.resolved.dest });
        const hit = await this.cached(ctx, key, state, { createdBy: text, layer: true, config: cfg }, run.write);
        if (hit) return hit;
        const layer = await withRootfs(this.lowers(state), path.join(scratch, 'dest'), async (rootfs) => {
          const entries = await copyEntries(plan, { rootfs, epoch: ctx.epoch, tmpDir: scratch, now: Math.floor(Date.now() / 1000) });
          return commitLayer(this.d.images.store, tarBytes(entries));
        });
        return this.commit(ctx, key, state, cfg, text, run.write, layer);
      });
    } finally {
      fs.rmSync(scratch, { recursive: true, force: true });
    }
  }
}

interface BuildCtx {
  req: BuildRequest;
  plan: BuildPlan;
  /** The platform of each stage, by stage index. */
  platforms: Platform[];
  ignore: IgnoreMatcher;
  epoch?: number;
  /** Image reference -> ID for FROM and COPY --from images. */
  bases: Map<string, string>;
  /** The --cache-from images found. */
  cacheFrom: CacheFromSources;
  /** The caches imported with --cache-from type=... */
  imported: ImportedCache[];
  log: StepLog;
  results: Map<number, ImageState>;
  scratch: string;
}
