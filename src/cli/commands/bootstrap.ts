/**
 * `berth image bootstrap SUITE`: a Debian base image without a registry. mmdebstrap builds a root filesystem from the
 * host's own apt sources on this machine (as `docker build` reads its context locally), and the tarball is imported
 * through the API exactly as `berth import` does. State goes only through the daemon.
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { StatusError, type Command, type Ctx } from '../cli';
import { parseImageRef } from '../refname';
import { importTarball, openForRead } from './images';

/** Where the host keeps its apt sources (one-line .list files and deb822 .sources files). */
const SOURCES_LIST = '/etc/apt/sources.list';
const SOURCES_DIR = '/etc/apt/sources.list.d';
const MERGED_USR_HOOK = '/usr/share/mmdebstrap/hooks/merged-usr';
/** The host's apt settings that decide whether its mirror is usable at all (snapshots have expired Release files). */
const HOST_APT_OPTIONS = ['Acquire::Check-Valid-Until', 'Acquire::Check-Date'];

/** What docker's debian images leave out (the "-slim" tags): documentation, manuals, translations. */
export const SLIM_DPKG_OPTIONS = [
  'path-exclude=/usr/share/man/*', 'path-exclude=/usr/share/groff/*', 'path-exclude=/usr/share/info/*',
  'path-exclude=/usr/share/lintian/*', 'path-exclude=/usr/share/linda/*',
  'path-exclude=/usr/share/locale/*', 'path-include=/usr/share/locale/locale.alias',
  'path-exclude=/usr/share/doc/*', 'path-include=/usr/share/doc/*/copyright',
];

/** Config defaults of docker's debian images; the user's --change lines come after and win. */
export const DEFAULT_CHANGES = ['ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'CMD ["bash"]'];

export interface SourceEntry {
  file: string;
  suites: string[];
}

/** The suites each enabled `deb` entry of an apt sources file names (deb822 when `deb822`, else one-line). Pure. */
export function parseSources(file: string, text: string, deb822: boolean): SourceEntry {
  const suites: string[] = [];
  if (deb822) {
    for (const stanza of text.split(/\n\s*\n/)) {
      const fields = new Map<string, string>();
      let last = '';
      for (const line of stanza.split('\n')) {
        if (/^\s*#/.test(line) || !line.trim()) continue;
        if (/^\s/.test(line)) {
          if (last) fields.set(last, `${fields.get(last)} ${line.trim()}`);
          continue;
        }
        const m = /^([\w-]+):\s*(.*)$/.exec(line);
        if (m) fields.set((last = m[1].toLowerCase()), m[2].trim());
      }
      const words = (k: string): string[] => (fields.get(k) ?? '').split(/\s+/).filter(Boolean);
      if (!words('types').includes('deb') || /^(no|false|0)$/i.test(fields.get('enabled') ?? '')) continue;
      suites.push(...words('suites'));
    }
  } else {
    for (const line of text.split('\n')) {
      const words = line.replace(/#.*/, '').replace(/\[[^\]]*\]/, '').trim().split(/\s+/);
      if (words[0] === 'deb' && words[2]) suites.push(words[2]);
    }
  }
  return { file, suites };
}

/** The source files that serve `suite` (or its -updates/-security companions only together with it). Pure. */
export function sourcesFor(suite: string, entries: SourceEntry[]): string[] {
  const serves = (s: string): boolean => s === suite || s.startsWith(`${suite}-`) || s.startsWith(`${suite}/`);
  if (!entries.some((e) => e.suites.includes(suite))) {
    const known = [...new Set(entries.flatMap((e) => e.suites))];
    const where = entries.map((e) => e.file).join(', ') || `${SOURCES_LIST} or ${SOURCES_DIR}`;
    throw new StatusError(1, `unknown suite "${suite}": the host's apt sources (${where}) offer ${known.length ? known.join(', ') : 'none'}`);
  }
  return entries.filter((e) => e.suites.some(serves)).map((e) => e.file);
}

export interface BootstrapSpec {
  suite: string;
  variant: string;
  slim: boolean;
  include: string[];
  aptopts: string[];
  dpkgopts: string[];
  hooks: { setup: string[]; essential: string[]; customize: string[] };
  quiet: boolean;
}

/** mmdebstrap's argument list for `spec`, writing `target` (a .tar) from the `mirrors` source files. Pure. */
export function mmdebstrapArgs(spec: BootstrapSpec, target: string, mirrors: string[]): string[] {
  const args = [`--variant=${spec.variant}`];
  if (spec.slim) args.push(`--hook-dir=${MERGED_USR_HOOK}`, ...SLIM_DPKG_OPTIONS.map((o) => `--dpkgopt=${o}`));
  args.push(...spec.dpkgopts.map((o) => `--dpkgopt=${o}`), ...spec.aptopts.map((o) => `--aptopt=${o}`));
  if (spec.include.length) args.push(`--include=${spec.include.join(',')}`);
  for (const [kind, hooks] of Object.entries(spec.hooks)) args.push(...hooks.map((h) => `--${kind}-hook=${h}`));
  if (spec.quiet) args.push('--quiet');
  return [...args, spec.suite, target, ...mirrors];
}

/** "a,b" "c" → [a, b, c] (docker's list flags that also take commas). */
const commaList = (values: string[]): string[] => values.flatMap((v) => v.split(',')).map((v) => v.trim()).filter(Boolean);

export const bootstrap: Command = {
  use: 'bootstrap [OPTIONS] SUITE',
  short: "Create a base image from Debian packages with mmdebstrap and the host's apt sources",
  flags: [
    { name: 'tag', short: 't', kind: 'list', usage: 'Name and optionally a tag in the "name:tag" format' },
    { name: 'include', kind: 'list', usage: 'Packages to install besides the variant\'s (comma-separated)' },
    { name: 'variant', kind: 'string', default: 'minbase', usage: 'mmdebstrap variant (minbase, essential, apt, required, important, standard)' },
    { name: 'slim', kind: 'bool', default: true, usage: 'Leave out docs, man pages and locales; merged /usr (--slim=false to keep them)' },
    { name: 'aptopt', kind: 'list', usage: 'Extra apt option (as mmdebstrap --aptopt)' },
    { name: 'dpkgopt', kind: 'list', usage: 'Extra dpkg option (as mmdebstrap --dpkgopt)' },
    { name: 'setup-hook', kind: 'list', usage: 'mmdebstrap --setup-hook (before any package)' },
    { name: 'essential-hook', kind: 'list', usage: 'mmdebstrap --essential-hook (after the essential packages)' },
    { name: 'customize-hook', kind: 'list', usage: 'mmdebstrap --customize-hook (after all packages; "$1" is the root)' },
    { name: 'change', short: 'c', kind: 'list', usage: 'Apply Dockerfile instruction to the created image' },
    { name: 'message', short: 'm', kind: 'string', usage: 'Set commit message for imported image' },
    { name: 'rootfs-cache', kind: 'string', usage: 'Root filesystem tar to reuse if it exists, else where to keep the one built' },
    { name: 'quiet', short: 'q', kind: 'bool', usage: "Suppress mmdebstrap's progress output" },
  ],
  args: [1, 1],
  async run(ctx, o) {
    const v = o.values;
    const tags = v.tag as string[];
    for (const t of tags) {
      try {
        if (parseImageRef(t).digest) throw new Error('refusing to create a tag with a digest reference');
      } catch (e) {
        throw new StatusError(1, `invalid argument "${t}" for "-t, --tag" flag: ${(e as Error).message}`);
      }
    }
    const epoch = process.env.SOURCE_DATE_EPOCH;
    if (epoch !== undefined && !/^\d+$/.test(epoch)) throw new StatusError(1, `invalid SOURCE_DATE_EPOCH "${epoch}": must be seconds since the epoch`);
    const spec: BootstrapSpec = {
      suite: o.args[0],
      variant: v.variant as string,
      slim: v.slim as boolean,
      include: commaList(v.include as string[]),
      aptopts: v.aptopt as string[],
      dpkgopts: v.dpkgopt as string[],
      hooks: { setup: v['setup-hook'] as string[], essential: v['essential-hook'] as string[], customize: v['customize-hook'] as string[] },
      quiet: v.quiet as boolean,
    };
    const cache = v['rootfs-cache'] as string;
    const work = fs.mkdtempSync('/var/tmp/berth-bootstrap-');
    try {
      let tar = cache;
      if (!cache || !fs.existsSync(cache)) {
        tar = path.join(work, 'rootfs.tar');
        await runMmdebstrap(spec, tar);
        if (cache) tar = keep(tar, cache);
      }
      const id = await importTarball(ctx, await openForRead(tar), {
        repository: tags[0] ?? '', changes: [...DEFAULT_CHANGES, ...(v.change as string[])], message: v.message as string,
        sourceDateEpoch: epoch,
      });
      await tagMore(ctx, id, tags.slice(1));
    } finally {
      fs.rmSync(work, { recursive: true, force: true });
    }
  },
};

/** Runs mmdebstrap (progress on our stderr) after the checks that give a clear message instead of its own. */
async function runMmdebstrap(spec: BootstrapSpec, target: string): Promise<void> {
  if (spawnSync('mmdebstrap', ['--version'], { stdio: 'ignore' }).error) {
    throw new StatusError(1, 'mmdebstrap not found: install it with `apt-get install mmdebstrap`');
  }
  if (process.getuid?.() !== 0) throw new StatusError(1, 'berth image bootstrap must run as root (mmdebstrap creates device nodes and owners)');
  const mirrors = sourcesFor(spec.suite, hostSources());
  const args = mmdebstrapArgs({ ...spec, aptopts: [...hostAptOptions(), ...spec.aptopts] }, target, mirrors);
  // all of its output on stderr: stdout carries only the image id, as with `berth import`
  const child = spawn('mmdebstrap', args, { stdio: ['ignore', process.stderr, process.stderr] });
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (c, s) => resolve([c, s]));
  });
  if (code !== 0) throw new StatusError(1, `mmdebstrap failed (${signal ? `signal ${signal}` : `exit status ${code}`}): see its messages above`);
}

/** Every enabled sources file of the host with the suites it serves. */
function hostSources(): SourceEntry[] {
  const files = fs.existsSync(SOURCES_LIST) ? [SOURCES_LIST] : [];
  if (fs.existsSync(SOURCES_DIR)) {
    for (const f of fs.readdirSync(SOURCES_DIR).sort()) if (/\.(list|sources)$/.test(f)) files.push(path.join(SOURCES_DIR, f));
  }
  return files.map((f) => parseSources(f, fs.readFileSync(f, 'utf8'), f.endsWith('.sources'))).filter((e) => e.suites.length);
}

/** HOST_APT_OPTIONS as the host's apt has them set (mmdebstrap runs apt with its own config, not the host's). */
function hostAptOptions(): string[] {
  const r = spawnSync('apt-config', ['dump', '--format', '%f "%v";%n', ...HOST_APT_OPTIONS], { encoding: 'utf8' });
  return (r.stdout ?? '').split('\n').filter((l) => HOST_APT_OPTIONS.some((k) => l.startsWith(`${k} `)));
}

/** Moves a fresh rootfs tar to the cache path (atomically: a half-written cache file is never reused). */
function keep(tar: string, cache: string): string {
  fs.mkdirSync(path.dirname(path.resolve(cache)), { recursive: true });
  const tmp = `${cache}.tmp-${process.pid}`;
  try {
    fs.renameSync(tar, tmp);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EXDEV') throw e;
    fs.copyFileSync(tar, tmp);
  }
  fs.renameSync(tmp, cache);
  return cache;
}

/** The second and later -t names (import takes one). */
async function tagMore(ctx: Ctx, id: string, tags: string[]): Promise<void> {
  const client = await ctx.client();
  for (const t of tags) {
    const ref = parseImageRef(t);
    await client.request('POST', `/images/${id}/tag`, { query: { repo: ref.name, tag: ref.tag ?? 'latest' } });
  }
}
