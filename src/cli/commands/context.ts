/** berth context create|use|ls|inspect|rm|export|import|update, as docker's (same store: see ../contexts). */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { StatusError, type Command } from '../cli';
import { checkName, ContextError, ContextStore, DEFAULT_CONTEXT, defaultHost, TLS_FILES, type ContextMeta } from '../contexts';
import { renderInspect, renderList } from '../format/formatter';
import type { FlagSpec } from '../flags';

const LS_FORMAT = 'table {{.Name}}{{if .Current}} *{{end}}\t{{.Description}}\t{{.DockerEndpoint}}\t{{.Error}}';
const LS_HEADER = { Name: 'NAME', Description: 'DESCRIPTION', DockerEndpoint: 'DOCKER ENDPOINT', Error: 'ERROR', Current: false };
const DEFAULT_DESCRIPTION = 'Current DOCKER_HOST based configuration';

type Tls = Partial<Record<(typeof TLS_FILES)[number], Buffer>>;

/** Runs `f`, turning a ContextError into docker's status 1 with its one-line message. */
async function guarded(f: () => Promise<void> | void): Promise<void> {
  try {
    await f();
  } catch (e) {
    if (e instanceof ContextError) throw new StatusError(1, e.message);
    throw e;
  }
}

/** `--docker host=...,ca=...,cert=...,key=...,skip-tls-verify=true` (pure but for reading the PEM files). */
export function parseDockerEndpoint(spec: string): { Host?: string; SkipTLSVerify: boolean; tls: Tls } {
  const out: { Host?: string; SkipTLSVerify: boolean; tls: Tls } = { SkipTLSVerify: false, tls: {} };
  for (const part of spec.split(',').filter(Boolean)) {
    const i = part.indexOf('=');
    const [k, v] = i < 0 ? [part, ''] : [part.slice(0, i), part.slice(i + 1)];
    if (k === 'host') out.Host = v;
    else if (k === 'skip-tls-verify') out.SkipTLSVerify = v === 'true' || v === '1';
    else if (k === 'ca' || k === 'cert' || k === 'key') {
      try {
        out.tls[`${k}.pem`] = fs.readFileSync(v);
      } catch (e) {
        throw new ContextError(`unable to read ${k} file ${v}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      }
    } else throw new ContextError(`unrecognized config key: ${k} (in --docker "${spec}"; use host, ca, cert, key or skip-tls-verify)`);
  }
  if (out.Host && !/^(unix|tcp|ssh|fd):\/\//.test(out.Host)) throw new ContextError(`unable to parse docker host "${out.Host}": use unix://, tcp:// or ssh://`);
  return out;
}

const dockerFlag: FlagSpec = { name: 'docker', kind: 'string', usage: 'set the docker endpoint (host=..., ca=..., cert=..., key=..., skip-tls-verify=bool)' };
const descriptionFlag: FlagSpec = { name: 'description', kind: 'string', usage: 'Description of the context' };

export const contextCreate: Command = {
  use: 'create [OPTIONS] CONTEXT',
  short: 'Create a context',
  flags: [descriptionFlag, dockerFlag, { name: 'from', kind: 'string', usage: 'create context from a named context' }],
  args: [1, 1],
  run: (_ctx, o) => guarded(() => {
    const name = o.args[0];
    const store = new ContextStore();
    checkName(name);
    if (store.exists(name)) throw new ContextError(`context "${name}" already exists`);
    const from = o.values.from as string;
    let meta: ContextMeta;
    let tls: Tls;
    if (from && from !== DEFAULT_CONTEXT) {
      meta = { ...store.get(from), Name: name };
      tls = store.tls(from);
    } else {
      const ep = parseDockerEndpoint((o.values.docker as string) || '');
      meta = { Name: name, Metadata: {}, Endpoints: { docker: { Host: ep.Host ?? defaultHost(process.env), SkipTLSVerify: ep.SkipTLSVerify } } };
      tls = ep.tls;
    }
    if (o.values.description) meta.Metadata.Description = o.values.description as string;
    store.save(meta, tls);
    process.stdout.write(`${name}\n`);
    process.stderr.write(`Successfully created context "${name}"\n`);
  }),
};

export const contextUpdate: Command = {
  use: 'update [OPTIONS] CONTEXT',
  short: 'Update a context',
  flags: [descriptionFlag, dockerFlag],
  args: [1, 1],
  run: (_ctx, o) => guarded(() => {
    const name = o.args[0];
    checkName(name);
    const store = new ContextStore();
    const meta = store.get(name);
    if (o.values.description) meta.Metadata.Description = o.values.description as string;
    let tls: Tls | undefined;
    if (o.values.docker) {
      const ep = parseDockerEndpoint(o.values.docker as string);
      meta.Endpoints.docker = { ...meta.Endpoints.docker, ...(ep.Host ? { Host: ep.Host } : {}), SkipTLSVerify: ep.SkipTLSVerify };
      if (Object.keys(ep.tls).length) tls = ep.tls;
    }
    store.save(meta, tls);
    process.stdout.write(`${name}\n`);
    process.stderr.write(`Successfully updated context "${name}"\n`);
  }),
};

export const contextUse: Command = {
  use: 'use CONTEXT',
  short: 'Set the current docker context',
  flags: [],
  args: [1, 1],
  run: (_ctx, o) => guarded(() => {
    const name = o.args[0];
    const store = new ContextStore();
    if (name !== DEFAULT_CONTEXT) store.get(name);
    store.setCurrent(name);
    process.stdout.write(`${name}\n`);
    process.stderr.write(`Current context is now "${name}"\n`);
    if (process.env.DOCKER_HOST) process.stderr.write('Warning: DOCKER_HOST environment variable overrides the active context. To use a context, either set the global --context flag, or unset DOCKER_HOST environment variable.\n');
  }),
};

export const contextLs: Command = {
  use: 'ls [OPTIONS]',
  short: 'List contexts',
  flags: [{ name: 'format', kind: 'string', usage: 'Format output using a custom template' }, { name: 'quiet', short: 'q', kind: 'bool', usage: 'Only show context names' }],
  args: [0, 0],
  run: (ctx, o) => guarded(() => {
    const current = ctx.contextName();
    const rows = [
      { Name: DEFAULT_CONTEXT, Description: DEFAULT_DESCRIPTION, DockerEndpoint: defaultHost(process.env), Error: '' },
      ...new ContextStore().list().map((m) => ({ Name: m.Name, Description: m.Metadata?.Description ?? '', DockerEndpoint: m.Endpoints?.docker?.Host ?? '', Error: '' })),
    ].map((r) => ({ ...r, Current: r.Name === current }));
    const format = o.values.quiet ? '{{.Name}}' : (o.values.format as string) || LS_FORMAT;
    process.stdout.write(renderList(format, rows, LS_HEADER));
  }),
};

export const contextInspect: Command = {
  use: 'inspect [OPTIONS] [CONTEXT] [CONTEXT...]',
  short: 'Display detailed information on one or more contexts',
  flags: [{ name: 'format', short: 'f', kind: 'string', usage: 'Format output using a custom template' }],
  args: [0, Infinity],
  run: (ctx, o) => guarded(() => {
    const store = new ContextStore();
    const names = o.args.length ? o.args : [ctx.contextName()];
    const out = names.map((name) => {
      if (name === DEFAULT_CONTEXT) {
        return { Name: name, Metadata: {}, Endpoints: { docker: { Host: defaultHost(process.env), SkipTLSVerify: false } }, TLSMaterial: {}, Storage: { MetadataPath: '<IN MEMORY>', TLSPath: '<IN MEMORY>' } };
      }
      const meta = store.get(name);
      const files = Object.keys(store.tls(name));
      return { ...meta, TLSMaterial: files.length ? { docker: files } : {}, Storage: { MetadataPath: store.metaDir(name), TLSPath: path.dirname(store.tlsDir(name)) } };
    });
    const format = o.values.format as string;
    process.stdout.write(renderInspect(format, out));
  }),
};

export const contextRm: Command = {
  use: 'rm CONTEXT [CONTEXT...]',
  short: 'Remove one or more contexts',
  flags: [{ name: 'force', short: 'f', kind: 'bool', usage: 'Force the removal of a context in use' }],
  args: [1, Infinity],
  run: (_ctx, o) => guarded(() => {
    const store = new ContextStore();
    const current = store.current();
    for (const name of o.args) {
      if (name === DEFAULT_CONTEXT) throw new ContextError('default: context "default" cannot be removed');
      store.get(name);
      if (name === current && !o.values.force) throw new ContextError(`${name}: context "${name}" is in use, set -f flag to force remove`);
      store.remove(name);
      if (name === current) store.setCurrent(DEFAULT_CONTEXT);
      process.stdout.write(`${name}\n`);
    }
  }),
};

export const contextExport: Command = {
  use: 'export [OPTIONS] CONTEXT [FILE|-]',
  short: 'Export a context to a tar archive FILE or a tar stream on STDOUT.',
  flags: [],
  args: [1, 2],
  run: (_ctx, o) => guarded(async () => {
    const [name, file = `${o.args[0]}.dockercontext`] = o.args;
    if (name === DEFAULT_CONTEXT) throw new ContextError('default: the default context cannot be exported; create a context from it with --from default');
    const store = new ContextStore();
    const { exportContext } = await import('../context-archive');
    const tar = await exportContext(store.get(name), store.tls(name));
    if (file === '-') process.stdout.write(tar);
    else {
      fs.writeFileSync(file, tar, { mode: 0o600 });
      process.stderr.write(`Written file "${file}"\n`);
    }
  }),
};

export const contextImport: Command = {
  use: 'import CONTEXT FILE|-',
  short: 'Import a context from a tar or zip file',
  flags: [],
  args: [2, 2],
  run: (_ctx, o) => guarded(async () => {
    const [name, file] = o.args;
    checkName(name);
    const store = new ContextStore();
    if (store.exists(name)) throw new ContextError(`context "${name}" already exists`);
    const { importContext } = await import('../context-archive');
    const { meta, tls } = await importContext(file === '-' ? fs.readFileSync(0) : fs.readFileSync(file), file);
    store.save({ ...meta, Name: name }, tls);
    process.stdout.write(`${name}\n`);
    process.stderr.write(`Successfully imported context "${name}"\n`);
  }),
};
