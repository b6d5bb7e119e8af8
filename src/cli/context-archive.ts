/** docker context export/import archives: a tar holding meta.json and tls/docker/{ca,cert,key}.pem. */
import * as tarStream from 'tar-stream';
import { ContextError, TLS_FILES, type ContextMeta } from './contexts';

type Tls = Partial<Record<(typeof TLS_FILES)[number], Buffer>>;

export async function exportContext(meta: ContextMeta, tls: Tls): Promise<Buffer> {
  const pack = tarStream.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (c: unknown) => chunks.push(c as Buffer));
  const done = new Promise<void>((resolve) => pack.on('end', () => resolve()));
  pack.entry({ name: 'meta.json', mode: 0o644 }, JSON.stringify(meta));
  const files = Object.entries(tls);
  if (files.length) {
    pack.entry({ name: 'tls', type: 'directory', mode: 0o700 });
    pack.entry({ name: 'tls/docker', type: 'directory', mode: 0o700 });
    for (const [f, data] of files) pack.entry({ name: `tls/docker/${f}`, mode: 0o600 }, data);
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

/** Reads an export; only meta.json and the three TLS files are taken (anything else is refused). */
export async function importContext(data: Buffer, what: string): Promise<{ meta: ContextMeta; tls: Tls }> {
  const extract = tarStream.extract();
  let meta: ContextMeta | undefined;
  const tls: Tls = {};
  const done = new Promise<void>((resolve, reject) => {
    extract.on('entry', (header, stream, next) => {
      const parts: Buffer[] = [];
      stream.on('data', (c: unknown) => parts.push(c as Buffer));
      stream.on('end', () => {
        const name = header.name.replace(/^\.\//, '').replace(/\/$/, '');
        const body = Buffer.concat(parts);
        if (name === 'meta.json') {
          try {
            meta = JSON.parse(body.toString('utf8')) as ContextMeta;
          } catch (e) {
            return reject(new ContextError(`${what}: meta.json is not valid JSON (${(e as Error).message})`));
          }
        } else if ((TLS_FILES as readonly string[]).includes(name.slice('tls/docker/'.length)) && name.startsWith('tls/docker/')) {
          tls[name.slice('tls/docker/'.length) as (typeof TLS_FILES)[number]] = body;
        } else if (header.type !== 'directory') {
          return reject(new ContextError(`${what}: unexpected file ${JSON.stringify(header.name)} in a context archive`));
        }
        next();
      });
    });
    extract.on('finish', resolve);
    extract.on('error', (e: Error) => reject(new ContextError(`${what}: not a context archive (${e.message})`)));
  });
  // docker's exports stop after the last file's data (its writer is never closed): no padding, no end blocks
  extract.end(Buffer.concat([data, Buffer.alloc((512 - (data.length % 512)) % 512 + 1024)]));
  await done;
  if (!meta) throw new ContextError(`${what}: not a context archive (no meta.json)`);
  return { meta, tls };
}
