/**
 * On-disk layout of the registry (every path component comes from a validated name, tag, digest or upload id):
 *   blobs/<alg>/<hex[0:2]>/<hex>                      content-addressed blobs (layers, configs and manifests)
 *   repositories/<name>/_layers/<alg>/<hex>           empty link: the blob is visible in this repository
 *   repositories/<name>/_manifests/revisions/<alg>/<hex>  {"mediaType"}: the manifest belongs to this repository
 *   repositories/<name>/_manifests/tags/<tag>         the digest the tag points at
 *   repositories/<name>/_referrers/<alg>/<hex>/<alg>-<hex>  descriptor of a manifest whose subject is <alg>:<hex>
 *   uploads/<uuid>/{data,info.json}                   upload sessions
 *   tmp/                                              staging for atomic writes (same filesystem, so rename works)
 * Repository name components never start with `_`, so `_layers` etc. cannot collide with a nested repository.
 */
import { randomUUID } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { type Digest, isTag, parseDigest } from './names';

export interface ManifestRecord {
  mediaType: string;
}

/** A descriptor as listed by the referrers API. */
export interface ReferrerDescriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
}

const TMP_MAX_AGE_MS = 3600 * 1000;

const isMissing = (e: unknown): boolean => (e as NodeJS.ErrnoException).code === 'ENOENT';

async function fsyncDir(dir: string): Promise<void> {
  const fh = await fsp.open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

async function readdirOrEmpty(dir: string): Promise<string[]> {
  try {
    return await fsp.readdir(dir);
  } catch (e) {
    if (isMissing(e)) return [];
    throw e;
  }
}

async function readOrUndefined(file: string): Promise<Buffer | undefined> {
  try {
    return await fsp.readFile(file);
  } catch (e) {
    if (isMissing(e)) return undefined;
    throw e;
  }
}

async function exists(file: string): Promise<boolean> {
  try {
    await fsp.access(file);
    return true;
  } catch {
    return false;
  }
}

export class RegistryStorage {
  constructor(readonly root: string) {}

  /** Create the layout and drop what crashes or abandoned clients left behind. */
  async init(uploadMaxAgeMs: number, now = Date.now()): Promise<void> {
    for (const d of ['blobs', 'repositories', 'uploads', 'tmp']) await fsp.mkdir(path.join(this.root, d), { recursive: true });
    await this.removeOlderThan(path.join(this.root, 'tmp'), now - TMP_MAX_AGE_MS);
    for (const id of await readdirOrEmpty(path.join(this.root, 'uploads'))) if (await this.uploadIdleSince(id, now - uploadMaxAgeMs)) await this.removeUpload(id);
  }

  /** Whether an upload session exists and received nothing since `cutoff` (ms): abandoned by its client. */
  async uploadIdleSince(id: string, cutoff: number): Promise<boolean> {
    // appending a chunk touches data, not the session's directory
    const [dir, data] = await Promise.all([this.uploadDir(id), this.uploadData(id)].map((p) => fsp.stat(p).catch(() => undefined)));
    return !!dir && Math.max(dir.mtimeMs, data?.mtimeMs ?? 0) < cutoff;
  }

  async uploadIds(): Promise<string[]> {
    return readdirOrEmpty(path.join(this.root, 'uploads'));
  }

  private async removeOlderThan(dir: string, cutoff: number): Promise<void> {
    for (const name of await readdirOrEmpty(dir)) {
      const p = path.join(dir, name);
      const st = await fsp.stat(p).catch(() => undefined);
      if (st && st.mtimeMs < cutoff) await fsp.rm(p, { recursive: true, force: true });
    }
  }

  // ---- blobs ---------------------------------------------------------------------------------------------------

  blobPath(d: Digest): string {
    return path.join(this.root, 'blobs', d.algorithm, d.hex.slice(0, 2), d.hex);
  }

  /** Size of a stored blob, or undefined. */
  async blobSize(d: Digest): Promise<number | undefined> {
    const st = await fsp.stat(this.blobPath(d)).catch((e) => (isMissing(e) ? undefined : Promise.reject(e)));
    return st?.size;
  }

  /** Move a verified, fsynced file into the content store. Renaming over an identical blob is harmless. */
  async commitBlob(file: string, d: Digest): Promise<void> {
    const dest = this.blobPath(d);
    await fsp.mkdir(path.dirname(dest), { recursive: true });
    await fsp.rename(file, dest);
    await fsyncDir(path.dirname(dest));
  }

  /** Walk every stored blob digest (for garbage collection). */
  async *allBlobs(): AsyncGenerator<Digest> {
    for (const alg of await readdirOrEmpty(path.join(this.root, 'blobs'))) {
      for (const fan of await readdirOrEmpty(path.join(this.root, 'blobs', alg))) {
        for (const hex of await readdirOrEmpty(path.join(this.root, 'blobs', alg, fan))) yield parseDigest(`${alg}:${hex}`);
      }
    }
  }

  async removeBlob(d: Digest): Promise<void> {
    await fsp.rm(this.blobPath(d), { force: true });
  }

  // ---- repository links ----------------------------------------------------------------------------------------

  repoDir(repo: string): string {
    return path.join(this.root, 'repositories', ...repo.split('/'));
  }

  private layerLink(repo: string, d: Digest): string {
    return path.join(this.repoDir(repo), '_layers', d.algorithm, d.hex);
  }

  /** Size of a blob visible in `repo` (linked there and present), or undefined. */
  async repoBlobSize(repo: string, d: Digest): Promise<number | undefined> {
    if (!(await exists(this.layerLink(repo, d)))) return undefined;
    return this.blobSize(d);
  }

  /** Open a blob visible in `repo` for reading (opened before sizing, so a concurrent sweep cannot tear the reply). */
  async openRepoBlob(repo: string, d: Digest): Promise<{ fh: fsp.FileHandle; size: number } | undefined> {
    if (!(await exists(this.layerLink(repo, d)))) return undefined;
    let fh: fsp.FileHandle;
    try {
      fh = await fsp.open(this.blobPath(d), 'r');
    } catch (e) {
      if (isMissing(e)) return undefined;
      throw e;
    }
    return { fh, size: (await fh.stat()).size };
  }

  async linkBlob(repo: string, d: Digest): Promise<void> {
    await this.writeAtomic(this.layerLink(repo, d), '');
  }

  /** Remove a blob's link from a repository; false when it was not linked. */
  async unlinkBlob(repo: string, d: Digest): Promise<boolean> {
    try {
      await fsp.unlink(this.layerLink(repo, d));
      return true;
    } catch (e) {
      if (isMissing(e)) return false;
      throw e;
    }
  }

  /** Write a small file so readers see the old or the new content, staged under tmp/ so no temp name lands beside it. */
  async writeAtomic(file: string, data: string | Buffer): Promise<void> {
    const tmp = path.join(this.root, 'tmp', randomUUID());
    const fh = await fsp.open(tmp, 'w', 0o644);
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fsp.mkdir(path.dirname(file), { recursive: true });
    await fsp.rename(tmp, file);
    await fsyncDir(path.dirname(file));
  }

  // ---- manifests and tags --------------------------------------------------------------------------------------

  private revisionPath(repo: string, d: Digest): string {
    return path.join(this.repoDir(repo), '_manifests', 'revisions', d.algorithm, d.hex);
  }

  private tagPath(repo: string, tag: string): string {
    return path.join(this.repoDir(repo), '_manifests', 'tags', tag);
  }

  async repoExists(repo: string): Promise<boolean> {
    return exists(path.join(this.repoDir(repo), '_manifests'));
  }

  /** Store manifest bytes as a blob and record the revision (and its media type) in the repository. */
  async putManifest(repo: string, d: Digest, bytes: Buffer, mediaType: string): Promise<void> {
    if ((await this.blobSize(d)) === undefined) await this.writeAtomic(this.blobPath(d), bytes);
    await this.writeAtomic(this.revisionPath(repo, d), JSON.stringify({ mediaType } satisfies ManifestRecord));
  }

  async getManifest(repo: string, d: Digest): Promise<{ record: ManifestRecord; bytes: Buffer } | undefined> {
    const rec = await readOrUndefined(this.revisionPath(repo, d));
    if (!rec) return undefined;
    const bytes = await readOrUndefined(this.blobPath(d));
    if (!bytes) return undefined;
    return { record: JSON.parse(rec.toString('utf8')) as ManifestRecord, bytes };
  }

  async hasManifest(repo: string, d: Digest): Promise<boolean> {
    return exists(this.revisionPath(repo, d));
  }

  /** Every manifest digest of a repository. */
  async revisions(repo: string): Promise<Digest[]> {
    const base = path.join(this.repoDir(repo), '_manifests', 'revisions');
    const out: Digest[] = [];
    for (const alg of await readdirOrEmpty(base)) for (const hex of await readdirOrEmpty(path.join(base, alg))) out.push(parseDigest(`${alg}:${hex}`));
    return out;
  }

  async removeRevision(repo: string, d: Digest): Promise<void> {
    await fsp.rm(this.revisionPath(repo, d), { force: true });
    for (const tag of await this.tags(repo)) if ((await this.resolveTag(repo, tag))?.text === d.text) await this.deleteTag(repo, tag);
  }

  async setTag(repo: string, tag: string, d: Digest): Promise<void> {
    await this.writeAtomic(this.tagPath(repo, tag), d.text);
  }

  async resolveTag(repo: string, tag: string): Promise<Digest | undefined> {
    const text = await readOrUndefined(this.tagPath(repo, tag));
    return text === undefined ? undefined : parseDigest(text.toString('utf8').trim());
  }

  async deleteTag(repo: string, tag: string): Promise<boolean> {
    try {
      await fsp.unlink(this.tagPath(repo, tag));
      return true;
    } catch (e) {
      if (isMissing(e)) return false;
      throw e;
    }
  }

  /** Tags in lexical order. */
  async tags(repo: string): Promise<string[]> {
    return (await readdirOrEmpty(path.join(this.repoDir(repo), '_manifests', 'tags'))).filter(isTag).sort();
  }

  /** Repositories (directories holding `marker`: `_manifests` for the catalog, `_layers` for blob links) in lexical order. */
  async repositories(marker: '_manifests' | '_layers' = '_manifests'): Promise<string[]> {
    const out: string[] = [];
    const walk = async (dir: string, prefix: string): Promise<void> => {
      for (const entry of await fsp.readdir(dir, { withFileTypes: true })) {
        if (!entry.isDirectory() || entry.name.startsWith('_')) continue;
        const name = prefix ? `${prefix}/${entry.name}` : entry.name;
        if (await exists(path.join(dir, entry.name, marker))) out.push(name);
        await walk(path.join(dir, entry.name), name);
      }
    };
    await walk(path.join(this.root, 'repositories'), '');
    return out.sort();
  }

  // ---- referrers -----------------------------------------------------------------------------------------------

  private referrerPath(repo: string, subject: Digest, d: Digest): string {
    return path.join(this.repoDir(repo), '_referrers', subject.algorithm, subject.hex, `${d.algorithm}-${d.hex}`);
  }

  async addReferrer(repo: string, subject: Digest, desc: ReferrerDescriptor): Promise<void> {
    await this.writeAtomic(this.referrerPath(repo, subject, parseDigest(desc.digest)), JSON.stringify(desc));
  }

  async removeReferrer(repo: string, subject: Digest, d: Digest): Promise<void> {
    await fsp.rm(this.referrerPath(repo, subject, d), { force: true });
  }

  async referrers(repo: string, subject: Digest): Promise<ReferrerDescriptor[]> {
    const dir = path.join(this.repoDir(repo), '_referrers', subject.algorithm, subject.hex);
    const out: ReferrerDescriptor[] = [];
    for (const name of (await readdirOrEmpty(dir)).sort()) {
      const buf = await readOrUndefined(path.join(dir, name));
      if (buf) out.push(JSON.parse(buf.toString('utf8')) as ReferrerDescriptor);
    }
    return out;
  }

  // ---- upload sessions -----------------------------------------------------------------------------------------

  uploadDir(id: string): string {
    return path.join(this.root, 'uploads', id);
  }

  uploadData(id: string): string {
    return path.join(this.uploadDir(id), 'data');
  }

  async createUpload(repo: string): Promise<string> {
    const id = randomUUID();
    await fsp.mkdir(this.uploadDir(id));
    await fsp.writeFile(path.join(this.uploadDir(id), 'info.json'), JSON.stringify({ repo, started: new Date().toISOString() }));
    await fsp.writeFile(this.uploadData(id), '');
    return id;
  }

  /** Bytes received so far by an upload of `repo`, or undefined when there is no such session for that repository. */
  async uploadSize(repo: string, id: string): Promise<number | undefined> {
    const info = await readOrUndefined(path.join(this.uploadDir(id), 'info.json'));
    if (!info || (JSON.parse(info.toString('utf8')) as { repo: string }).repo !== repo) return undefined;
    return (await fsp.stat(this.uploadData(id)).catch(() => undefined))?.size;
  }

  async removeUpload(id: string): Promise<void> {
    await fsp.rm(this.uploadDir(id), { recursive: true, force: true });
  }
}
