/** The distribution service behind /images/create (pull), /images/{name}/push, /auth and /distribution/{name}/json. */
import { ApiError, badRequest, notFound } from '../../common/errors';
import type { Emit, ImageService } from '../../image/service';
import { familiarName, familiarString, parseNormalizedNamed, repoName, validateDigest, validateTag, type Reference } from '../../image/reference';
import type { Descriptor, ImageConfig } from '../../image/types';
import { RegistryAuthError, type AuthConfig } from './auth';
import { DOCKER_IO, RegistryHosts, type Endpoint } from './hosts';
import { DistributionMeta } from './metadata';
import { hostPlatform, parsePlatform, type Platform } from '../../image/platform';
import { ProgressStream } from './progress';
import { parseImageManifest, pullImage, PullError, resolveManifest, type PullContext } from './pull';
import { pushImage, pushIndex } from './push';
import { RemoteRepository } from './repository';
import { RegistryHttpError, RegistrySession } from './session';

export interface DistributionOptions {
  insecureRegistries: string[];
  mirrors: string[];
  /** Where distribution.json lives (the image store root). */
  metaDir: string;
  certsDirs?: string[];
  /** Push blobs in PATCH chunks of this many bytes (tests; default one streamed PATCH). */
  chunkSize?: number;
  /** Refuse registries that are not on loopback (daemon flag --registries-loopback-only). */
  loopbackOnly?: boolean;
}

export interface PullRequest {
  fromImage: string;
  tag?: string;
  platform?: string;
  auth: AuthConfig;
  signal?: AbortSignal;
}

export interface DistributionInspect {
  Descriptor: { mediaType: string; digest: string; size: number };
  Platforms: Platform[];
}

const asBadRequest = <T>(fn: () => T): T => {
  try {
    return fn();
  } catch (e) {
    throw badRequest((e as Error).message);
  }
};

/** fromImage + tag as docker's postImagesCreate reads them: the tag may be a digest; neither means every tag. */
export function pullReference(fromImage: string, tag?: string): Reference {
  return asBadRequest(() => {
    const ref = parseNormalizedNamed(fromImage);
    if (!tag) return ref;
    if (tag.includes(':')) return { domain: ref.domain, path: ref.path, digest: validateDigest(tag) };
    return { domain: ref.domain, path: ref.path, tag: validateTag(tag) };
  });
}

/** Registry errors in docker's words, with the Engine API status docker gives them. */
export function describePullError(e: unknown, ref: Reference): Error {
  if (e instanceof ApiError || e instanceof PullError) return e instanceof PullError ? new ApiError(e.status, e.message) : e;
  const name = familiarString(ref);
  if (e instanceof RegistryAuthError || (e instanceof RegistryHttpError && (e.status === 401 || e.status === 403))) {
    return notFound(`pull access denied for ${familiarName(ref)}, repository does not exist or may require 'docker login': ${e.message}`);
  }
  if (e instanceof RegistryHttpError && e.code === 'MANIFEST_UNKNOWN') return notFound(`manifest for ${name} not found: ${e.message}`);
  if (e instanceof RegistryHttpError && e.code === 'NAME_UNKNOWN') return notFound(`repository ${familiarName(ref)} not found: ${e.message}`);
  if (e instanceof RegistryHttpError && e.status === 404) return notFound(`manifest for ${name} not found: ${e.message}`);
  return new ApiError(500, (e as Error).message);
}

/** An AbortController that also aborts with `parent`. */
function linked(parent?: AbortSignal): AbortController {
  const ac = new AbortController();
  if (parent) {
    if (parent.aborted) ac.abort();
    else parent.addEventListener('abort', () => ac.abort(), { once: true });
  }
  return ac;
}

export class Distribution {
  readonly hosts: RegistryHosts;
  private readonly meta: DistributionMeta;

  constructor(private readonly images: ImageService, private readonly emit: Emit, private readonly opts: DistributionOptions) {
    this.hosts = new RegistryHosts({ insecure: opts.insecureRegistries, mirrors: opts.mirrors, certsDirs: opts.certsDirs, loopbackOnly: opts.loopbackOnly });
    this.meta = new DistributionMeta(opts.metaDir);
  }

  /**
   * Sessions for a repository, mirrors first; `use` runs against each until one succeeds. Only failures that are the
   * mirror's (anything before `use` resolves) fall back to the next endpoint.
   */
  private async withEndpoint<T>(endpoints: Endpoint[], auth: AuthConfig, signal: AbortSignal, use: (s: RegistrySession) => Promise<T>): Promise<T> {
    let last: unknown;
    for (const ep of endpoints) {
      const session = new RegistrySession(ep, ep.mirror ? {} : auth, { signal });
      try {
        return await use(session);
      } catch (e) {
        last = e;
        session.close();
        if (!ep.mirror || signal.aborted) throw e;
      }
    }
    throw last;
  }

  /** POST /images/create?fromImage=: errors before the first progress line are thrown (an HTTP error, as docker). */
  async pull(req: PullRequest, progress: ProgressStream): Promise<void> {
    const ref = pullReference(req.fromImage, req.tag);
    const platform = req.platform ? asBadRequest(() => parsePlatform(req.platform as string)) : hostPlatform();
    const ac = linked(req.signal);
    const all = ref.tag === undefined && !ref.digest;
    let first: { repo: RemoteRepository; tags: string[]; resolved?: Awaited<ReturnType<typeof resolveManifest>> } | undefined;
    try {
      first = await this.withEndpoint(this.hosts.endpoints(ref.domain), req.auth, ac.signal, async (session) => {
        const repo = new RemoteRepository(session, ref.path);
        if (all) return { repo, tags: await repo.tags() };
        return { repo, tags: [], resolved: await resolveManifest(repo, ref, platform) };
      });
      const ctx: PullContext = { images: this.images, progress, platform, signal: ac.signal, cancel: () => ac.abort() };
      let newer = false;
      const targets: Reference[] = all ? first.tags.map((tag) => ({ ...ref, tag })) : [ref];
      if (all && targets.length === 0) throw notFound(`repository ${familiarName(ref)} has no tags`);
      for (const target of targets) {
        const { repo } = first;
        const resolved = first.resolved ?? (await resolveManifest(repo, target, platform));
        const r = await pullImage(ctx, repo, target, resolved);
        progress.message(`Digest: ${r.digest}`);
        newer ||= !r.upToDate;
        this.emit('pull', r.id, { name: familiarString(target) });
        if (!all) progress.message(`Status: ${r.upToDate ? 'Image is up to date' : 'Downloaded newer image'} for ${familiarString(target)}`);
      }
      if (all) progress.message(`Status: ${newer ? 'Downloaded newer image' : 'Image is up to date'} for ${familiarName(ref)}`);
    } catch (e) {
      ac.abort();
      throw describePullError(e, ref);
    } finally {
      first?.repo.session.close();
    }
  }

  /** POST /images/{name}/push?tag=: every tag of the repository when no tag is given. */
  async push(name: string, tag: string | undefined, auth: AuthConfig, progress: ProgressStream, signal?: AbortSignal): Promise<void> {
    const ref = asBadRequest(() => {
      const r = parseNormalizedNamed(name);
      return tag ? { domain: r.domain, path: r.path, tag: validateTag(tag) } : r;
    });
    const tags = ref.tag !== undefined ? [ref] : this.images.store.tagsOf(repoName(ref));
    const recs = tags.map((t) => ({ t, rec: this.images.resolve(familiarString(t)) }));
    const missing = recs.find((x) => !x.rec);
    if (!recs.length || missing) throw notFound(`An image does not exist locally with the tag: ${familiarString(missing?.t ?? ref)}`);
    progress.message(`The push refers to repository [${repoName(ref)}]`);
    const ac = linked(signal);
    const session = new RegistrySession(this.hosts.endpoints(ref.domain, true)[0], auth, { signal: ac.signal });
    try {
      const repo = new RemoteRepository(session, ref.path, true);
      for (const { t, rec } of recs) {
        if (!rec) continue;
        const pctx = { images: this.images, meta: this.meta, progress, chunkSize: this.opts.chunkSize, cancel: () => ac.abort() };
        const r = rec.index ? await pushIndex(pctx, repo, { ...rec, index: rec.index }, t.tag as string) : await pushImage(pctx, repo, rec, t.tag as string);
        this.images.store.setRef({ domain: ref.domain, path: ref.path, digest: r.digest }, rec.id);
        progress.message(`${t.tag}: digest: ${r.digest} size: ${r.size}`);
        progress.aux({ Tag: t.tag, Digest: r.digest, Size: r.size });
        this.emit('push', rec.id, { name: familiarString(t) });
      }
    } catch (e) {
      // say which registry refused
      if (e instanceof RegistryHttpError || e instanceof RegistryAuthError) throw new Error(`${session.host}: ${e.message.replace(`${session.host}: `, '')}`);
      throw e;
    } finally {
      session.close();
    }
  }

  /**
   * A repository for the builder's cache import and export (`type=registry,ref=`): the same hosts policy as pull and
   * push (TLS, insecure registries, loopback-only), no mirrors, no credentials (the legacy build request carries none
   * for pushing).
   */
  openRepository(name: string, push: boolean): { repo: RemoteRepository; reference: string; close(): void } {
    const ref = asBadRequest(() => parseNormalizedNamed(name));
    const session = new RegistrySession(this.hosts.endpoints(ref.domain, true)[0], {});
    return { repo: new RemoteRepository(session, ref.path, push), reference: ref.digest ?? ref.tag ?? 'latest', close: () => session.close() };
  }

  /** POST /auth: check the credentials against the registry's /v2/ challenge. */
  async login(auth: AuthConfig): Promise<{ IdentityToken: string; Status: string }> {
    const server = (auth.serveraddress || DOCKER_IO).replace(/^https?:\/\//, '').split('/')[0];
    const domain = ['index.docker.io', 'registry-1.docker.io', DOCKER_IO].includes(server) ? DOCKER_IO : server;
    const session = new RegistrySession(this.hosts.endpoints(domain, true)[0], auth);
    try {
      await session.login();
    } catch (e) {
      if (e instanceof RegistryAuthError) throw new ApiError(401, e.message);
      throw new ApiError(500, (e as Error).message);
    } finally {
      session.close();
    }
    return { IdentityToken: '', Status: 'Login Succeeded' };
  }

  /** GET /distribution/{name}/json: the descriptor a reference resolves to and the platforms it offers. */
  async inspect(name: string, auth: AuthConfig): Promise<DistributionInspect> {
    const parsed = asBadRequest(() => parseNormalizedNamed(name));
    const ref = parsed.tag || parsed.digest ? parsed : { ...parsed, tag: 'latest' };
    const ac = linked();
    try {
      return await this.withEndpoint(this.hosts.endpoints(ref.domain), auth, ac.signal, async (session) => {
        const repo = new RemoteRepository(session, ref.path);
        try {
          const top = await repo.manifest(ref.digest ?? (ref.tag as string));
          const Descriptor = { mediaType: top.mediaType, digest: top.digest, size: top.bytes.length };
          const body = JSON.parse(top.bytes.toString('utf8')) as { manifests?: Descriptor[] };
          if (body.manifests) return { Descriptor, Platforms: body.manifests.filter((m) => m.platform).map((m) => m.platform as Platform) };
          const cfg = JSON.parse((await repo.smallBlob(parseImageManifest(top).config.digest)).toString('utf8')) as ImageConfig;
          return { Descriptor, Platforms: [{ architecture: cfg.architecture, os: cfg.os, ...(cfg.variant ? { variant: cfg.variant } : {}) }] };
        } finally {
          session.close();
        }
      });
    } catch (e) {
      throw describePullError(e, ref);
    }
  }
}
