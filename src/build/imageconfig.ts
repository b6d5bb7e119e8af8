/**
 * What each Dockerfile instruction does to the image config (the runtime `config` part) and the history text docker's
 * legacy builder records for it (`/bin/sh -c #(nop)  CMD ["sh"]`). Pure: the executor owns the side effects.
 */
import type { ContainerConfig } from '../schema/container';
import type { Instruction, RunInst } from './instructions';

export const DEFAULT_SHELL = ['/bin/sh', '-c'];

/** Per-stage facts the config rules depend on. */
export interface StageFacts {
  /** A CMD was given in this stage (ENTRYPOINT then keeps it; otherwise ENTRYPOINT resets an inherited CMD). */
  cmdSet: boolean;
}

const shellOf = (cfg: ContainerConfig): string[] => (cfg.Shell?.length ? cfg.Shell : DEFAULT_SHELL);

/** Shell form runs through the image's SHELL; exec form is taken as is. */
export function commandOf(cfg: ContainerConfig, inst: { cmd: string[]; shellForm: boolean }): string[] {
  return inst.shellForm ? [...shellOf(cfg), ...inst.cmd] : [...inst.cmd];
}

/** Go's %q of a []string, as docker prints slices in history: ["cat" "/built"]. */
const goSlice = (xs: readonly string[]): string => `[${xs.map((x) => JSON.stringify(x)).join(' ')}]`;

/** Applies a metadata-only instruction (not RUN/COPY/ADD/FROM/ARG) to a copy of `cfg`. */
export function applyMetadata(cfg: ContainerConfig, inst: Instruction, facts: StageFacts, env: string[]): ContainerConfig {
  const out: ContainerConfig = { ...cfg };
  switch (inst.kind) {
    case 'ENV':
      out.Env = env;
      break;
    case 'CMD':
      out.Cmd = commandOf(cfg, inst);
      facts.cmdSet = true;
      break;
    case 'ENTRYPOINT':
      out.Entrypoint = commandOf(cfg, inst);
      if (!facts.cmdSet) out.Cmd = null;
      break;
    case 'WORKDIR':
      out.WorkingDir = inst.path;
      break;
    case 'USER':
      out.User = inst.user;
      break;
    case 'EXPOSE':
      out.ExposedPorts = { ...cfg.ExposedPorts };
      for (const p of inst.ports) out.ExposedPorts[p] = {};
      break;
    case 'VOLUME':
      out.Volumes = { ...cfg.Volumes };
      for (const v of inst.volumes) out.Volumes[v] = {};
      break;
    case 'LABEL':
      out.Labels = { ...cfg.Labels };
      for (const p of inst.pairs) out.Labels[p.key] = p.value;
      break;
    case 'STOPSIGNAL':
      out.StopSignal = inst.signal;
      break;
    case 'HEALTHCHECK': {
      const h = inst.health;
      out.Healthcheck = h.Test[0] === 'NONE' ? { Test: ['NONE'] } : {
        Test: h.Test,
        ...(h.Interval ? { Interval: h.Interval } : {}),
        ...(h.Timeout ? { Timeout: h.Timeout } : {}),
        ...(h.StartPeriod ? { StartPeriod: h.StartPeriod } : {}),
        ...(h.Retries ? { Retries: h.Retries } : {}),
      };
      break;
    }
    case 'ONBUILD':
      out.OnBuild = [...(cfg.OnBuild ?? []), inst.expression];
      break;
    case 'SHELL':
      out.Shell = inst.shell;
      break;
    case 'MAINTAINER':
    case 'ARG':
      break;
    default:
      throw new Error(`${inst.kind} is not a metadata instruction`);
  }
  return out;
}

/** Build args a RUN sees, as docker's history prefix: `|2 A=1 B=2 `. */
function argsPrefix(args: Readonly<Record<string, string>>): string {
  const kv = Object.keys(args).sort().map((k) => `${k}=${args[k]}`);
  return kv.length ? `|${kv.length} ${kv.join(' ')} ` : '';
}

/** The `created_by` of a history entry (the substituted instruction). */
export function createdBy(inst: Instruction, cfg: ContainerConfig, extra: { args?: Record<string, string>; sourceDigest?: string; dest?: string } = {}): string {
  const nop = (text: string): string => `${shellOf(cfg).join(' ')} #(nop) ${text}`;
  switch (inst.kind) {
    case 'RUN':
      return argsPrefix(extra.args ?? {}) + runText(inst, cfg);
    case 'COPY':
    case 'ADD':
      return nop(`${inst.kind} ${extra.sourceDigest ?? ''} in ${extra.dest ?? inst.dest} `);
    case 'WORKDIR':
      return nop(`WORKDIR ${inst.path}`);
    case 'CMD':
    case 'ENTRYPOINT':
      return nop(` ${inst.kind} ${goSlice(commandOf(cfg, inst))}`);
    case 'ENV':
    case 'LABEL':
      return nop(` ${inst.kind} ${inst.pairs.map((p) => `${p.key}=${p.value}`).join(' ')}`);
    case 'ARG':
      return nop(` ARG ${inst.args.map((a) => (a.value === undefined ? a.name : `${a.name}=${a.value}`)).join(' ')}`);
    case 'EXPOSE':
      return nop(` EXPOSE ${inst.ports.join(' ')}`);
    case 'VOLUME':
      return nop(` VOLUME ${goSlice(inst.volumes)}`);
    case 'USER':
      return nop(` USER ${inst.user}`);
    case 'SHELL':
      return nop(` SHELL ${goSlice(inst.shell)}`);
    case 'STOPSIGNAL':
      return nop(` STOPSIGNAL ${inst.signal}`);
    case 'HEALTHCHECK':
      return nop(` HEALTHCHECK ${inst.health.Test[0] === 'NONE' ? 'NONE' : `&{${goSlice(inst.health.Test)}}`}`);
    case 'ONBUILD':
      return nop(` ONBUILD ${inst.expression}`);
    case 'MAINTAINER':
      return nop(` MAINTAINER ${inst.maintainer}`);
    default:
      return nop(inst.original);
  }
}

/** The command a RUN executes as docker words it in history and errors: "/bin/sh -c make". */
export function runText(inst: RunInst, cfg: ContainerConfig): string {
  return commandOf(cfg, { cmd: inst.shellForm ? [inst.cmd.join(' ')] : inst.cmd, shellForm: inst.shellForm }).join(' ');
}
