/**
 * OCI whiteouts (`.wh.NAME`, `.wh..wh..opq`) <-> overlayfs form (char device 0/0, trusted.overlay.opaque=y; a
 * rootless daemon mounts with `userxattr` and uses user.overlay.*, since trusted.* needs the host's CAP_SYS_ADMIN).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isRootless } from '../common/rootless';
import { mknod, setxattr } from '../native';

/** The xattr namespace overlayfs reads its metadata from in this daemon. */
export const overlayXattrPrefix = isRootless() ? 'user.overlay.' : 'trusted.overlay.';
export const opaqueXattr = `${overlayXattrPrefix}opaque`;
/** Mount options that go with it. */
export const overlayMountOptions = isRootless() ? ',userxattr' : '';

/** Convert the whiteouts a layer tar carried (paths relative to `dir`, as TarPolicy collected them). */
export function toOverlay(dir: string, whiteouts: string[], opaqueDirs: string[], aufsMeta: string[]): void {
  for (const rel of aufsMeta) fs.rmSync(path.join(dir, rel), { recursive: true, force: true });
  for (const rel of opaqueDirs) {
    const d = path.join(dir, rel);
    fs.rmSync(path.join(d, '.wh..wh..opq'), { force: true });
    setxattr(d, opaqueXattr, 'y');
  }
  for (const rel of whiteouts) {
    const p = path.join(dir, rel);
    fs.rmSync(p, { force: true });
    const target = path.join(path.dirname(p), path.basename(p).slice('.wh.'.length));
    if (fs.lstatSync(target, { throwIfNoEntry: false })) throw new Error(`layer has both ${rel} and the file it deletes`);
    mknod(target, fs.constants.S_IFCHR, 0, 0);
  }
}

/** Is this stat a whiteout in overlay form? */
export const isOverlayWhiteout = (st: fs.Stats): boolean => st.isCharacterDevice() && st.rdev === 0;
