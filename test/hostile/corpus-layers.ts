/**
 * Hostile layer tars and image archives. Each layer case is delivered by `docker load` (a docker-archive with the
 * layer); the sharpest ones also by pull from the stub registry and in an OCI layout. Escapes aim at the canary.
 */
import * as zlib from 'node:zlib';
import * as crypto from 'node:crypto';
import { Readable } from 'node:stream';
import { dockerArchive, ociArchive, rawTar, stubImage, tar, type RawEntry } from './craft';
import type { Ctx, HostileInput } from './harness';
import type { FixtureEntry } from '../helpers/tarfixture';

interface LayerCase {
  name: string;
  layer: (c: Ctx) => Promise<Buffer> | Buffer;
  expect: HostileInput['expect'];
  /** Also delivered by pull and/or inside an OCI layout. */
  via?: ('pull' | 'oci')[];
}

const t = (entries: (c: Ctx) => FixtureEntry[]) => (c: Ctx) => tar(entries(c));
const raw = (entries: (c: Ctx) => RawEntry[], end = true) => (c: Ctx) => rawTar(entries(c), end);

const GIB = 1 << 30;
let bombMember: Buffer | undefined;
/** 2 GiB of zeros as two concatenated 1 GiB gzip members (~2 MB): a ratio of ~1000:1, as a gzip bomb has. */
function gzipBomb(): Buffer {
  bombMember ??= zlib.gzipSync(Buffer.alloc(GIB), { level: 9 });
  return Buffer.concat([bombMember, bombMember]);
}
function zerosDiffId(bytes: number): string {
  const h = crypto.createHash('sha256');
  const chunk = Buffer.alloc(64 << 20);
  for (let n = 0; n < bytes; n += chunk.length) h.update(chunk);
  return `sha256:${h.digest('hex')}`;
}

const layerCases: LayerCase[] = [
  // paths that leave the layer
  { name: '../ file name', layer: t((c) => [{ name: `${c.up}pwned`, data: 'x' }]), expect: 'refused', via: ['pull', 'oci'] },
  { name: '.. in the middle of a name', layer: t((c) => [{ name: `a/${c.up}pwned`, data: 'x' }]), expect: 'refused' },
  { name: './../ prefix', layer: t(() => [{ name: './../pwned', data: 'x' }]), expect: 'refused' },
  { name: 'a directory named ..', layer: t(() => [{ name: '../', type: 'directory' }]), expect: 'refused' },
  { name: 'absolute file name', layer: t((c) => [{ name: `${c.canary}/pwned`, data: 'x' }]), expect: 'refused', via: ['pull'] },
  { name: 'absolute directory name', layer: t((c) => [{ name: `${c.canary}/pwd/`, type: 'directory' }]), expect: 'refused' },
  // symlinks
  { name: 'symlink to outside, then a file through it', layer: t((c) => [{ name: 'esc', type: 'symlink', linkname: c.canary }, { name: 'esc/pwned', data: 'x' }]), expect: 'refused', via: ['pull', 'oci'] },
  { name: 'symlink, then a directory and a file through it', layer: t((c) => [{ name: 'esc', type: 'symlink', linkname: c.canary }, { name: 'esc/sub/', type: 'directory' }, { name: 'esc/sub/pwned', data: 'x' }]), expect: 'refused' },
  { name: 'relative symlink climbing out, then a file through it', layer: t((c) => [{ name: 'esc', type: 'symlink', linkname: `${c.up}d` }, { name: 'esc/pwned', data: 'x' }]), expect: 'refused' },
  { name: 'symlink chain to outside, then a file through it', layer: t((c) => [{ name: 'l1', type: 'symlink', linkname: 'l2' }, { name: 'l2', type: 'symlink', linkname: c.canary }, { name: 'l1/pwned', data: 'x' }]), expect: 'refused' },
  { name: 'file, then a symlink of the same name, then a file through it', layer: t((c) => [{ name: 'a', data: 'x' }, { name: 'a', type: 'symlink', linkname: c.canary }, { name: 'a/pwned', data: 'x' }]), expect: 'refused' },
  { name: 'symlink, then a directory over it, then a file inside', layer: t((c) => [{ name: 'a', type: 'symlink', linkname: c.canary }, { name: 'a/', type: 'directory' }, { name: 'a/pwned', data: 'x' }]), expect: 'safe' },
  { name: 'symlink to . walked again and again', layer: t(() => [{ name: 'l', type: 'symlink', linkname: '.' }, { name: 'l/l/l/x', data: 'x' }]), expect: 'safe' },
  { name: 'symlink target of 5000 bytes', layer: t(() => [{ name: 'long', type: 'symlink', linkname: 'a/'.repeat(2500) }]), expect: 'safe' },
  { name: 'absolute symlink alone (resolved in the container)', layer: t((c) => [{ name: 'abs', type: 'symlink', linkname: `${c.canary}/secret` }]), expect: 'accepted', via: ['pull'] },
  // hardlinks
  { name: 'hardlink to an absolute host file', layer: t((c) => [{ name: 'hl', type: 'link', linkname: `${c.canary}/secret` }]), expect: 'refused', via: ['pull'] },
  { name: 'hardlink climbing out', layer: t((c) => [{ name: 'hl', type: 'link', linkname: `${c.up}secret` }]), expect: 'refused', via: ['oci'] },
  { name: 'hardlink through a symlink', layer: t((c) => [{ name: 's', type: 'symlink', linkname: c.canary }, { name: 'hl', type: 'link', linkname: 's/secret' }]), expect: 'refused' },
  { name: 'hardlink to a missing entry', layer: t(() => [{ name: 'hl', type: 'link', linkname: 'nothere' }]), expect: 'refused' },
  { name: 'hardlink to a directory', layer: t(() => [{ name: 'dir/', type: 'directory' }, { name: 'hl', type: 'link', linkname: 'dir' }]), expect: 'refused' },
  { name: 'hardlink to itself', layer: t(() => [{ name: 'self', type: 'link', linkname: 'self' }]), expect: 'safe' },
  // special files and modes (docker accepts them: they stay in the layer)
  { name: 'character device node 1:3', layer: t(() => [{ name: 'dev/', type: 'directory' }, { name: 'dev/mynull', type: 'character-device', header: { devmajor: 1, devminor: 3 } }]), expect: 'accepted', via: ['pull'] },
  { name: 'block device node 7:0', layer: t(() => [{ name: 'blk', type: 'character-device', header: { type: 'block-device', devmajor: 7, devminor: 0 } }]), expect: 'accepted' },
  { name: 'fifo', layer: t(() => [{ name: 'fifo', type: 'fifo' }]), expect: 'accepted' },
  { name: 'setuid root file', layer: t(() => [{ name: 'suid', data: '#!/bin/sh\n', mode: 0o4755 }]), expect: 'accepted', via: ['pull'] },
  { name: 'setgid directory', layer: t(() => [{ name: 'sgid/', type: 'directory', mode: 0o2775 }]), expect: 'accepted' },
  { name: 'sticky world-writable directory', layer: t(() => [{ name: 'tmp/', type: 'directory', mode: 0o1777 }]), expect: 'accepted' },
  { name: 'uid 4294967294 (pax)', layer: raw(() => [{ name: 'PaxHeader', flag: 'x', pax: { uid: '4294967294', gid: '4294967294' } }, { name: 'big-uid', data: 'x' }]), expect: 'safe' },
  { name: 'mtime in the year 30000', layer: t(() => [{ name: 'future', data: 'x', header: { mtime: new Date(8.64e15) } }]), expect: 'safe' },
  // names
  { name: 'one name component of 300 bytes', layer: t(() => [{ name: 'n'.repeat(300), data: 'x' }]), expect: 'refused' },
  { name: 'path of 1000 short components', layer: t(() => [{ name: 'a/'.repeat(1000) + 'f', data: 'x' }]), expect: 'safe' },
  { name: 'backslashes and dots (a valid Linux name)', layer: t(() => [{ name: 'a\\..\\..\\x', data: 'x' }]), expect: 'accepted' },
  { name: 'NUL inside a pax path', layer: raw(() => [{ name: 'PaxHeader', flag: 'x', pax: { path: 'a\0/../../x' } }, { name: 'ok', data: 'x' }]), expect: 'safe' },
  // pax / GNU tricks
  { name: 'pax path escaping while the ustar name is harmless', layer: raw((c) => [{ name: 'PaxHeader', flag: 'x', pax: { path: `${c.up}pwned` } }, { name: 'harmless', data: 'x' }]), expect: 'refused', via: ['pull'] },
  { name: 'pax linkpath to outside, then a file through the link', layer: raw((c) => [{ name: 'PaxHeader', flag: 'x', pax: { linkpath: c.canary } }, { name: 'l', flag: '2', linkname: 'ok' }, { name: 'l/pwned', data: 'x' }]), expect: 'refused' },
  { name: 'global pax path through a symlink (tar applies it, a parser may not)', layer: raw((c) => [{ name: 'esc', flag: '2', linkname: c.canary }, { name: 'GlobalHead', flag: 'g', pax: { path: 'esc/pwned' } }, { name: 'harmless', data: 'x' }]), expect: 'refused', via: ['pull'] },
  { name: 'GNU long name with ..', layer: raw((c) => [{ name: '././@LongLink', flag: 'L', data: `${c.up}pwned\0` }, { name: 'x', data: 'x' }]), expect: 'refused' },
  { name: 'GNU long link name to outside for a hardlink', layer: raw((c) => [{ name: '././@LongLink', flag: 'K', data: `${c.up}secret\0` }, { name: 'hl', flag: '1', linkname: 'x' }]), expect: 'refused' },
  { name: 'pax size larger than the data', layer: raw(() => [{ name: 'PaxHeader', flag: 'x', pax: { size: '99999999' } }, { name: 'f', data: 'x' }]), expect: 'refused' },
  // broken tars
  { name: 'bad header checksum', layer: raw(() => [{ name: 'f', data: 'x', badChecksum: true }]), expect: 'refused' },
  { name: 'size field larger than the data (truncated)', layer: raw(() => [{ name: 'f', data: 'x', size: 10000 }], false), expect: 'refused' },
  { name: 'no end-of-archive blocks', layer: raw(() => [{ name: 'f', data: 'x' }], false), expect: 'safe' },
  { name: 'unknown type flag Z', layer: raw(() => [{ name: 'z', flag: 'Z', data: 'x' }]), expect: 'refused' },
  { name: 'random bytes as a layer', layer: () => crypto.randomBytes(4096), expect: 'refused', via: ['pull'] },
  { name: 'empty layer (0 bytes)', layer: () => Buffer.alloc(0), expect: 'safe' },
  { name: 'truncated gzip layer', layer: async () => zlib.gzipSync(await tar([{ name: 'f', data: 'x'.repeat(5000) }])).subarray(0, 40), expect: 'refused' },
  { name: 'gzip layer with trailing garbage', layer: async () => Buffer.concat([zlib.gzipSync(await tar([{ name: 'f', data: 'x' }])), Buffer.from('garbage')]), expect: 'safe' },
  { name: 'zstd magic followed by garbage', layer: () => Buffer.concat([Buffer.from([0x28, 0xb5, 0x2f, 0xfd]), crypto.randomBytes(100)]), expect: 'refused' },
  { name: '20000 empty files', layer: t(() => Array.from({ length: 20000 }, (_, i) => ({ name: `f${i}`, data: '' }))), expect: 'safe' },
  // whiteouts
  { name: 'whiteout of ..', layer: t(() => [{ name: 'a/', type: 'directory' }, { name: 'a/.wh...', data: '' }]), expect: 'refused' },
  { name: 'whiteout with an empty name', layer: t(() => [{ name: '.wh.', data: '' }]), expect: 'refused' },
  { name: 'whiteout through a symlink to outside', layer: t((c) => [{ name: 'l', type: 'symlink', linkname: c.canary }, { name: 'l/.wh.secret', data: '' }]), expect: 'refused', via: ['pull'] },
  { name: 'opaque marker through a symlink to outside', layer: t((c) => [{ name: 'l', type: 'symlink', linkname: c.canary }, { name: 'l/.wh..wh..opq', data: '' }]), expect: 'refused' },
  { name: 'whiteout and a file of the same name in one layer', layer: t(() => [{ name: '.wh.foo', data: '' }, { name: 'foo', data: 'x' }]), expect: 'safe' },
  { name: 'whiteout that is a directory', layer: t(() => [{ name: '.wh.dir/', type: 'directory' }, { name: '.wh.dir/x', data: 'x' }]), expect: 'safe' },
  { name: 'opaque marker at the root', layer: t(() => [{ name: '.wh..wh..opq', data: '' }]), expect: 'safe' },
  { name: 'AUFS hardlink dir metadata', layer: t(() => [{ name: '.wh..wh.plnk/', type: 'directory' }, { name: '.wh..wh.plnk/1.2', data: 'x' }]), expect: 'accepted' },
  { name: 'whiteout as a hardlink to outside', layer: t((c) => [{ name: '.wh.x', type: 'link', linkname: `${c.canary}/secret` }]), expect: 'refused' },
];

let seq = 0;
const tagOf = (name: string) => `hostile-${++seq}-${name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 40)}:latest`;

function expand(lc: LayerCase): HostileInput[] {
  const base = { expect: lc.expect };
  const out: HostileInput[] = [
    { name: `layer/load: ${lc.name}`, ...base, payload: { kind: 'load', archive: async (c) => dockerArchive({ layers: [await lc.layer(c)] }, tagOf(lc.name)) } },
  ];
  if (lc.via?.includes('pull')) out.push({ name: `layer/pull: ${lc.name}`, ...base, payload: { kind: 'pull', repo: async (c) => stubImage({ layers: [zlib.gzipSync(await lc.layer(c))] }) } });
  if (lc.via?.includes('oci')) out.push({ name: `layer/oci-load: ${lc.name}`, ...base, payload: { kind: 'load', archive: async (c) => ociArchive({ layers: [await lc.layer(c)] }) } });
  return out;
}

const harmless = () => tar([{ name: 'ok', data: 'ok' }]);

/** Archive-level tricks for `docker load`: the wrapper around the layers. */
const archiveCases: HostileInput[] = [
  { name: 'load: gzip bomb layer (2 GiB of zeros in ~2 MB)', expect: 'refused', payload: { kind: 'load', archive: async () => dockerArchive({ layers: [gzipBomb()], diffIds: [zerosDiffId(2 * GIB)] }, 'hostile-bomb:latest') } },
  { name: 'load: an upper layer writes through a lower layer\'s symlink', expect: 'accepted', payload: { kind: 'load', archive: async (c) => dockerArchive({ layers: [await tar([{ name: 'esc', type: 'symlink', linkname: c.canary }]), await tar([{ name: 'esc/', type: 'directory' }, { name: 'esc/pwned', data: 'x' }])] }, 'hostile-two-layers:latest') } },
  { name: 'load: manifest.json is not JSON', expect: 'refused', payload: { kind: 'load', archive: async () => dockerArchive({ layers: [await harmless()] }, 'x:1', { manifestJson: '{not json' }) } },
  { name: 'load: manifest.json is an object', expect: 'refused', payload: { kind: 'load', archive: async () => dockerArchive({ layers: [await harmless()] }, 'x:1', { manifestJson: {} }) } },
  { name: 'load: manifest.json entry without Config', expect: 'refused', payload: { kind: 'load', archive: async () => dockerArchive({ layers: [await harmless()] }, 'x:1', { manifestJson: [{ Layers: [] }] }) } },
  { name: 'load: manifest.json layer path climbing to the host secret', expect: 'refused', payload: { kind: 'load', archive: async (c) => dockerArchive({ layers: [await harmless()] }, 'x:1', { manifestJson: [{ Config: 'c.json', RepoTags: ['x:1'], Layers: [`${c.up}secret`] }] }) } },
  { name: 'load: manifest.json Config is an absolute host path', expect: 'refused', payload: { kind: 'load', archive: async (c) => dockerArchive({ layers: [await harmless()] }, 'x:1', { manifestJson: [{ Config: `${c.canary}/secret`, Layers: [] }] }) } },
  { name: 'load: manifest.json Layers is a string', expect: 'refused', payload: { kind: 'load', archive: async () => dockerArchive({ layers: [await harmless()] }, 'x:1', { manifestJson: [{ Config: 'c.json', Layers: 'abc' }] }) } },
  { name: 'load: RepoTags with an invalid reference', expect: 'refused', payload: { kind: 'load', archive: async () => dockerArchive({ layers: [await harmless()] }, 'UPPER/../x:bad tag') } },
  { name: 'load: config has fewer diff_ids than layers', expect: 'refused', payload: { kind: 'load', archive: async () => dockerArchive({ layers: [await harmless(), await tar([{ name: 'b', data: 'b' }])], diffIds: [] }, 'x:2') } },
  { name: 'load: config diff_id does not match the layer', expect: 'refused', payload: { kind: 'load', archive: async () => dockerArchive({ layers: [await harmless()], diffIds: [`sha256:${'0'.repeat(64)}`] }, 'x:3') } },
  { name: 'load: config diff_id is a path', expect: 'refused', payload: { kind: 'load', archive: async (c) => dockerArchive({ layers: [await harmless()], diffIds: [`sha256:${c.up}secret`] }, 'x:4') } },
  { name: 'load: archive member named ../', expect: 'refused', payload: { kind: 'load', archive: async (c) => tar([{ name: `${c.up}pwned`, data: 'x' }, { name: 'manifest.json', data: '[]' }]) } },
  { name: 'load: archive member with an absolute name', expect: 'refused', payload: { kind: 'load', archive: async (c) => tar([{ name: `${c.canary}/pwned`, data: 'x' }, { name: 'manifest.json', data: '[]' }]) } },
  { name: 'load: archive symlink member, then a member through it', expect: 'refused', payload: { kind: 'load', archive: async (c) => tar([{ name: 'esc', type: 'symlink', linkname: c.canary }, { name: 'esc/pwned', data: 'x' }]) } },
  { name: 'load: random bytes', expect: 'refused', payload: { kind: 'load', archive: async () => crypto.randomBytes(10000) } },
  { name: 'load: empty body', expect: 'refused', payload: { kind: 'load', archive: async () => Buffer.alloc(0) } },
  { name: 'load: a tar with neither manifest.json nor index.json', expect: 'refused', payload: { kind: 'load', archive: async () => tar([{ name: 'hello', data: 'x' }]) } },
  { name: 'oci-load: index.json is not JSON', expect: 'refused', payload: { kind: 'load', archive: async () => ociArchive({ layers: [await harmless()] }, { index: () => '{' }) } },
  { name: 'oci-load: manifest digest is a path', expect: 'refused', payload: { kind: 'load', archive: async (c) => ociArchive({ layers: [await harmless()] }, { index: () => ({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: `sha256:${c.up}secret`, size: 10 }] }) }) } },
  { name: 'oci-load: manifest size does not match its blob', expect: 'refused', payload: { kind: 'load', archive: async () => ociArchive({ layers: [await harmless()] }, { index: (m) => ({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: m.digest, size: m.size + 1 }] }), blobs: {} }) } },
  { name: 'oci-load: an index that names itself (a cycle)', expect: 'refused', payload: { kind: 'load', archive: async () => {
    const self = 'a'.repeat(64);
    const cyc = JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [{ mediaType: 'application/vnd.oci.image.index.v1+json', digest: `sha256:${self}`, size: 200 }] });
    return ociArchive({ layers: [await harmless()] }, { index: () => JSON.parse(cyc), blobs: { [self]: cyc } });
  } } },
  { name: 'oci-load: unknown manifest media type', expect: 'refused', payload: { kind: 'load', archive: async () => ociArchive({ layers: [await harmless()] }, { index: (m) => ({ schemaVersion: 2, manifests: [{ mediaType: 'application/x-evil', ...m }] }) }) } },
  { name: 'oci-load: unknown layer media type', expect: 'refused', payload: { kind: 'load', archive: async () => ociArchive({ layers: [await harmless()] }, { layerMediaType: 'application/x-evil' }) } },
  { name: 'load: a body that streams 64 MB of zeros', expect: 'refused', payload: { kind: 'load', archive: async () => Buffer.alloc(64 << 20) } },
];

export const layerInputs: HostileInput[] = [...layerCases.flatMap(expand), ...archiveCases];

/** For a streamed body that is never held in memory. */
export const zeros = (bytes: number) => () => Readable.from((function* () {
  const chunk = Buffer.alloc(1 << 20);
  for (let n = 0; n < bytes; n += chunk.length) yield chunk;
})());
