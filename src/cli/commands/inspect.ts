/** `inspect` (container, then image, then network, then volume, as docker's inspectAll), and the typed forms. */
import { EngineError, type EngineClient } from '../../client/engine';
import { StatusError, type Command, type Ctx } from '../cli';
import type { FlagSpec, ParsedFlags } from '../flags';
import { renderInspect } from '../format/formatter';

type Kind = 'container' | 'image' | 'network' | 'volume';

const PATHS: Record<Kind, (name: string, size: boolean) => [string, Record<string, number | undefined>]> = {
  container: (n, size) => [`/containers/${n}/json`, { size: size ? 1 : undefined }],
  image: (n) => [`/images/${n}/json`, {}],
  network: (n) => [`/networks/${n}`, {}],
  volume: (n) => [`/volumes/${n}`, {}],
};

async function lookup(client: EngineClient, kinds: Kind[], name: string, size: boolean): Promise<unknown> {
  for (const kind of kinds) {
    const [path, query] = PATHS[kind](name, size);
    try {
      return await client.request('GET', path, { query });
    } catch (e) {
      if (!(e instanceof EngineError && e.status === 404)) throw e;
    }
  }
  const what = kinds.length === 1 ? kinds[0] : 'object';
  throw new Error(`No such ${what}: ${name}`);
}

const formatFlag: FlagSpec = { name: 'format', short: 'f', kind: 'string', usage: 'Format output using a custom template:\n' +
  "'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template." };

async function inspectRun(ctx: Ctx, o: ParsedFlags, kinds: Kind[]): Promise<number> {
  const client = await ctx.client();
  const format = o.values.format as string;
  const found: unknown[] = [];
  const errors: string[] = [];
  for (const name of o.args) {
    try {
      found.push(await lookup(client, kinds, name, o.values.size as boolean));
    } catch (e) {
      if (e instanceof EngineError || !(e instanceof Error)) throw e;
      errors.push(e.message);
    }
  }
  process.stdout.write(renderInspect(format, found));
  if (errors.length) throw new StatusError(1, `Error: ${errors.join('\n')}`);
  return 0;
}

export const inspect: Command = {
  use: 'inspect [OPTIONS] NAME|ID [NAME|ID...]',
  short: 'Return low-level information on Berth objects',
  flags: [
    formatFlag,
    { name: 'size', short: 's', kind: 'bool', usage: 'Display total file sizes if the type is container' },
    { name: 'type', kind: 'string', usage: 'Only inspect objects of the given type' },
  ],
  args: [1, Infinity],
  run(ctx, o) {
    const type = o.values.type as string;
    if (type && !(type in PATHS)) throw new StatusError(1, `"${type}" is not a valid value for --type`);
    return inspectRun(ctx, o, type ? [type as Kind] : ['container', 'image', 'network', 'volume']);
  },
};

export const containerInspect: Command = {
  use: 'inspect [OPTIONS] CONTAINER [CONTAINER...]',
  short: 'Display detailed information on one or more containers',
  flags: [formatFlag, { name: 'size', short: 's', kind: 'bool', usage: 'Display total file sizes' }],
  args: [1, Infinity],
  run: (ctx, o) => inspectRun(ctx, o, ['container']),
};

export const imageInspect: Command = {
  use: 'inspect [OPTIONS] IMAGE [IMAGE...]',
  short: 'Display detailed information on one or more images',
  flags: [formatFlag],
  args: [1, Infinity],
  run: (ctx, o) => inspectRun(ctx, o, ['image']),
};
