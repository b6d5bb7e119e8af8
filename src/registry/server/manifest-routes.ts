/** Manifest, tag, catalog and referrers endpoints. */
import { createHash } from 'node:crypto';
import { MediaType } from '../../image/types';
import { RegistryError } from './errors';
import { type Ctx, paginate, readBody, send, sendJson } from './http';
import { accepts, parseManifest, referrerDescriptor } from './manifests';
import { type Digest, parseDigest, validateTag } from './names';

/** Registries must accept manifests of at least 4 MiB (distribution spec). */
const MANIFEST_LIMIT = 4 * 1024 * 1024;

const manifestUnknown = (ref: string): RegistryError => new RegistryError('MANIFEST_UNKNOWN', 'manifest unknown to registry', { reference: ref });

/** A reference is a digest (anything with `:`) or a tag; the digest a tag points at when it exists. */
async function resolve(ctx: Ctx): Promise<Digest> {
  const ref = ctx.route.arg;
  if (ref.includes(':')) return parseDigest(ref);
  const d = await ctx.storage.resolveTag(ctx.route.name, validateTag(ref));
  if (!d) throw manifestUnknown(ref);
  return d;
}

export async function getManifest(ctx: Ctx): Promise<void> {
  const d = await resolve(ctx);
  const found = await ctx.storage.getManifest(ctx.route.name, d);
  if (!found) throw manifestUnknown(ctx.route.arg);
  const { mediaType } = found.record;
  if (!accepts(ctx.req.headers.accept, mediaType)) {
    throw new RegistryError('MANIFEST_UNKNOWN', `manifest is a ${mediaType}, which the Accept header does not allow`, { reference: ctx.route.arg, mediaType });
  }
  send(ctx, 200, { 'Content-Type': mediaType, 'Docker-Content-Digest': d.text, ETag: `"${d.text}"` }, found.bytes);
}

export async function putManifest(ctx: Ctx): Promise<void> {
  const { storage, route, req } = ctx;
  const byDigest = route.arg.includes(':');
  const claimed = byDigest ? parseDigest(route.arg) : undefined;
  const tag = byDigest ? undefined : validateTag(route.arg);
  const bytes = await readBody(req, MANIFEST_LIMIT);
  const manifest = parseManifest(bytes, req.headers['content-type']);
  const algorithm = claimed?.algorithm ?? 'sha256';
  const d = parseDigest(`${algorithm}:${createHash(algorithm).update(bytes).digest('hex')}`);
  if (claimed && claimed.text !== d.text) throw new RegistryError('DIGEST_INVALID', 'manifest digest does not match the reference', { expected: claimed.text, actual: d.text });
  for (const blob of manifest.blobs) {
    const size = await storage.repoBlobSize(route.name, blob.digest);
    if (size === undefined) throw new RegistryError('MANIFEST_BLOB_UNKNOWN', 'manifest references a blob unknown to registry', { digest: blob.digest.text });
    if (size !== blob.size) throw new RegistryError('MANIFEST_INVALID', `descriptor size ${blob.size} of ${blob.digest.text} differs from the stored ${size}`);
  }
  for (const child of manifest.children) {
    if (!(await storage.hasManifest(route.name, child))) throw new RegistryError('MANIFEST_BLOB_UNKNOWN', 'index references a manifest unknown to registry', { digest: child.text });
  }
  await storage.putManifest(route.name, d, bytes, manifest.mediaType);
  if (tag) await storage.setTag(route.name, tag, d);
  const headers: Record<string, string> = { Location: `/v2/${route.name}/manifests/${d.text}`, 'Docker-Content-Digest': d.text };
  if (manifest.subject) {
    await storage.addReferrer(route.name, manifest.subject, referrerDescriptor(manifest, d, bytes.length));
    headers['OCI-Subject'] = manifest.subject.text;
  }
  send(ctx, 201, headers);
}

/** DELETE by tag removes the tag; by digest removes the manifest, the tags pointing at it and its referrer entry. */
export async function deleteManifest(ctx: Ctx): Promise<void> {
  const { storage, route } = ctx;
  if (!route.arg.includes(':')) {
    if (!(await storage.deleteTag(route.name, validateTag(route.arg)))) throw manifestUnknown(route.arg);
    return send(ctx, 202, {});
  }
  const d = parseDigest(route.arg);
  const found = await storage.getManifest(route.name, d);
  if (!found) throw manifestUnknown(route.arg);
  const { subject } = parseManifest(found.bytes, found.record.mediaType);
  if (subject) await storage.removeReferrer(route.name, subject, d);
  await storage.removeRevision(route.name, d);
  send(ctx, 202, {});
}

export async function listTags(ctx: Ctx): Promise<void> {
  const { storage, route, query } = ctx;
  if (!(await storage.repoExists(route.name))) throw new RegistryError('NAME_UNKNOWN', 'repository name not known to registry', { name: route.name });
  const { page, link } = paginate(await storage.tags(route.name), query, `/v2/${route.name}/tags/list`);
  sendJson(ctx, 200, { name: route.name, tags: page }, link ? { Link: link } : {});
}

export async function catalog(ctx: Ctx): Promise<void> {
  const { page, link } = paginate(await ctx.storage.repositories(), ctx.query, '/v2/_catalog');
  sendJson(ctx, 200, { repositories: page }, link ? { Link: link } : {});
}

export async function referrers(ctx: Ctx): Promise<void> {
  const { storage, route, query } = ctx;
  const subject = parseDigest(route.arg);
  const artifactType = query.get('artifactType');
  let manifests = await storage.referrers(route.name, subject);
  const headers: Record<string, string> = { 'Content-Type': MediaType.ociIndex };
  if (artifactType !== null) {
    manifests = manifests.filter((m) => m.artifactType === artifactType);
    headers['OCI-Filters-Applied'] = 'artifactType';
  }
  send(ctx, 200, headers, JSON.stringify({ schemaVersion: 2, mediaType: MediaType.ociIndex, manifests }));
}
