/** push: POST /images/{name}/push with the registry's credentials, docker's progress display. */
import { StatusError, type Command } from '../cli';
import type { EngineClient } from '../../client/engine';
import type { ImageRef } from '../refname';
import { devNull, parseRef, registryAuthHeader, showProgress } from './pull';

/** Pushes a tag (all of the repository's with `all`) with docker's progress, none when quiet. */
export async function pushImage(client: EngineClient, ref: ImageRef, opts: { all?: boolean; quiet?: boolean }): Promise<void> {
  const messages = client.ndjson('POST', `/images/${ref.familiar}/push`, {
    query: { tag: opts.all ? undefined : ref.tag ?? 'latest' },
    headers: { 'X-Registry-Auth': registryAuthHeader(ref) },
  });
  await showProgress(messages, opts.quiet ? devNull : process.stdout);
}

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
    await pushImage(await ctx.client(), ref, { all, quiet });
    if (quiet) process.stdout.write(`${ref.name}${all ? '' : `:${ref.tag ?? 'latest'}`}\n`);
  },
};
