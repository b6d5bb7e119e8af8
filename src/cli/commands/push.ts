/** push: POST /images/{name}/push with the registry's credentials, docker's progress display. */
import { StatusError, type Command } from '../cli';
import { parseRef, registryAuthHeader, showProgress } from './pull';

const devNull = { write: () => true, isTTY: false } as unknown as NodeJS.WriteStream;

export const push: Command = {
  use: 'push [OPTIONS] NAME[:TAG]',
  short: 'Upload an image to a registry',
  flags: [
    { name: 'all-tags', short: 'a', kind: 'bool', usage: 'Push all tags of an image to the repository' },
    { name: 'disable-content-trust', kind: 'bool', usage: 'Skip image signing', default: true },
    { name: 'quiet', short: 'q', kind: 'bool', usage: 'Suppress verbose output' },
  ],
  args: [1, 1],
  async run(ctx, o) {
    const ref = parseRef(o.args[0]);
    const all = o.values['all-tags'] as boolean;
    const quiet = o.values.quiet as boolean;
    if (ref.digest) throw new StatusError(1, 'cannot push a digest reference');
    if (all && ref.tag) throw new StatusError(1, 'tag can\'t be used with --all-tags/-a');
    if (!all && !ref.tag && !quiet) process.stdout.write('Using default tag: latest\n');
    const messages = (await ctx.client()).ndjson('POST', `/images/${ref.familiar}/push`, {
      query: { tag: all ? undefined : ref.tag ?? 'latest' },
      headers: { 'X-Registry-Auth': registryAuthHeader(ref) },
    });
    await showProgress(messages, quiet ? devNull : process.stdout);
    if (quiet) process.stdout.write(`${ref.name}${all ? '' : `:${ref.tag ?? 'latest'}`}\n`);
  },
};
