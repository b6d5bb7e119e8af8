/** Image commands: images, rmi, tag, import, save, load. */
import { createReadStream, createWriteStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ImageSummary } from '../../client/types';
import { StatusError, type Command, type Ctx } from '../cli';
import { renderList } from '../format/formatter';
import { IMAGES_HEADER, imageRows, imagesFormat } from '../format/images';
import { parseImageRef } from '../refname';
import { displayJsonMessages } from './progress';
import { filterFlag, filtersQuery, formatFlag } from './util';

export const images: Command = {
  use: 'images [OPTIONS] [REPOSITORY[:TAG]]',
  short: 'List images',
  flags: [
    { name: 'all', short: 'a', kind: 'bool', usage: 'Show all images (default hides intermediate images)' },
    { name: 'digests', kind: 'bool', usage: 'Show digests' },
    filterFlag,
    formatFlag,
    { name: 'no-trunc', kind: 'bool', usage: "Don't truncate output" },
    { name: 'quiet', short: 'q', kind: 'bool', usage: 'Only show image IDs' },
  ],
  args: [0, 1],
  async run(ctx, o) {
    const v = o.values;
    const filters = [...(v.filter as string[]), ...o.args.map((r) => `reference=${r}`)];
    const list = await (await ctx.client()).request<ImageSummary[]>('GET', '/images/json', {
      query: { all: v.all ? 1 : undefined, filters: filtersQuery(filters) },
    });
    const rows = imageRows(list ?? [], { trunc: !v['no-trunc'], digests: v.digests as boolean });
    const format = imagesFormat(v.format as string, v.quiet as boolean, v.digests as boolean);
    process.stdout.write(renderList(format, rows, IMAGES_HEADER));
  },
};

export const rmi: Command = {
  use: 'rmi [OPTIONS] IMAGE [IMAGE...]',
  short: 'Remove one or more images',
  flags: [
    { name: 'force', short: 'f', kind: 'bool', usage: 'Force removal of the image' },
    { name: 'no-prune', kind: 'bool', usage: 'Do not delete untagged parents' },
  ],
  args: [1, Infinity],
  async run(ctx, o) {
    const client = await ctx.client();
    const errors: string[] = [];
    for (const name of o.args) {
      try {
        const items = await client.request<{ Untagged?: string; Deleted?: string }[]>('DELETE', `/images/${name}`, {
          query: { force: o.values.force ? 1 : undefined, noprune: o.values['no-prune'] ? 1 : undefined },
        });
        for (const it of items ?? []) process.stdout.write(it.Deleted ? `Deleted: ${it.Deleted}\n` : `Untagged: ${it.Untagged}\n`);
      } catch (e) {
        errors.push((e as Error).message);
      }
    }
    if (errors.length) throw new StatusError(1, errors.join('\n'));
  },
};

export const tag: Command = {
  use: 'tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]',
  short: 'Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE',
  flags: [],
  args: [2, 2],
  async run(ctx, o) {
    const [source, target] = o.args;
    let ref;
    try {
      ref = parseImageRef(target);
    } catch (e) {
      throw new StatusError(1, `Error parsing reference: "${target}" is not a valid repository/tag: ${(e as Error).message}`);
    }
    if (ref.digest) throw new StatusError(1, 'refusing to create a tag with a digest reference');
    await (await ctx.client()).request('POST', `/images/${source}/tag`, { query: { repo: ref.name, tag: ref.tag ?? 'latest' } });
  },
};

export const importImage: Command = {
  use: 'import [OPTIONS] file|URL|- [REPOSITORY[:TAG]]',
  short: 'Import the contents from a tarball to create a filesystem image',
  flags: [
    { name: 'change', short: 'c', kind: 'list', usage: 'Apply Dockerfile instruction to the created image' },
    { name: 'message', short: 'm', kind: 'string', usage: 'Set commit message for imported image' },
    { name: 'platform', kind: 'string', usage: 'Set platform if server is multi-platform capable' },
  ],
  args: [1, 2],
  async run(ctx, o) {
    const [source, repository = ''] = o.args;
    if (repository) {
      try {
        parseImageRef(repository);
      } catch (e) {
        throw new StatusError(1, (e as Error).message);
      }
    }
    const isUrl = /^https?:\/\//.test(source);
    let body: Readable | undefined;
    if (source === '-') body = process.stdin;
    else if (!isUrl) body = await openForRead(source);
    await importTarball(ctx, isUrl ? source : body, {
      repository, message: o.values.message as string, changes: o.values.change as string[], platform: o.values.platform as string,
    });
  },
};

export interface ImportOptions {
  /** REPOSITORY[:TAG], or '' for an untagged image. */
  repository: string;
  changes: string[];
  message?: string;
  platform?: string;
  /** Berth's extension: the image's `created` time (SOURCE_DATE_EPOCH), for reproducible image ids. */
  sourceDateEpoch?: string;
}

/**
 * POST /images/create?fromSrc=…: a rootfs tarball (stream, or URL for the daemon to fetch) becomes an image. Prints
 * the daemon's messages (the image id) and returns the id.
 */
export async function importTarball(ctx: Ctx, source: Readable | string | undefined, opts: ImportOptions): Promise<string> {
  const body = typeof source === 'string' ? undefined : source;
  const messages = (await ctx.client()).ndjson('POST', '/images/create', {
    query: {
      fromSrc: typeof source === 'string' ? source : '-', repo: opts.repository, tag: '', message: opts.message,
      changes: opts.changes, platform: opts.platform || undefined, sourceDateEpoch: opts.sourceDateEpoch || undefined,
    },
    body,
    contentType: body ? 'application/x-tar' : undefined,
  });
  let id = '';
  async function* remember(): AsyncGenerator<unknown> {
    for await (const m of messages) {
      id = (m as { status?: string }).status ?? id;
      yield m;
    }
  }
  await displayJsonMessages(remember(), process.stdout);
  return id;
}

/** Opens a file, failing early (before any request) with the OS error. */
export function openForRead(path: string): Promise<Readable> {
  return new Promise((resolve, reject) => {
    const s = createReadStream(path);
    s.once('open', () => resolve(s));
    s.once('error', (e) => reject(new StatusError(1, e.message)));
  });
}

export const save: Command = {
  use: 'save [OPTIONS] IMAGE [IMAGE...]',
  short: 'Save one or more images to a tar archive (streamed to STDOUT by default)',
  flags: [
    { name: 'output', short: 'o', kind: 'string', usage: 'Write to a file, instead of STDOUT' },
    { name: 'platform', kind: 'list', usage: 'Save only the given platform(s)' },
  ],
  args: [1, Infinity],
  async run(ctx, o) {
    const output = o.values.output as string;
    if (!output && process.stdout.isTTY) throw new StatusError(1, 'cowardly refusing to save to a terminal. Use the -o flag or redirect');
    const res = await (await ctx.client()).stream('GET', '/images/get', { query: { names: o.args } });
    if (output) {
      // write to a temp name and rename, so a failed save leaves no half file behind
      const { rename, unlink } = await import('node:fs/promises');
      const tmp = `${output}.berth-tmp-${process.pid}`;
      try {
        await pipeline(res, createWriteStream(tmp));
        await rename(tmp, output);
      } catch (e) {
        await unlink(tmp).catch(() => {});
        throw new StatusError(1, `failed to save image: ${(e as Error).message}`);
      }
    } else await pipeline(res, process.stdout, { end: false });
  },
};

export const load: Command = {
  use: 'load [OPTIONS]',
  short: 'Load an image from a tar archive or STDIN',
  flags: [
    { name: 'input', short: 'i', kind: 'string', usage: 'Read from tar archive file, instead of STDIN' },
    { name: 'quiet', short: 'q', kind: 'bool', usage: 'Suppress the load output' },
  ],
  args: [0, 0],
  async run(ctx, o) {
    const input = o.values.input as string;
    if (!input && process.stdin.isTTY) throw new StatusError(1, 'requested load from stdin, but stdin is empty');
    const body = input ? await openForRead(input) : process.stdin;
    const quiet = (o.values.quiet as boolean) || !process.stdout.isTTY;
    const res = await (await ctx.client()).stream('POST', '/images/load', { query: { quiet: quiet ? 1 : undefined }, body, contentType: 'application/x-tar' });
    if (String(res.headers['content-type'] ?? '').includes('json')) {
      const { readNdjson } = await import('../../client/stream');
      await displayJsonMessages(readNdjson(res), process.stdout);
    } else await pipeline(res, process.stdout, { end: false });
  },
};
