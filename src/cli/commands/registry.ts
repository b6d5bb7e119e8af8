/** registry serve | garbage-collect: Berth's own registry server, run in the foreground of this process (no daemon). */
import * as fs from 'node:fs';
import { garbageCollect, startRegistry } from '../../registry/server';
import { ramInBytes } from '../../common/units';
import { StatusError, type Command } from '../cli';
import { tryGoDuration } from '../../common/duration';

const DEFAULT_ROOT = '/var/lib/berth-registry';
const rootFlag = { name: 'root', kind: 'string' as const, usage: 'Storage directory of the registry', default: DEFAULT_ROOT };

/** "127.0.0.1:5000", ":5000" (all interfaces, as Go), "[::1]:5000". */
export function parseAddr(addr: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(addr);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new StatusError(1, `invalid --addr "${addr}": expected HOST:PORT`);
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port };
}

const flagValue = <T>(flag: string, parse: () => T): T => {
  try {
    return parse();
  } catch (e) {
    throw new StatusError(1, `--${flag}: ${(e as Error).message}`);
  }
};

const readFile = (flag: string, file: string): Buffer => flagValue(flag, () => fs.readFileSync(file));

export const serve: Command = {
  use: 'serve [OPTIONS]',
  short: 'Run a registry (OCI distribution) in the foreground',
  flags: [
    { name: 'addr', kind: 'string', usage: 'Address to listen on (loopback unless told otherwise)', default: '127.0.0.1:5000' },
    rootFlag,
    { name: 'htpasswd', kind: 'string', usage: 'htpasswd file (bcrypt): require HTTP basic auth' },
    { name: 'tls-cert', kind: 'string', usage: 'TLS certificate (PEM): serve HTTPS' },
    { name: 'tls-key', kind: 'string', usage: 'TLS private key (PEM)' },
    { name: 'read-only', kind: 'bool', usage: 'Refuse every write' },
    { name: 'max-blob-size', kind: 'string', usage: 'Largest blob a client may upload (e.g. 20g; default no limit)' },
    { name: 'upload-max-age', kind: 'string', usage: 'Remove uploads that received nothing for this long', default: '1h' },
  ],
  args: [0, 0],
  async run(_ctx, o) {
    const v = o.values;
    const { host, port } = parseAddr(v.addr as string);
    if (!!v['tls-cert'] !== !!v['tls-key']) throw new StatusError(1, '--tls-cert and --tls-key go together');
    if (v.htpasswd) readFile('htpasswd', v.htpasswd as string);
    const tls = v['tls-cert'] ? { cert: readFile('tls-cert', v['tls-cert'] as string), key: readFile('tls-key', v['tls-key'] as string) } : undefined;
    const maxBlobSize = v['max-blob-size'] ? flagValue('max-blob-size', () => ramInBytes(v['max-blob-size'] as string)) : undefined;
    const uploadMaxAgeMs = flagValue('upload-max-age', () => {
      const ns = tryGoDuration(v['upload-max-age'] as string);
      if (ns === undefined || ns <= 0) throw new Error(`invalid duration "${v['upload-max-age']}" (e.g. 30m, 2h)`);
      return ns / 1e6;
    });
    const reg = await startRegistry({
      root: v.root as string, host, port, htpasswd: (v.htpasswd as string) || undefined, tls, readOnly: v['read-only'] as boolean, maxBlobSize, uploadMaxAgeMs,
    }).catch((e: Error) => {
      throw new StatusError(1, `registry: ${e.message}`);
    });
    process.stderr.write(`Berth registry listening on ${reg.url} (storage ${v.root}${v['read-only'] ? ', read-only' : ''})\n`);
    await new Promise<void>((resolve) => {
      for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => resolve());
    });
    await reg.close();
  },
};

export const garbageCollectCmd: Command = {
  use: 'garbage-collect [OPTIONS]',
  short: 'Delete blobs no manifest references (run it while the registry is stopped or read-only)',
  flags: [rootFlag, { name: 'dry-run', short: 'd', kind: 'bool', usage: 'Only list the blobs that would be deleted' }],
  args: [0, 0],
  async run(_ctx, o) {
    const root = o.values.root as string;
    if (!fs.existsSync(root)) throw new StatusError(1, `registry storage ${root} does not exist`);
    const dry = o.values['dry-run'] as boolean;
    const r = await garbageCollect(root, { dryRun: dry });
    for (const d of r.deleted) process.stdout.write(`blob ${dry ? 'eligible for deletion' : 'deleted'}: ${d}\n`);
    process.stdout.write(`${r.kept} blobs marked, ${r.deleted.length} blobs ${dry ? 'eligible for deletion' : 'deleted'}\n`);
  },
};
