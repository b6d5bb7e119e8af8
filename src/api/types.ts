/** Docker Engine API request/response shapes (the subset Berth reads). Unknown fields are ignored everywhere. */
import type { ContainerConfig } from '../image/types';

export interface PortBinding { HostIp?: string; HostPort?: string }

export interface MountSpec {
  Type: 'bind' | 'volume' | 'tmpfs';
  Source?: string;
  Target: string;
  ReadOnly?: boolean;
  BindOptions?: { Propagation?: string };
  TmpfsOptions?: { SizeBytes?: number; Mode?: number };
  VolumeOptions?: { NoCopy?: boolean; Labels?: Record<string, string> | null } | null;
}

export interface HostConfig {
  Binds?: string[] | null;
  Mounts?: MountSpec[] | null;
  NetworkMode?: string;
  PortBindings?: Record<string, PortBinding[] | null> | null;
  RestartPolicy?: { Name?: string; MaximumRetryCount?: number };
  AutoRemove?: boolean;
  Privileged?: boolean;
  CapAdd?: string[] | null;
  CapDrop?: string[] | null;
  ReadonlyRootfs?: boolean;
  Runtime?: string;
  Init?: boolean | null;
  Tmpfs?: Record<string, string> | null;
  ExtraHosts?: string[] | null;
  Dns?: string[] | null;
  DnsSearch?: string[] | null;
  DnsOptions?: string[] | null;
  SecurityOpt?: string[] | null;
  Memory?: number;
  PidsLimit?: number | null;
  NanoCpus?: number;
  CpuShares?: number;
  ShmSize?: number;
  ConsoleSize?: [number, number] | null;
  Sysctls?: Record<string, string> | null;
  GroupAdd?: string[] | null;
  Ulimits?: { Name: string; Soft: number; Hard: number }[] | null;
  LogConfig?: { Type?: string; Config?: Record<string, string> | null };
  [key: string]: unknown;
}

/** Body of POST /containers/create (top level is the container Config plus HostConfig/NetworkingConfig). */
export interface CreateBody extends ContainerConfig {
  Hostname?: string;
  Domainname?: string;
  AttachStdin?: boolean;
  AttachStdout?: boolean;
  AttachStderr?: boolean;
  Tty?: boolean;
  OpenStdin?: boolean;
  StdinOnce?: boolean;
  Image?: string;
  HostConfig?: HostConfig;
  NetworkingConfig?: { EndpointsConfig?: Record<string, unknown> | null } | null;
}
