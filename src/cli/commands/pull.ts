/** pull, and the progress display shared with push: docker's per-layer bars on a terminal, plain lines otherwise. */
import type { EngineClient } from '../../client/engine';
import { encodeAuthHeader } from '../../registry/client/auth';
import { DockerConfig } from '../../registry/client/dockerconfig';
import { progressBar } from '../../registry/client/progress';
import { StatusError, type Command } from '../cli';
import { parseImageRef, type ImageRef } from '../refname';
import { displayJsonMessages, handledControl, type JsonMessage } from './progress';

/** X-Registry-Auth for a reference's registry, from ~/.docker/config.json (`e30=`, i.e. `{}`, when none). */
export function registryAuthHeader(ref: ImageRef): string {
  const domain = ref.name.slice(0, ref.name.indexOf('/'));
  const auth = new DockerConfig().get(domain);
  return auth.username || auth.identitytoken ? encodeAuthHeader(auth) : 'e30=';
}

/** A CLI image reference; docker's wording and status 1 when invalid. */
export function parseRef(name: string): ImageRef {
  try {
    return parseImageRef(name);
  } catch (e) {
    throw new StatusError(1, (e as Error).message);
  }
}

const line = (m: JsonMessage): string =>
  `${m.id ? `${m.id}: ` : ''}${m.status ?? ''}${m.progressDetail?.current !== undefined ? ' ' + progressBar(m.progressDetail.current, m.progressDetail.total) : ''}`;

/** docker's DisplayJSONMessagesStream: on a terminal each id keeps its line, rewritten in place. */
export async function showProgress(messages: AsyncIterable<unknown>, out: NodeJS.WriteStream, onAux?: (aux: unknown) => void): Promise<void> {
  if (!out.isTTY) return displayJsonMessages(messages, out, onAux);
  const rows = new Map<string, number>();
  let count = 0;
  for await (const raw of messages) {
    const m = raw as JsonMessage;
    if (handledControl(m, onAux)) continue;
    if (m.stream) {
      out.write(m.stream);
      continue;
    }
    const row = m.id ? rows.get(m.id) : undefined;
    if (row === undefined) {
      if (m.id) rows.set(m.id, count);
      out.write(line(m) + '\n');
      count++;
    } else {
      const up = count - row;
      out.write(`\x1b[${up}A\r\x1b[2K${line(m)}\x1b[${up}B\r`);
    }
  }
}

/** A progress display that shows nothing (--quiet). */
export const devNull = { write: () => true, isTTY: false } as unknown as NodeJS.WriteStream;

export async function pullImage(client: EngineClient, ref: ImageRef, opts: { all?: boolean; platform?: string; quiet?: boolean }): Promise<void> {
  const messages = client.ndjson('POST', '/images/create', {
    query: { fromImage: ref.name, tag: opts.all ? undefined : ref.digest ?? ref.tag ?? 'latest', platform: opts.platform || undefined },
    headers: { 'X-Registry-Auth': registryAuthHeader(ref) },
  });
  await showProgress(messages, opts.quiet ? devNull : process.stdout);
}

export const pull: Command = {
  use: 'pull [OPTIONS] NAME[:TAG|@DIGEST]',
  short: 'Download an image from a registry',
  flags: [
    { name: 'all-tags', short: 'a', kind: 'bool', usage: 'Download all tagged images in the repository' },
    { name: 'disable-content-trust', kind: 'bool', usage: 'Skip image verification', default: true },
    { name: 'platform', kind: 'string', usage: 'Set platform if server is multi-platform capable' },
    { name: 'quiet', short: 'q', kind: 'bool', usage: 'Suppress verbose output' },
  ],
  args: [1, 1],
  async run(ctx, o) {
    const ref = parseRef(o.args[0]);
    const all = o.values['all-tags'] as boolean;
    if (all && (ref.tag || ref.digest)) throw new StatusError(1, 'tag can\'t be used with --all-tags/-a');
    const quiet = o.values.quiet as boolean;
    if (!all && !ref.tag && !ref.digest && !quiet) process.stdout.write('Using default tag: latest\n');
    await pullImage(await ctx.client(), ref, { all, platform: o.values.platform as string, quiet });
    if (!all) process.stdout.write(`${ref.name}${ref.digest ? `@${ref.digest}` : `:${ref.tag ?? 'latest'}`}\n`);
  },
};
