/**
 * Build planning: stages, what each depends on (FROM <stage>, COPY --from=<stage|index>), which stages the target
 * needs (others are skipped), and levels of stages that can be built in parallel.
 */
import { DockerfileError } from './parser';
import { StageScope, PROXY_ARGS } from './expand';
import { parseRunMounts } from './mounts';
import { evaluateInstruction, parseInstructions, type DockerfileDef, type FromInst, type Instruction } from './instructions';

export type FromRef = { kind: 'stage'; index: number } | { kind: 'image'; ref: string };

export interface PlannedStage {
  index: number;
  /** Lower-cased `AS` name. */
  name?: string;
  /** The FROM instruction with global ARGs substituted. */
  from: FromInst;
  /** What the stage starts from: an earlier stage, or an image reference ("scratch" included). */
  base: FromRef;
  /** The stage's instructions as written: expand them step by step with evaluateInstruction and a StageScope. */
  instructions: Instruction[];
  /** Where COPY --from reads, keyed by the index of the COPY in `instructions`. */
  copyFrom: Map<number, FromRef>;
  /** Where RUN --mount=...,from=X reads, keyed by the index of the RUN, then by X as written. */
  mountFrom: Map<number, Map<string, FromRef>>;
  /** Indexes of the stages this one needs, ascending. */
  deps: number[];
}

export interface BuildPlan {
  stages: PlannedStage[];
  /** Index of the stage whose result is the image. */
  target: number;
  /** Stages to build (the target and everything it needs), ascending; the others are skipped. */
  needed: number[];
  /** `needed` grouped so that every stage depends only on stages of earlier levels. */
  levels: number[][];
  /** Global ARG values (build args applied), the scope of FROM lines and of re-declared ARGs. */
  globalArgs: Map<string, string | undefined>;
  /** Build args that no ARG declares (docker warns: "One or more build-args [...] were not consumed"). */
  unusedBuildArgs: string[];
  escapeToken: string;
  warnings: string[];
}

export interface PlanOptions {
  buildArgs?: Readonly<Record<string, string>>;
  /** `--target`: a stage name; the last stage when absent. */
  target?: string;
  /** Dockerfile name used in errors. */
  file?: string;
  /**
   * BuildKit's automatic args (TARGETPLATFORM, BUILDARCH, ...): global without a declaration (FROM lines), in a
   * stage once it declares them; a --build-arg of the same name wins; never reported as unused.
   */
  automaticArgs?: Readonly<Record<string, string>>;
}

/** The automatic platform args of a build on `build` for `target` (os/arch[/variant]). */
export function platformArgs(target: string, build: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [prefix, platform] of [['TARGET', target], ['BUILD', build]] as const) {
    const [os, arch, variant = ''] = platform.split('/');
    Object.assign(out, { [`${prefix}PLATFORM`]: platform, [`${prefix}OS`]: os, [`${prefix}ARCH`]: arch, [`${prefix}VARIANT`]: variant });
  }
  return out;
}

function located<T>(inst: Instruction, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof DockerfileError) throw err;
    throw new DockerfileError(inst.loc.file, inst.loc.startLine, (err as Error).message, inst.kind);
  }
}

/** Plans a build from Dockerfile text (or an already parsed definition). */
export function planBuild(dockerfile: string | DockerfileDef, opts: PlanOptions = {}): BuildPlan {
  const def = typeof dockerfile === 'string' ? parseInstructions(dockerfile, opts.file) : dockerfile;
  const buildArgs = opts.buildArgs ?? {};
  const escape = def.escapeToken;
  const automatic = opts.automaticArgs ?? {};
  const globalArgs = StageScope.globals(def.globalArgs.flatMap((a) => a.args), buildArgs, escape);
  for (const [k, v] of Object.entries(automatic)) if (!globalArgs.has(k)) globalArgs.set(k, buildArgs[k] ?? v);
  const byName = new Map<string, number>();
  const stages: PlannedStage[] = [];
  const warnings = [...def.warnings];

  def.stages.forEach((s, index) => {
    const fromScope = new StageScope({}, new Map());
    for (const [k, v] of globalArgs) fromScope.declareArg(k, v);
    const from = evaluateInstruction(s.from, fromScope, escape).inst;
    if (from.image === '') throw new DockerfileError(from.loc.file, from.loc.startLine, 'base name (' + s.from.image + ') should not be blank', 'FROM');
    const ref = (value: string): FromRef => {
      const known = byName.get(value.toLowerCase());
      return known === undefined ? { kind: 'image', ref: value } : { kind: 'stage', index: known };
    };
    const base = ref(from.image);

    // Stage-local scope (without the base image's ENV, unknown until it is pulled) to resolve COPY --from values.
    const scope = new StageScope(buildArgs, globalArgs);
    const copyFrom = new Map<number, FromRef>();
    const mountFrom = new Map<number, Map<string, FromRef>>();
    s.instructions.forEach((inst, i) => {
      if (inst.kind === 'ARG' || inst.kind === 'ENV') evaluateInstruction(inst, scope, escape);
      const fromRef = (value: string): FromRef => located(inst, () => {
        if (/^\d+$/.test(value)) {
          const n = Number(value);
          if (n === index) throw new Error(`invalid from flag value ${value}: refers to current build stage`);
          if (n > index) throw new Error(`invalid from flag value ${value}: index out of bounds`);
          return { kind: 'stage', index: n };
        }
        if (value.toLowerCase() === s.from.name) throw new Error(`invalid from flag value ${value}: refers to current build stage`);
        return ref(value);
      });
      if (inst.kind === 'RUN' && inst.mounts.length > 0) {
        const mounts = located(inst, () => {
          const run = evaluateInstruction(inst, scope, escape).inst;
          return new Map(parseRunMounts(run.mounts).filter((m) => m.from !== undefined).map((m) => [m.from as string, fromRef(m.from as string)]));
        });
        if (mounts.size) mountFrom.set(i, mounts);
      }
      if (inst.kind !== 'COPY' || inst.from === undefined) return;
      copyFrom.set(i, fromRef(evaluateInstruction(inst, scope, escape).inst.from as string));
    });

    const deps = new Set<number>();
    for (const r of [base, ...copyFrom.values(), ...[...mountFrom.values()].flatMap((m) => [...m.values()])]) if (r.kind === 'stage') deps.add(r.index);
    stages.push({ index, name: from.name, from, base, instructions: s.instructions, copyFrom, mountFrom, deps: [...deps].sort((a, b) => a - b) });
    if (from.name !== undefined) {
      if (byName.has(from.name)) throw new DockerfileError(from.loc.file, from.loc.startLine, `duplicate name ${from.name}`, 'FROM');
      byName.set(from.name, index);
    }
  });

  let target = stages.length - 1;
  if (opts.target !== undefined && opts.target !== '') {
    const t = byName.get(opts.target.toLowerCase());
    if (t === undefined) throw new Error(`target stage "${opts.target}" could not be found`);
    target = t;
  }

  // Needed stages: everything reachable from the target. Dependencies always point to earlier stages.
  const needed = new Set<number>([target]);
  for (let i = target; i >= 0; i--) if (needed.has(i)) for (const d of stages[i].deps) needed.add(d);
  const order = [...needed].sort((a, b) => a - b);
  const level = new Map<number, number>();
  const levels: number[][] = [];
  for (const i of order) {
    const l = stages[i].deps.reduce((m, d) => Math.max(m, (level.get(d) as number) + 1), 0);
    level.set(i, l);
    (levels[l] ??= []).push(i);
  }

  const declared = new Set<string>(def.globalArgs.flatMap((a) => a.args.map((x) => x.name)));
  for (const s of def.stages) for (const inst of s.instructions) if (inst.kind === 'ARG') for (const a of inst.args) declared.add(a.name);
  const unusedBuildArgs = Object.keys(buildArgs).filter((k) => !declared.has(k) && !PROXY_ARGS.has(k) && !(k in automatic)).sort();

  return { stages, target, needed: order, levels, globalArgs, unusedBuildArgs, escapeToken: escape, warnings };
}
