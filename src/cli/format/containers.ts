/** `ps` rows as docker/cli's ContainerContext renders them. */
import type { ContainerSummary, Port } from '../../client/types';
import { ellipsis, goQuote, goTimeString, humanSizeWithPrecision, timeAgo, truncateId } from '../../common/units';

export const DEFAULT_PS_FORMAT = 'table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}';

export const PS_HEADER: Record<string, unknown> = {
  ID: 'CONTAINER ID', Image: 'IMAGE', Command: 'COMMAND', CreatedAt: 'CREATED AT', RunningFor: 'CREATED',
  Ports: 'PORTS', State: 'STATE', Status: 'STATUS', Size: 'SIZE', Names: 'NAMES', Labels: 'LABELS',
  Mounts: 'MOUNTS', LocalVolumes: 'LOCAL VOLUMES', Networks: 'NETWORKS', Platform: 'PLATFORM',
  Label: (name: string) => labelHeader(name),
};

function labelHeader(name: string): string {
  const last = name.split('.').pop() as string;
  return last.replace(/[-_]/g, ' ').toUpperCase();
}

/** Picks the --format for ps the way NewContainerFormat does. */
export function psFormat(format: string, quiet: boolean, size: boolean): string {
  if (quiet) return '{{.ID}}';
  if (!format || format === 'table') return DEFAULT_PS_FORMAT + (size ? '\t{{.Size}}' : '');
  return format;
}

/** One ps row; getters are the template fields, so a typo in --format is an error as in docker. */
export class ContainerContext {
  constructor(private readonly c: ContainerSummary, private readonly trunc: boolean, private readonly now = Date.now()) {}

  get ID(): string {
    return this.trunc ? truncateId(this.c.Id) : this.c.Id;
  }

  get Names(): string {
    let names = (this.c.Names ?? []).map((n) => n.replace(/^\//, ''));
    if (this.trunc) {
      const own = names.find((n) => !n.includes('/'));
      if (own !== undefined) names = [own];
    }
    return names.join(',');
  }

  get Image(): string {
    let image = this.c.Image;
    if (!image) return '<no image>';
    if (this.trunc) {
      if (this.c.ImageID && truncateId(this.c.ImageID) === truncateId(image)) return truncateId(image);
      const at = image.indexOf('@');
      if (at > 0 && /^sha256:/.test(image.slice(at + 1))) image = image.slice(0, at); // drop a digest when a name is there
    }
    return image;
  }

  get Command(): string {
    return goQuote(this.trunc ? ellipsis(this.c.Command, 20) : this.c.Command);
  }

  get CreatedAt(): string {
    return goTimeString(new Date(this.c.Created * 1000));
  }

  get RunningFor(): string {
    return timeAgo(this.c.Created, this.now);
  }

  get Ports(): string {
    return displayablePorts(this.c.Ports ?? []);
  }

  get State(): string {
    return this.c.State;
  }

  get Status(): string {
    return this.c.Status;
  }

  get Size(): string {
    if (this.c.SizeRw === undefined && this.c.SizeRootFs === undefined) return '0B';
    const rw = humanSizeWithPrecision(this.c.SizeRw ?? 0, 3);
    const virt = humanSizeWithPrecision(this.c.SizeRootFs ?? 0, 3);
    return this.c.SizeRootFs ? `${rw} (virtual ${virt})` : rw;
  }

  get Labels(): string {
    return Object.entries(this.c.Labels ?? {}).map(([k, v]) => `${k}=${v}`).join(',');
  }

  Label(name: string): string {
    return (this.c.Labels ?? {})[name] ?? '';
  }

  get Mounts(): string {
    return (this.c.Mounts ?? []).map((m) => {
      const name = m.Type === 'volume' || m.Name ? (m.Name ?? '') : (m.Source ?? '');
      return this.trunc ? ellipsis(name, 15) : name;
    }).join(',');
  }

  get LocalVolumes(): string {
    return String((this.c.Mounts ?? []).filter((m) => m.Driver === 'local').length);
  }

  get Networks(): string {
    return Object.keys(this.c.NetworkSettings?.Networks ?? {}).sort().join(',');
  }

  get Platform(): string {
    return '';
  }

  /** {{json .}} gives every field, as docker's MarshalJSON on the context does. */
  toJSON(): Record<string, string> {
    const keys = ['Command', 'CreatedAt', 'ID', 'Image', 'Labels', 'LocalVolumes', 'Mounts', 'Names', 'Networks', 'Ports', 'RunningFor', 'Size', 'State', 'Status'];
    return Object.fromEntries(keys.map((k) => [k, (this as unknown as Record<string, string>)[k]]));
  }
}

/** formatter.DisplayablePorts: groups consecutive ports, "0.0.0.0:5000->5000/tcp, :::5000->5000/tcp". */
export function displayablePorts(input: Port[]): string {
  const ports = [...input].sort((a, b) =>
    a.PrivatePort - b.PrivatePort || cmpStr(a.IP ?? '', b.IP ?? '') || (a.PublicPort ?? 0) - (b.PublicPort ?? 0) || cmpStr(a.Type, b.Type));
  const groups = new Map<string, { first: number; last: number }>();
  const result: string[] = [];
  const hostMappings: string[] = [];
  for (const p of ports) {
    const current = p.PrivatePort;
    let key = p.Type;
    if (p.IP) {
      if ((p.PublicPort ?? 0) !== current) {
        const host = p.IP.includes(':') ? `[${p.IP}]` : p.IP;
        hostMappings.push(`${host}:${p.PublicPort ?? 0}->${p.PrivatePort}/${p.Type}`);
        continue;
      }
      key = `${p.IP}/${p.Type}`;
    }
    const g = groups.get(key);
    if (!g) groups.set(key, { first: current, last: current });
    else if (current === g.last + 1) g.last = current;
    else {
      result.push(formGroup(key, g.first, g.last));
      g.first = current; // the key keeps its first-seen slot, as Go's groupMapKeys does
      g.last = current;
    }
  }
  for (const [key, g] of groups) result.push(formGroup(key, g.first, g.last));
  return [...result, ...hostMappings].join(', ');
}

function formGroup(key: string, first: number, last: number): string {
  const parts = key.split('/');
  let type = parts[0];
  let ip = '';
  if (parts.length > 1) {
    ip = parts[0];
    type = parts[1];
  }
  let group = String(first);
  if (first !== last) group += `-${last}`;
  if (ip) group = `${ip}:${group}->${group}`;
  return `${group}/${type}`;
}

const cmpStr = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
