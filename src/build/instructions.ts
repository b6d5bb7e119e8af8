/**
 * Typed Dockerfile instructions: node → instruction (flags and argument counts checked with docker's wording), the
 * builder-side variable expansion of each instruction, and small value parsers (durations, ports, chmod).
 * Over ~400 lines: one short case per Dockerfile instruction; apart, they would scatter the flag rules they share.
 */
import * as path from 'node:path';
import { parseGoDuration } from '../common/duration';
import { isProtocol, portKeys, portRange, splitPortProto } from '../common/ports';
import { DockerfileError, heredocBody, parseDockerfile, parseHeredocMarker, type Heredoc, type Location, type Node } from './parser';
import { processWord, type Lookup, type StageScope } from './expand';
import { parseRunMounts } from './mounts';

interface Base {
  loc: Location;
  /** The logical source line (continuations joined). */
  original: string;
}
export interface KeyValue {
  key: string;
  value: string;
}
export interface HealthConfig {
  /** ["NONE"] | ["CMD", ...argv] | ["CMD-SHELL", command] */
  Test: string[];
  /** Durations in nanoseconds; 0 = inherit the default. */
  Interval: number;
  Timeout: number;
  StartPeriod: number;
  StartInterval: number;
  Retries: number;
}

export interface FromInst extends Base { kind: 'FROM'; image: string; name?: string; platform?: string }
export interface RunInst extends Base {
  kind: 'RUN';
  /** Exec form: argv. Shell form: one string. */
  cmd: string[];
  shellForm: boolean;
  heredocs: Heredoc[];
  network?: 'default' | 'none' | 'host';
  /** `--mount` values as written (variables substituted by expandInstruction); parseRunMounts reads them. */
  mounts: string[];
  security?: string;
}
export interface CmdInst extends Base { kind: 'CMD'; cmd: string[]; shellForm: boolean }
export interface EntrypointInst extends Base { kind: 'ENTRYPOINT'; cmd: string[]; shellForm: boolean }
export interface EnvInst extends Base { kind: 'ENV'; pairs: KeyValue[] }
export interface ArgInst extends Base { kind: 'ARG'; args: Array<{ name: string; value?: string }> }
export interface LabelInst extends Base { kind: 'LABEL'; pairs: KeyValue[] }
/** Before expansion `ports` are as written; after expandInstruction they are normalized ("80/tcp", ranges split). */
export interface ExposeInst extends Base { kind: 'EXPOSE'; ports: string[] }
export interface CopyInst extends Base {
  kind: 'COPY' | 'ADD';
  /** Path (or, for ADD, URL) sources, heredoc sources excluded. */
  sources: string[];
  /** Inline sources (`COPY <<EOF /dest`); content is final after expansion. */
  heredocs: Heredoc[];
  dest: string;
  from?: string;
  chown?: string;
  chmod?: string;
  link: boolean;
  /** COPY --parents: sources keep their context path under the destination. */
  parents: boolean;
  /** --exclude patterns (.dockerignore syntax). */
  exclude: string[];
  checksum?: string;
  keepGitDir: boolean;
}
export interface WorkdirInst extends Base { kind: 'WORKDIR'; path: string }
export interface UserInst extends Base { kind: 'USER'; user: string }
export interface VolumeInst extends Base { kind: 'VOLUME'; volumes: string[] }
export interface ShellInst extends Base { kind: 'SHELL'; shell: string[] }
export interface StopSignalInst extends Base { kind: 'STOPSIGNAL'; signal: string }
export interface HealthcheckInst extends Base { kind: 'HEALTHCHECK'; health: HealthConfig }
/** Stored as text in the image config; parsed with parseOnbuildTrigger when the image is used as a base. */
export interface OnbuildInst extends Base { kind: 'ONBUILD'; expression: string }
export interface MaintainerInst extends Base { kind: 'MAINTAINER'; maintainer: string }

export type Instruction =
  | FromInst | RunInst | CmdInst | EntrypointInst | EnvInst | ArgInst | LabelInst | ExposeInst | CopyInst
  | WorkdirInst | UserInst | VolumeInst | ShellInst | StopSignalInst | HealthcheckInst | OnbuildInst | MaintainerInst;

export interface StageDef {
  from: FromInst;
  instructions: Instruction[];
}
export interface DockerfileDef {
  /** ARGs before the first FROM: usable only in FROM lines unless re-declared in a stage. */
  globalArgs: ArgInst[];
  stages: StageDef[];
  escapeToken: string;
  syntax?: string;
  warnings: string[];
}

// ---- flags -------------------------------------------------------------------------------------------------------

type FlagKind = 'bool' | 'string' | 'strings';
type FlagValues = Record<string, string | boolean | string[] | undefined>;

/** Parses `--name[=value]` tokens against the flags an instruction accepts (docker's BFlags rules and wording). */
function parseFlags(tokens: readonly string[], spec: Readonly<Record<string, FlagKind>>): FlagValues {
  const out: FlagValues = {};
  for (const tok of tokens) {
    if (!tok.startsWith('--')) throw new Error(`Arg should start with -- : ${tok}`);
    const body = tok.slice(2);
    const eq = body.indexOf('=');
    const name = eq < 0 ? body : body.slice(0, eq);
    const value = eq < 0 ? undefined : body.slice(eq + 1);
    const kind = spec[name];
    if (!kind) throw new Error(`Unknown flag: ${name}`);
    if (out[name] !== undefined && kind !== 'strings') throw new Error(`Duplicate flag specified: ${name}`);
    if (kind === 'bool') {
      if (value === '') throw new Error(`Missing a value on flag: ${name}`);
      const lower = (value ?? 'true').toLowerCase();
      if (lower !== 'true' && lower !== 'false') throw new Error(`Expecting boolean value for flag ${name}, not: ${value}`);
      out[name] = lower === 'true';
    } else {
      if (value === undefined) throw new Error(`Missing a value on flag: ${name}`);
      out[name] = kind === 'string' ? value : [...((out[name] as string[] | undefined) ?? []), value];
    }
  }
  return out;
}
const str = (v: FlagValues[string]): string | undefined => (typeof v === 'string' ? v : undefined);

// ---- value parsers -----------------------------------------------------------------------------------------------

function healthInterval(flag: string, value: string | undefined): number {
  if (value === undefined || value === '') return 0;
  const d = parseGoDuration(value);
  if (d === 0) return 0;
  if (d < 1e6) throw new Error(`Interval "${flag}" cannot be less than 1ms`);
  return d;
}

/** EXPOSE values → "port/proto" keys, ranges expanded (docker's nat.ParsePortSpecs for container ports). */
export function parseExposedPorts(specs: readonly string[]): string[] {
  const out: string[] = [];
  for (const spec of specs) {
    const { ports, proto } = splitPortProto(spec);
    if (!isProtocol(proto)) throw new Error(`invalid proto: ${proto}`);
    const r = portRange(ports);
    if (!r) throw new Error(`invalid containerPort: ${ports}`);
    out.push(...portKeys(r, proto));
  }
  return out;
}

/** COPY/ADD --chmod: octal up to 07777. */
export function parseChmod(value: string): number {
  const n = /^[0-7]+$/.test(value) ? parseInt(value, 8) : NaN;
  if (!(n <= 0o7777)) throw new Error(`invalid chmod parameter: ${value}. it should be octal string and between 0 and 07777`);
  return n;
}

/** WORKDIR semantics: relative paths are joined to the previous working directory. */
export function resolveWorkdir(previous: string, next: string): string {
  return path.posix.resolve('/', previous || '/', next);
}

// ---- node → instruction ------------------------------------------------------------------------------------------

const exactlyOne = (cmd: string): Error => new Error(`${cmd} requires exactly one argument`);
const atLeastOne = (cmd: string): Error => new Error(`${cmd} requires at least one argument`);
const STAGE_NAME = /^[a-z][a-z0-9-_.]*$/;

function kvPairs(args: readonly string[], cmd: string): KeyValue[] {
  if (args.length === 0) throw atLeastOne(cmd);
  const pairs: KeyValue[] = [];
  for (let i = 0; i < args.length; i += 2) {
    if (args[i] === '') throw new Error(`${cmd} names can not be blank`);
    pairs.push({ key: args[i], value: args[i + 1] });
  }
  return pairs;
}

function shellDependent(node: Node): { cmd: string[]; shellForm: boolean } {
  return node.json ? { cmd: [...node.args], shellForm: false } : { cmd: node.args.length ? [node.args.join(' ')] : [], shellForm: true };
}

function copyInst(node: Node, base: Base, kind: 'COPY' | 'ADD'): CopyInst {
  const spec: Record<string, FlagKind> = kind === 'COPY'
    ? { from: 'string', chown: 'string', chmod: 'string', link: 'bool', parents: 'bool', exclude: 'strings' }
    : { chown: 'string', chmod: 'string', link: 'bool', checksum: 'string', 'keep-git-dir': 'bool', exclude: 'strings' };
  const f = parseFlags(node.flags, spec);
  if (node.args.length < 2) {
    throw new Error(`${kind} requires at least two arguments, but only one was provided. Destination could not be determined.`);
  }
  const dest = node.args[node.args.length - 1];
  const byName = new Map(node.heredocs.map((h) => [h.name, h]));
  const marker = (arg: string): Heredoc | undefined => (node.json ? undefined : parseHeredocMarker(arg));
  if (marker(dest)) throw new Error(`${kind} cannot accept a heredoc as a destination`);
  const sources: string[] = [];
  const heredocs: Heredoc[] = [];
  for (const src of node.args.slice(0, -1)) {
    const m = marker(src);
    if (!m) sources.push(src);
    else {
      const doc = byName.get(m.name) ?? m;
      heredocs.push({ ...doc, content: heredocBody(doc) });
    }
  }
  return {
    ...base, kind, sources, heredocs, dest,
    from: str(f.from), chown: str(f.chown), chmod: str(f.chmod), link: f.link === true, parents: f.parents === true,
    exclude: (f.exclude as string[] | undefined) ?? [],
    checksum: str(f.checksum), keepGitDir: f['keep-git-dir'] === true,
  };
}

function healthInst(node: Node, base: Base): HealthcheckInst {
  if (node.args.length === 0) throw atLeastOne('HEALTHCHECK');
  const type = node.args[0].toUpperCase();
  const rest = node.args.slice(1);
  if (type === 'NONE') {
    parseFlags(node.flags, {});
    if (rest.length !== 0) throw new Error('HEALTHCHECK NONE takes no arguments');
    return { ...base, kind: 'HEALTHCHECK', health: { Test: ['NONE'], Interval: 0, Timeout: 0, StartPeriod: 0, StartInterval: 0, Retries: 0 } };
  }
  const f = parseFlags(node.flags, { interval: 'string', timeout: 'string', 'start-period': 'string', 'start-interval': 'string', retries: 'string' });
  if (type !== 'CMD') throw new Error(`Unknown type "${type}" in HEALTHCHECK (try CMD)`);
  const cmd = node.json ? rest : rest.length ? [rest.join(' ')] : [];
  if (cmd.length === 0) throw new Error('Missing command after HEALTHCHECK CMD');
  let retries = 0;
  const r = str(f.retries);
  if (r !== undefined && r !== '') {
    if (!/^[+-]?\d+$/.test(r)) throw new Error(`strconv.ParseInt: parsing ${JSON.stringify(r)}: invalid syntax`);
    retries = Number(r);
    if (retries < 0) throw new Error(`--retries cannot be negative (${retries})`);
  }
  return {
    ...base, kind: 'HEALTHCHECK',
    health: {
      Test: [node.json ? 'CMD' : 'CMD-SHELL', ...cmd],
      Interval: healthInterval('interval', str(f.interval)),
      Timeout: healthInterval('timeout', str(f.timeout)),
      StartPeriod: healthInterval('start-period', str(f['start-period'])),
      StartInterval: healthInterval('start-interval', str(f['start-interval'])),
      Retries: retries,
    },
  };
}

function onbuildInst(node: Node, base: Base): OnbuildInst {
  if (!node.sub) throw atLeastOne('ONBUILD');
  parseFlags(node.flags, {});
  const trigger = node.sub.cmd.toUpperCase();
  if (trigger === 'ONBUILD') throw new Error("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
  if (trigger === 'FROM' || trigger === 'MAINTAINER') throw new Error(`${trigger} isn't allowed as an ONBUILD trigger`);
  toInstruction({ ...node.sub, heredocs: node.heredocs }); // validate the trigger now rather than in a later build
  let expression = node.original.replace(/^\s*ONBUILD\s*/i, '');
  for (const h of node.heredocs) expression += `\n${h.content}${h.name}`;
  return { ...base, kind: 'ONBUILD', expression };
}

function build(node: Node, base: Base): Instruction {
  const { args } = node;
  const noFlags = (): void => void parseFlags(node.flags, {});
  switch (node.cmd) {
    case 'from': {
      const f = parseFlags(node.flags, { platform: 'string' });
      let name: string | undefined;
      if (args.length === 3 && args[1].toLowerCase() === 'as') {
        name = args[2].toLowerCase();
        if (!STAGE_NAME.test(name)) {
          throw new Error(`invalid name for build stage: "${args[2]}", name can't start with a number or contain symbols`);
        }
      } else if (args.length !== 1) throw new Error('FROM requires either one or three arguments');
      return { ...base, kind: 'FROM', image: args[0], name, platform: str(f.platform) };
    }
    case 'run': {
      const f = parseFlags(node.flags, { mount: 'strings', network: 'string', security: 'string' });
      const network = str(f.network);
      if (network !== undefined && !['default', 'none', 'host'].includes(network)) {
        throw new Error(`unsupported network mode "${network}"`);
      }
      const security = str(f.security);
      if (security !== undefined && security !== 'sandbox' && security !== 'insecure') {
        throw new Error(`unsupported security mode ${JSON.stringify(security)} (use sandbox or insecure)`);
      }
      const mounts = (f.mount as string[] | undefined) ?? [];
      parseRunMounts(mounts.filter((m) => !m.includes('$'))); // errors now; values with variables once substituted
      return {
        ...base, kind: 'RUN', ...shellDependent(node), heredocs: node.heredocs,
        network: network as RunInst['network'], mounts, security,
      };
    }
    case 'cmd':
      noFlags();
      return { ...base, kind: 'CMD', ...shellDependent(node) };
    case 'entrypoint':
      noFlags();
      return { ...base, kind: 'ENTRYPOINT', ...shellDependent(node) };
    case 'env':
      noFlags();
      return { ...base, kind: 'ENV', pairs: kvPairs(args, 'ENV') };
    case 'label':
      noFlags();
      return { ...base, kind: 'LABEL', pairs: kvPairs(args, 'LABEL') };
    case 'arg': {
      noFlags();
      if (args.length === 0) throw atLeastOne('ARG');
      return {
        ...base, kind: 'ARG',
        args: args.map((a) => {
          const i = a.indexOf('=');
          if (i === 0) throw new Error('ARG names can not be blank');
          return i < 0 ? { name: a } : { name: a.slice(0, i), value: a.slice(i + 1) };
        }),
      };
    }
    case 'expose':
      noFlags();
      if (args.length === 0) throw atLeastOne('EXPOSE');
      return { ...base, kind: 'EXPOSE', ports: [...args] };
    case 'copy':
      return copyInst(node, base, 'COPY');
    case 'add':
      return copyInst(node, base, 'ADD');
    case 'workdir':
      noFlags();
      if (args.length !== 1) throw exactlyOne('WORKDIR');
      return { ...base, kind: 'WORKDIR', path: args[0] };
    case 'user':
      noFlags();
      if (args.length !== 1) throw exactlyOne('USER');
      return { ...base, kind: 'USER', user: args[0] };
    case 'volume': {
      noFlags();
      if (args.length === 0) throw atLeastOne('VOLUME');
      const volumes = args.map((v) => v.trim());
      if (volumes.includes('')) throw new Error('VOLUME specified can not be an empty string');
      return { ...base, kind: 'VOLUME', volumes };
    }
    case 'shell':
      noFlags();
      if (args.length === 0) throw atLeastOne('SHELL');
      if (!node.json) throw new Error('SHELL requires the arguments to be in JSON form');
      return { ...base, kind: 'SHELL', shell: [...args] };
    case 'stopsignal':
      if (args.length !== 1) throw exactlyOne('STOPSIGNAL');
      return { ...base, kind: 'STOPSIGNAL', signal: args[0] };
    case 'healthcheck':
      return healthInst(node, base);
    case 'onbuild':
      return onbuildInst(node, base);
    case 'maintainer':
      noFlags();
      if (args.length !== 1) throw exactlyOne('MAINTAINER');
      return { ...base, kind: 'MAINTAINER', maintainer: args[0] };
    default:
      throw new Error(`unknown instruction: ${node.cmd.toUpperCase()}`);
  }
}

/** Converts one parsed node; errors carry file, line and instruction. */
export function toInstruction(node: Node): Instruction {
  try {
    return build(node, { loc: node.loc, original: node.original });
  } catch (err) {
    if (err instanceof DockerfileError) throw err;
    throw new DockerfileError(node.loc.file, node.loc.startLine, (err as Error).message, node.cmd.toUpperCase());
  }
}

/** Parses a Dockerfile into global ARGs and stages of typed instructions. */
export function parseInstructions(text: string, file = 'Dockerfile'): DockerfileDef {
  const parsed = parseDockerfile(text, file);
  const def: DockerfileDef = { globalArgs: [], stages: [], escapeToken: parsed.escapeToken, syntax: parsed.syntax, warnings: parsed.warnings };
  for (const node of parsed.nodes) {
    const inst = toInstruction(node);
    if (inst.kind === 'FROM') def.stages.push({ from: inst, instructions: [] });
    else if (def.stages.length === 0 && inst.kind === 'ARG') def.globalArgs.push(inst);
    else if (def.stages.length === 0) throw new DockerfileError(file, node.loc.startLine, 'no build stage in current context', inst.kind);
    else def.stages[def.stages.length - 1].instructions.push(inst);
  }
  return def;
}

/** Parses an image's OnBuild entry into the instruction(s) it triggers. */
export function parseOnbuildTrigger(expression: string): Instruction {
  const { nodes } = parseDockerfile(expression, 'ONBUILD');
  const inst = toInstruction(nodes[0]);
  if (nodes.length !== 1 || inst.kind === 'FROM' || inst.kind === 'MAINTAINER' || inst.kind === 'ONBUILD') {
    throw new Error(`invalid ONBUILD trigger: ${expression}`);
  }
  return inst;
}

// ---- expansion ---------------------------------------------------------------------------------------------------

export interface Expanded<T extends Instruction> {
  inst: T;
  /** Variable names the substituted text depends on. */
  used: Set<string>;
}

/**
 * Substitutes variables where docker does (ADD COPY ENV EXPOSE FROM LABEL STOPSIGNAL USER VOLUME WORKDIR and ARG
 * defaults; RUN/CMD/ENTRYPOINT/SHELL/HEALTHCHECK/ONBUILD/MAINTAINER are left as written). For ENV all values see the
 * variables as they were before the instruction; ARG defaults are evaluated left to right in `scope`, whose ENV/ARG
 * state is updated by ENV and ARG (pass a scope to evaluate a stage step by step).
 */
export function expandInstruction<T extends Instruction>(inst: T, scope: StageScope, escape = '\\'): Expanded<T> {
  const used = new Set<string>();
  const word = (s: string, lookup: Lookup = scope.lookup, raw = false): string => {
    const r = processWord(s, lookup, { escape, raw });
    for (const n of r.used) used.add(n);
    return r.word;
  };
  const opt = (s: string | undefined): string | undefined => (s === undefined ? undefined : word(s));
  const i = inst as Instruction;
  let out: Instruction;
  switch (i.kind) {
    case 'FROM':
      out = { ...i, image: word(i.image), platform: opt(i.platform) };
      break;
    case 'ENV':
    case 'LABEL': {
      const pairs = i.pairs.map((p) => ({ key: word(p.key), value: word(p.value) }));
      if (i.kind === 'ENV') for (const p of pairs) scope.setEnv(p.key, p.value);
      out = { ...i, pairs };
      break;
    }
    case 'ARG': {
      const args = i.args.map((a) => {
        const value = opt(a.value);
        scope.declareArg(a.name, value);
        return { name: a.name, value };
      });
      out = { ...i, args };
      break;
    }
    case 'EXPOSE':
      out = { ...i, ports: parseExposedPorts(i.ports.map((p) => word(p))) };
      break;
    case 'COPY':
    case 'ADD': {
      const chmod = opt(i.chmod);
      if (chmod !== undefined && chmod !== '') parseChmod(chmod);
      const checksum = opt(i.checksum);
      if (checksum !== undefined && !/^sha256:[a-f0-9]{64}$/.test(checksum)) {
        throw new Error(`invalid checksum ${JSON.stringify(checksum)}: expected sha256: and 64 hex digits`);
      }
      out = {
        ...i, sources: i.sources.map((s) => word(s)), dest: word(i.dest), from: opt(i.from), chown: opt(i.chown), chmod, checksum,
        exclude: i.exclude.map((x) => word(x)),
        heredocs: i.heredocs.map((h) => (h.expand ? { ...h, content: word(h.content, scope.lookup, true) } : h)),
      };
      break;
    }
    case 'RUN':
      out = { ...i, mounts: i.mounts.map((m) => word(m, scope.lookup, true)) };
      break;
    case 'WORKDIR':
      out = { ...i, path: word(i.path) };
      break;
    case 'USER':
      out = { ...i, user: word(i.user) };
      break;
    case 'VOLUME':
      out = { ...i, volumes: i.volumes.map((v) => word(v)) };
      if ((out as VolumeInst).volumes.some((v) => v.trim() === '')) throw new Error('VOLUME specified can not be an empty string');
      break;
    case 'STOPSIGNAL':
      out = { ...i, signal: word(i.signal) };
      break;
    default:
      out = i;
  }
  return { inst: out as T, used };
}

/** Like expandInstruction, but errors name the file, line and instruction. */
export function evaluateInstruction<T extends Instruction>(inst: T, scope: StageScope, escape = '\\'): Expanded<T> {
  try {
    return expandInstruction(inst, scope, escape);
  } catch (err) {
    if (err instanceof DockerfileError) throw err;
    throw new DockerfileError(inst.loc.file, inst.loc.startLine, (err as Error).message, inst.kind);
  }
}

// ---- RUN command line --------------------------------------------------------------------------------------------

export type RunCommandLine =
  /** Run argv directly. */
  | { form: 'exec'; argv: string[] }
  /** Run as [...SHELL, command]. */
  | { form: 'shell'; command: string }
  /** A lone heredoc with a shebang: write `content` to a file (mode 0755) and run that file. */
  | { form: 'script'; name: string; content: string };

/** What a RUN step executes, heredocs included (a lone heredoc is the script; otherwise the shell sees them). */
export function runCommandLine(inst: RunInst | CmdInst | EntrypointInst): RunCommandLine {
  if (!inst.shellForm) return { form: 'exec', argv: inst.cmd };
  const command = inst.cmd.join(' ');
  const heredocs = inst.kind === 'RUN' ? inst.heredocs : [];
  if (heredocs.length === 0) return { form: 'shell', command };
  if (heredocs.length === 1 && /^\d*<<-?\S+$/.test(command.trim())) {
    const body = heredocBody(heredocs[0]);
    return body.startsWith('#!') ? { form: 'script', name: heredocs[0].name, content: body } : { form: 'shell', command: body };
  }
  return { form: 'shell', command: heredocs.reduce((acc, h) => `${acc}\n${h.content}${h.name}`, command) };
}
