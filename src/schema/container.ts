/**
 * Docker Engine API wire types for containers (the subset Berth reads), shared by the daemon and the client.
 * The bottom layer: imports nothing from src/. Unknown fields are ignored everywhere.
 */

/** The runtime part of an image config (OCI `config`, Docker `Config`); also the top level of a create body. */
export interface ContainerConfig {
  User?: string;
  ExposedPorts?: Record<string, object>;
  Env?: string[];
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
  Volumes?: Record<string, object>;
  WorkingDir?: string;
  Labels?: Record<string, string>;
  StopSignal?: string;
  Healthcheck?: { Test?: string[]; Interval?: number; Timeout?: number; Retries?: number; StartPeriod?: number };
  OnBuild?: string[] | null;
  Shell?: string[];
}

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
  /** Legacy links: "child:alias" from a client, stored as "/child:/parent/alias". */
  Links?: string[] | null;
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
