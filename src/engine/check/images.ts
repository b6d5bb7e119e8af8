/** Image store verification: every blob's digest, every image's pieces (sizes, diffIDs, markers), references, leftovers. */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { familiarString } from '../../image/reference';
import type { ImageService } from '../../image/service';
import { decompressed } from '../../store/compression';
import type { Findings } from './findings';

async function sha256File(file: string): Promise<string> {
  const hash = crypto.createHash('sha256');
  for await (const chunk of fs.createReadStream(file)) hash.update(chunk as Buffer);
  return `sha256:${hash.digest('hex')}`;
}

async function diffIdOf(blob: string): Promise<string> {
  const { stream } = await decompressed(fs.createReadStream(blob));
  const hash = crypto.createHash('sha256');
  for await (const chunk of stream) hash.update(chunk as Buffer);
  return `sha256:${hash.digest('hex')}`;
}

export async function checkImages(images: ImageService, f: Findings): Promise<{ blobs: number; layers: number; images: number }> {
  const store = images.store;
  const content = store.content;
  // Whatever an operation in progress writes is neither broken nor a leftover yet: leftovers only when idle.
  const busy = images.busy();
  const corrupt = new Set<string>();
  const blobs = content.list();
  for (const b of blobs) {
    const actual = await sha256File(content.path(b)).catch((e: Error) => `unreadable (${e.message})`);
    if (actual !== b) {
      corrupt.add(b);
      f.add('blob', b, `content does not match its digest: ${actual}`, () => content.delete(b));
    }
  }
  const diffIds = new Map<string, string>(); // layer blob -> diffID, computed once per check
  const used = { blobs: new Set<string>(), layers: new Set<string>() };
  for (const rec of store.all()) {
    const broken = (why: string) => f.add('image', rec.id, why, () => images.removeBroken(rec.id));
    const missing = [rec.id, rec.manifest].find((d) => !content.has(d));
    if (missing) {
      broken(`blob ${missing} is missing`);
      continue;
    }
    if (corrupt.has(rec.id) || corrupt.has(rec.manifest)) {
      broken('its config or manifest blob is corrupt');
      continue;
    }
    let m, cfg;
    try {
      m = store.manifest(rec);
      cfg = store.config(rec.id);
    } catch (e) {
      broken(`unreadable config or manifest: ${(e as Error).message}`);
      continue;
    }
    used.blobs.add(rec.id).add(rec.manifest);
    const problems: string[] = [];
    if (m.config.digest !== rec.id) problems.push(`manifest names config ${m.config.digest}`);
    if (m.config.size !== content.size(rec.id)) problems.push(`config is ${content.size(rec.id)} bytes, manifest says ${m.config.size}`);
    const ids = cfg.rootfs?.diff_ids ?? [];
    if (ids.length !== m.layers.length) problems.push(`config names ${ids.length} layers, manifest ${m.layers.length}`);
    for (const [i, l] of m.layers.entries()) {
      used.blobs.add(l.digest);
      if (!content.has(l.digest)) {
        problems.push(`layer blob ${l.digest} is missing`);
        continue;
      }
      if (corrupt.has(l.digest)) problems.push(`layer blob ${l.digest} is corrupt`);
      else if (content.size(l.digest) !== l.size) problems.push(`layer blob ${l.digest} is ${content.size(l.digest)} bytes, manifest says ${l.size}`);
      else if (ids[i]) {
        if (!diffIds.has(l.digest)) diffIds.set(l.digest, await diffIdOf(content.path(l.digest)).catch((e: Error) => `unreadable (${e.message})`));
        if (diffIds.get(l.digest) !== ids[i]) problems.push(`layer blob ${l.digest} unpacks to ${diffIds.get(l.digest)}, config says ${ids[i]}`);
      }
    }
    for (const d of ids) {
      used.layers.add(d);
      if (!store.layers.has(d)) problems.push(`layer ${d} is not unpacked (no completion marker)`);
      else if (store.layers.info(d).diffId !== d) problems.push(`layer ${d} has the marker of ${store.layers.info(d).diffId}`);
      else if (!fs.existsSync(store.layers.path(d))) problems.push(`layer ${d} has no diff directory`);
    }
    if (problems.length) broken(problems.join('; '));
  }
  for (const { ref, id } of store.references()) {
    if (!store.get(id)) f.add('reference', familiarString(ref), `points at missing image ${id}`, () => store.removeRef(ref));
  }
  if (!busy) {
    for (const name of fs.readdirSync(content.ingestDir)) {
      const p = path.join(content.ingestDir, name);
      f.orphan('ingest', p, 'temp file of an interrupted download or import', () => fs.rmSync(p, { recursive: true, force: true }));
    }
    // An intact blob or layer no image uses is cache, not damage: an interrupted pull keeps what it verified for the
    // next try (as containerd's content store does), and `image prune` reclaims it.
    const layers = fs.readdirSync(store.layers.dir);
    for (const name of layers) {
      const diffId = `sha256:${name}`;
      const p = path.join(store.layers.dir, name);
      if (!/^[a-f0-9]{64}$/.test(name) || !store.layers.has(diffId)) f.orphan('layer', p, 'unfinished unpack or removal', () => fs.rmSync(p, { recursive: true, force: true }));
    }
  }
  return { blobs: blobs.length, layers: store.layers.list().length, images: store.all().length };
}
