/** The parts of the OCI runtime-spec config.json (v1.0.2) that Berth writes. */

export interface OciMount { destination: string; type: string; source: string; options?: string[] }
export interface OciUser { uid: number; gid: number; additionalGids?: number[]; umask?: number }
export interface OciCapabilities { bounding: string[]; effective: string[]; permitted: string[]; inheritable?: string[]; ambient?: string[] }
export interface OciRlimit { type: string; hard: number; soft: number }
export interface OciDevice { type: 'c' | 'b' | 'p' | 'u'; path: string; major: number; minor: number; fileMode: number; uid: number; gid: number }
export interface OciDeviceRule { allow: boolean; type?: 'a' | 'c' | 'b'; major?: number; minor?: number; access: string }
export interface OciNamespace { type: 'mount' | 'network' | 'uts' | 'pid' | 'ipc' | 'cgroup' | 'user'; path?: string }

export interface OciProcess {
  terminal: boolean;
  consoleSize?: { height: number; width: number };
  user: OciUser;
  args: string[];
  env: string[];
  cwd: string;
  capabilities: OciCapabilities;
  rlimits: OciRlimit[];
  noNewPrivileges: boolean;
  oomScoreAdj?: number;
  apparmorProfile?: string;
}

export interface OciResources {
  devices: OciDeviceRule[];
  memory?: { limit?: number; swap?: number; reservation?: number; swappiness?: number; disableOOMKiller?: boolean };
  cpu?: { shares?: number; quota?: number; period?: number; cpus?: string; mems?: string };
  pids?: { limit: number };
  blockIO?: { weight?: number };
}

/** One range of linux.uidMappings/gidMappings. */
export interface OciIdMapping {
  containerID: number;
  hostID: number;
  size: number;
}

export interface OciSpec {
  ociVersion: string;
  process: OciProcess;
  root: { path: string; readonly: boolean };
  hostname?: string;
  domainname?: string;
  mounts: OciMount[];
  linux: {
    namespaces: OciNamespace[];
    uidMappings?: OciIdMapping[];
    gidMappings?: OciIdMapping[];
    devices: OciDevice[];
    resources: OciResources;
    cgroupsPath?: string;
    sysctl: Record<string, string>;
    maskedPaths: string[];
    readonlyPaths: string[];
    seccomp?: object;
  };
}
