/**
 * `berth compose`: Docker Compose v2's command line, built in. The compose flags come before the subcommand; the
 * project is loaded (and validated) before any request is sent, then the subcommand talks to the engine through
 * the same Engine API client as every other command.
 */
import { StatusError, type Command } from '../cli';
import { FlagError, flagUsages, parseFlags, type ParsedFlags } from '../flags';
import { loadProject, type Project } from '../compose/loader';
import { ComposeError } from '../compose/source';
import { SUBCOMMANDS, type SubCommand } from '../compose/commands';
import { output } from '../compose/engine';

const composeFlags = [
  { name: 'file', short: 'f', kind: 'list' as const, varname: 'stringArray', usage: 'Compose configuration files' },
  { name: 'project-name', short: 'p', kind: 'string' as const, usage: 'Project name' },
  { name: 'project-directory', kind: 'string' as const, usage: 'Specify an alternate working directory\n(default: the path of the, first specified, Compose file)' },
  { name: 'env-file', kind: 'list' as const, varname: 'stringArray', usage: 'Specify an alternate environment file' },
  { name: 'profile', kind: 'list' as const, varname: 'stringArray', usage: 'Specify a profile to enable' },
  { name: 'ansi', kind: 'string' as const, usage: 'Control when to print ANSI control characters ("never"|"always"|"auto")', default: 'auto' },
  { name: 'progress', kind: 'string' as const, usage: 'Set type of progress output (auto, tty, plain, quiet)', default: 'auto' },
];

function usage(): string {
  return `\nUsage:  berth compose [OPTIONS] COMMAND\n\nDefine and run multi-container applications with Berth\n\nOptions:\n${flagUsages(composeFlags)}\nCommands:\n` +
    Object.entries(SUBCOMMANDS).sort(([a], [b]) => a.localeCompare(b)).map(([k, c]) => `  ${k.padEnd(10)} ${c.short}\n`).join('') +
    `\nRun 'berth compose COMMAND --help' for more information on a command.\n`;
}

export const compose: Command = {
  use: 'compose [OPTIONS] COMMAND',
  short: 'Define and run multi-container applications',
  flags: composeFlags,
  interspersed: false,
  async run(ctx, o) {
    const [name, ...rest] = o.args;
    if (!name) {
      process.stdout.write(usage());
      return 0;
    }
    const sub: SubCommand | undefined = SUBCOMMANDS[name];
    if (!sub) throw new StatusError(1, `berth: 'compose ${name}' is not a berth command.\nSee 'berth compose --help'`);
    let parsed: ParsedFlags;
    try {
      parsed = parseFlags(rest, sub.flags, sub.interspersed !== false);
    } catch (e) {
      if (e instanceof FlagError) throw new StatusError(1, `${e.message}\nSee 'berth compose ${name} --help'.`);
      throw e;
    }
    if (parsed.help) {
      const opts = flagUsages(sub.flags);
      process.stdout.write(`\nUsage:  berth compose ${sub.use}\n\n${sub.short}\n\n${opts ? `Options:\n${opts}` : ''}`);
      return 0;
    }
    const ansi = o.values.ansi as string;
    const mode = o.values.progress as string;
    if (!['never', 'always', 'auto'].includes(ansi)) throw new StatusError(1, `invalid --ansi value ${JSON.stringify(ansi)}: use never, always or auto`);
    if (!['auto', 'tty', 'plain', 'quiet'].includes(mode)) throw new StatusError(1, `invalid --progress value ${JSON.stringify(mode)}: use auto, tty, plain or quiet`);
    output.quiet = mode === 'quiet';
    output.color = ansi === 'auto' ? undefined : ansi === 'always';
    const load = (): Project => {
      const v = o.values;
      try {
        return loadProject({
          files: v.file as string[], projectName: (v['project-name'] as string) || undefined,
          projectDirectory: (v['project-directory'] as string) || undefined, envFiles: v['env-file'] as string[],
          profiles: v.profile as string[], env: process.env, cwd: process.cwd(),
        });
      } catch (e) {
        if (e instanceof ComposeError) throw new StatusError(1, e.message);
        throw e;
      }
    };
    try {
      return await sub.run({ ctx, load, projectName: (o.values['project-name'] as string) || undefined }, parsed);
    } catch (e) {
      if (e instanceof StatusError) throw e;
      throw new StatusError(1, (e as Error).message);
    }
  },
};

