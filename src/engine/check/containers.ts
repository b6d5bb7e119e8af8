/**
 * Container records against their image, runtime state and mounts; and what this daemon left on the host: conmon
 * processes, runtime state, cgroups and mounts under its data root. Only ids and paths of this daemon (its records,
 * its run root, its data root) are looked at, never another daemon's.
 */
import { shortId } from '../../common/ids';
import type { ImageService } from '../../image/service';
import { ContainerCgroup, removeCgroupDir } from '../../runtime/cgroupfs';
import { stopConmon, type ConmonRuntime } from '../../runtime/conmon';
import { mountPoints, mountsUnder, unmountOverlay } from '../../store/overlay';
import type { Trash } from '../../store/trash';
import type { ContainerStore } from '../containers/record';
import type { Findings } from './findings';

export interface HostDeps {
  dataRoot: string;
  images: ImageService;
  containers: ContainerStore;
  runtime: ConmonRuntime;
  trash: Trash;
  /** Mount points that belong to volumes (their `_data` while mounted). */
  volumeMounts: () => string[];
}

/** Returns the ids of containers with a live runtime instance. */
export async function checkContainers(d: HostDeps, f: Findings): Promise<Set<string>> {
  const inv = d.runtime.inventory();
  const records = d.containers.all();
  const live = new Set(records.filter((r) => r.Instance).map((r) => r.Id));
  for (const rec of records) {
    const id = rec.Id;
    if (!d.images.store.get(rec.Image)) f.add('container', id, `its image ${rec.Image} is missing`);
    if (rec.Instance) {
      if (inv.exits.includes(id)) continue; // exited a moment ago: the exit is being processed
      const conmon = rec.Instance.conmonPid;
      if (!inv.conmons.some((c) => c.pid === conmon && c.id === id && !c.exec)) f.add('container', id, `recorded as running but its conmon (pid ${conmon}) is gone`);
      const st = await d.runtime.state(id, rec.Runtime).catch(() => undefined);
      if (!st || st.status === 'stopped') f.add('container', id, `recorded as running but the runtime says ${st?.status ?? 'it does not exist'}`);
      // seen from its conmon: the mount lives in the namespace of the berthd that started it (maybe an earlier one)
      let mounts: string[] = [];
      try {
        mounts = mountPoints(conmon);
      } catch {
        // conmon gone: reported above
      }
      if (mounts.length && !mounts.includes(d.containers.paths(id).rootfs)) f.add('container', id, 'recorded as running but its root filesystem is not mounted');
    } else if (rec.State.Running && !rec.State.Restarting) {
      f.add('container', id, 'recorded as running without a runtime instance');
    }
  }
  const ids = new Set(records.map((r) => r.Id));
  for (const name of d.containers.dirs()) {
    if (ids.has(name)) continue;
    const dir = d.containers.paths(name).dir;
    f.orphan('container', dir, 'directory without a record', () => d.trash.discard(dir, 'container', name));
  }

  // Everything of one container that is not running goes in one repair, conmon first (see ConmonRuntime.discard).
  const discards = new Map<string, () => Promise<void>>();
  const discard = (id: string, runtime = records.find((r) => r.Id === id)?.Runtime ?? inv.states.find((s) => s.id === id)?.runtime ?? 'crun') => {
    let repair = discards.get(`${runtime} ${id}`);
    if (!repair) discards.set(`${runtime} ${id}`, (repair = async () => void (await d.runtime.discard(id, runtime))));
    return repair;
  };
  for (const c of inv.conmons) {
    const ok = c.exec ? live.has(c.id) : records.some((r) => r.Instance?.conmonPid === c.pid);
    if (!ok) f.orphan('conmon', `pid ${c.pid}`, `${c.exec ? 'exec session' : 'conmon'} of container ${shortId(c.id)}, which is not running`, live.has(c.id) ? () => stopConmon(c.pid) : discard(c.id));
  }
  for (const s of inv.states) {
    if (!live.has(s.id)) f.orphan('runtime', `${s.runtime} ${s.id}`, 'runtime state of a container that is not running', discard(s.id, s.runtime));
  }
  for (const id of new Set([...inv.dirs, ...inv.exits])) {
    if (!live.has(id)) f.orphan('runtime', `files of ${id}`, 'conmon files of a container that is not running', discard(id));
  }

  const legit = new Set([d.dataRoot, ...[...live].map((id) => d.containers.paths(id).rootfs), ...d.volumeMounts()]);
  for (const m of mountsUnder(d.dataRoot)) {
    if (!legit.has(m)) f.orphan('mount', m, 'mounted but no running container or volume uses it', () => unmountOverlay(m));
  }

  const known = new Set([...ids, ...inv.states.map((s) => s.id), ...inv.dirs, ...inv.conmons.map((c) => c.id)]);
  for (const id of known) {
    if (live.has(id) || !/^[0-9a-f]{64}$/.test(id)) continue;
    for (const dir of new ContainerCgroup(id).existingDirs()) f.orphan('cgroup', dir, 'cgroup of a container that is not running', () => removeCgroupDir(dir));
  }
  for (const name of d.trash.list()) {
    f.orphan('trash', name, 'an interrupted removal', () => {
      d.trash.empty();
      if (d.trash.list().includes(name)) throw new Error('it could not be deleted (see the daemon log)');
    });
  }
  return live;
}
