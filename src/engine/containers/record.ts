/** Container records: what berthd knows of each container, persisted atomically one file per container. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ContainerConfig, HostConfig } from '../../schema/container';
import type { RuntimeName } from '../../runtime/types';
import type { Health } from './health';
import { storedSpec, type ContainerSpec } from './normalize';
import { readJson, writeJsonAtomic } from '../../common/atomic';
import { conflict, notFound } from '../../common/errors';
import { Trash } from '../../store/trash';

export type Status = 'created' | 'running' | 'paused' | 'restarting' | 'removing' | 'exited' | 'dead';

export interface State {
  Status: Status;
  Running: boolean;
  Paused: boolean;
  Restarting: boolean;
  OOMKilled: boolean;
  Dead: boolean;
  Pid: number;
  ExitCode: number;
  Error: string;
  StartedAt: string;
  FinishedAt: string;
  /** Present when the container has a health check. */
  Health?: Health;
}

/** The container's Config as docker reports it (image config merged with the create body). */
export interface ContainerCfg extends ContainerConfig {
  Hostname: string;
  Domainname: string;
  AttachStdin: boolean;
  AttachStdout: boolean;
  AttachStderr: boolean;
  Tty: boolean;
  OpenStdin: boolean;
  StdinOnce: boolean;
  Image: string;
  StopTimeout?: number;
  /** The first network's MAC address (API < 1.44 puts it here, not per endpoint). */
  MacAddress?: string;
}

export interface ContainerRecord {
  Id: string;
  /** With docker's leading slash. */
  Name: string;
  Created: string;
  Path: string;
  Args: string[];
  Config: ContainerCfg;
  /** The create body's HostConfig (with the defaults Berth filled in): kept to answer `inspect` as docker does. */
  HostConfig: HostConfig;
  /** The options as the engine reads them, checked and typed at create (derived at load for older records). */
  Spec: ContainerSpec;
  /** Image ID (sha256:...). */
  Image: string;
  State: State;
  RestartCount: number;
  Runtime: RuntimeName;
  /** NetworkingConfig.EndpointsConfig of the create body (aliases, static IP, MAC per network). */
  EndpointsConfig?: Record<string, { IPAMConfig?: { IPv4Address?: string; IPv6Address?: string } | null; Aliases?: string[] | null; MacAddress?: string; Links?: string[] | null }> | null;
  /** Stopped or killed by a user: restart policies leave it alone until it is started again (docker's field). */
  HasBeenManuallyStopped?: boolean;
  /** Set while the container has a live runtime instance (conmon running or exit not yet processed). */
  Instance?: { conmonPid: number };
}

export const ZERO_TIME = '0001-01-01T00:00:00Z';

export function initialState(): State {
  return {
    Status: 'created', Running: false, Paused: false, Restarting: false, OOMKilled: false, Dead: false,
    Pid: 0, ExitCode: 0, Error: '', StartedAt: ZERO_TIME, FinishedAt: ZERO_TIME,
  };
}

/** On-disk layout of one container. */
export class ContainerPaths {
  constructor(readonly dir: string) {}
  get record() { return path.join(this.dir, 'container.json'); }
  get upper() { return path.join(this.dir, 'upper'); }
  get work() { return path.join(this.dir, 'work'); }
  get rootfs() { return path.join(this.dir, 'merged'); }
  get bundle() { return path.join(this.dir, 'bundle'); }
  get log() { return path.join(this.dir, 'ctr.log'); }
  get hosts() { return path.join(this.dir, 'hosts'); }
  get hostname() { return path.join(this.dir, 'hostname'); }
  get resolvConf() { return path.join(this.dir, 'resolv.conf'); }
}

export class ContainerStore {
  private readonly byId = new Map<string, ContainerRecord>();

  /** `trash`: on the same filesystem; the daemon's is `<data-root>/trash`, beside this root. */
  constructor(private readonly root: string, private readonly trash = new Trash(path.join(path.dirname(root), 'trash'))) {
    fs.mkdirSync(root, { recursive: true });
  }

  paths(id: string): ContainerPaths {
    return new ContainerPaths(path.join(this.root, id));
  }

  /**
   * Load every record; directories without a record are leftovers of a crash during create and are removed. A record
   * from before records kept their typed spec, or a part of it, gets it derived here (written with the record's next save).
   */
  load(): ContainerRecord[] {
    for (const id of fs.readdirSync(this.root)) {
      const rec = readJson<Omit<ContainerRecord, 'Spec'> & { Spec?: ContainerSpec }>(this.paths(id).record);
      if (rec) this.byId.set(rec.Id, { ...rec, Spec: storedSpec(rec.Spec, rec.HostConfig, rec.Config) });
      else fs.rmSync(path.join(this.root, id), { recursive: true, force: true });
    }
    return [...this.byId.values()];
  }

  all(): ContainerRecord[] {
    return [...this.byId.values()];
  }

  save(rec: ContainerRecord): void {
    writeJsonAtomic(this.paths(rec.Id).record, rec);
    this.byId.set(rec.Id, rec);
  }

  /** Whole or gone: the directory (record, upper, logs) leaves its name in one rename, then is deleted from the trash. */
  delete(id: string): void {
    this.trash.discard(path.join(this.root, id), 'container', id);
    this.byId.delete(id);
  }

  /** Directory names under the root (a record each, once load() has run). */
  dirs(): string[] {
    return fs.readdirSync(this.root);
  }

  byName(name: string): ContainerRecord | undefined {
    const want = name.startsWith('/') ? name : '/' + name;
    for (const r of this.byId.values()) if (r.Name === want) return r;
    return undefined;
  }

  /** Docker's lookup order: full ID, exact name, unique ID prefix. */
  find(ref: string): ContainerRecord | undefined {
    const exact = this.byId.get(ref) ?? this.byName(ref);
    if (exact) return exact;
    if (!/^[0-9a-f]+$/.test(ref)) return undefined;
    const hits = [...this.byId.values()].filter((r) => r.Id.startsWith(ref));
    if (hits.length > 1) throw conflict(`multiple IDs found with provided prefix: ${ref}`);
    return hits[0];
  }

  get(ref: string): ContainerRecord {
    const r = this.find(ref);
    if (!r) throw notFound(`No such container: ${ref}`);
    return r;
  }
}
