/**
 * Typed decoding of Engine API JSON bodies, the way Go's encoding/json decodes into dockerd's structs: a value of the
 * wrong JSON type is a 400 naming the field (never a TypeError deep in a service, i.e. a 500); `null` is the zero
 * value; unknown fields are ignored. Only the fields Berth reads are described; the rest pass through untouched.
 */
import { badRequest } from '../common/errors';

/** int: a JSON number (Go's int64 fields); strslice: docker's StrSlice, a string or a list of strings. */
export type Scalar = 'string' | 'bool' | 'int' | 'number' | 'strslice';
export type Schema =
  | Scalar
  | { list: Schema }
  | { map: Schema }
  | { fields: Record<string, Schema> }
  /** A JSON object whose values are not read (docker's `map[string]struct{}` sets such as ExposedPorts). */
  | 'object';

const GO_TYPES: Record<Scalar | 'object', string> = { string: 'string', bool: 'bool', int: 'int64', number: 'float64', strslice: 'strslice.StrSlice', object: 'map[string]struct {}' };

function goType(s: Schema): string {
  if (typeof s === 'string') return GO_TYPES[s];
  if ('list' in s) return `[]${goType(s.list)}`;
  if ('map' in s) return `map[string]${goType(s.map)}`;
  return 'struct';
}

function jsonKind(v: unknown): string {
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'boolean') return 'bool';
  return typeof v; // string, number, object
}

/** Checks `value` against `schema` and returns it with StrSlice strings made lists; throws a 400 naming `at`. */
export function decodeValue(value: unknown, schema: Schema, at: string): unknown {
  if (value === null || value === undefined) return value;
  const wrong = (): never => {
    throw badRequest(`json: cannot unmarshal ${jsonKind(value)} into Go value of type ${goType(schema)} (field ${at})`);
  };
  if (typeof schema === 'string') {
    switch (schema) {
      case 'string':
        return typeof value === 'string' ? value : wrong();
      case 'bool':
        return typeof value === 'boolean' ? value : wrong();
      case 'number':
        return typeof value === 'number' ? value : wrong();
      case 'int':
        return typeof value === 'number' && Number.isInteger(value) ? value : wrong();
      case 'strslice':
        if (typeof value === 'string') return [value];
        if (!Array.isArray(value)) return wrong();
        return value.map((v, i) => decodeValue(v, 'string', `${at}[${i}]`));
      case 'object':
        return typeof value === 'object' && !Array.isArray(value) ? value : wrong();
    }
  }
  if ('list' in schema) {
    if (!Array.isArray(value)) return wrong();
    return value.map((v, i) => decodeValue(v, schema.list, `${at}[${i}]`));
  }
  if (typeof value !== 'object' || Array.isArray(value)) return wrong();
  const obj = value as Record<string, unknown>;
  const out: Record<string, unknown> = { ...obj };
  if ('map' in schema) {
    for (const [k, v] of Object.entries(obj)) out[k] = decodeValue(v, schema.map, `${at}.${k}`);
  } else {
    for (const [k, s] of Object.entries(schema.fields)) {
      if (k in obj) out[k] = decodeValue(obj[k], s, at ? `${at}.${k}` : k);
    }
  }
  return out;
}

/** Decodes a whole body (a JSON object) with `schema`'s fields. */
export function decodeBody<T>(body: unknown, schema: { fields: Record<string, Schema> }): T {
  return decodeValue(body, schema, '') as T;
}

const strings: Schema = { list: 'string' };
const strMap: Schema = { map: 'string' };

const HEALTHCHECK: Schema = { fields: { Test: strings, Interval: 'int', Timeout: 'int', Retries: 'int', StartPeriod: 'int', StartInterval: 'int' } };

/** container.Config (create, and commit's body). */
export const CONTAINER_CONFIG: { fields: Record<string, Schema> } = {
  fields: {
    Hostname: 'string', Domainname: 'string', User: 'string', AttachStdin: 'bool', AttachStdout: 'bool', AttachStderr: 'bool',
    ExposedPorts: 'object', Tty: 'bool', OpenStdin: 'bool', StdinOnce: 'bool', Env: strings, Cmd: 'strslice',
    Healthcheck: HEALTHCHECK, ArgsEscaped: 'bool', Image: 'string', Volumes: 'object', WorkingDir: 'string',
    Entrypoint: 'strslice', NetworkDisabled: 'bool', MacAddress: 'string', OnBuild: strings, Labels: strMap,
    StopSignal: 'string', StopTimeout: 'int', Shell: 'strslice',
  },
};

/** container.Resources (HostConfig's and the update body's). */
const RESOURCES: Record<string, Schema> = {
  Memory: 'int', MemorySwap: 'int', MemoryReservation: 'int', MemorySwappiness: 'int', KernelMemory: 'int',
  OomKillDisable: 'bool', NanoCpus: 'int', CpuShares: 'int', CpuPeriod: 'int', CpuQuota: 'int', CpusetCpus: 'string',
  CpusetMems: 'string', BlkioWeight: 'int', PidsLimit: 'int',
  Devices: { list: { fields: { PathOnHost: 'string', PathInContainer: 'string', CgroupPermissions: 'string' } } },
  DeviceCgroupRules: strings,
  Ulimits: { list: { fields: { Name: 'string', Soft: 'int', Hard: 'int' } } },
};

const RESTART_POLICY: Schema = { fields: { Name: 'string', MaximumRetryCount: 'int' } };

const HOST_CONFIG: Schema = {
  fields: {
    ...RESOURCES,
    Binds: strings, ContainerIDFile: 'string', LogConfig: { fields: { Type: 'string', Config: strMap } },
    NetworkMode: 'string', PortBindings: { map: { list: { fields: { HostIp: 'string', HostPort: 'string' } } } },
    RestartPolicy: RESTART_POLICY, AutoRemove: 'bool', VolumeDriver: 'string', VolumesFrom: strings,
    ConsoleSize: { list: 'int' }, CapAdd: 'strslice', CapDrop: 'strslice', Dns: strings, DnsOptions: strings,
    DnsSearch: strings, ExtraHosts: strings, Links: strings, GroupAdd: strings, IpcMode: 'string', OomScoreAdj: 'int', PidMode: 'string',
    Privileged: 'bool', PublishAllPorts: 'bool', ReadonlyRootfs: 'bool', SecurityOpt: strings, Tmpfs: strMap,
    UTSMode: 'string', UsernsMode: 'string', ShmSize: 'int', Sysctls: strMap, Runtime: 'string', Init: 'bool',
    Mounts: {
      list: {
        fields: {
          Type: 'string', Source: 'string', Target: 'string', ReadOnly: 'bool', Consistency: 'string',
          BindOptions: { fields: { Propagation: 'string', NonRecursive: 'bool' } },
          VolumeOptions: { fields: { NoCopy: 'bool', Labels: strMap, DriverConfig: { fields: { Name: 'string', Options: strMap } } } },
          TmpfsOptions: { fields: { SizeBytes: 'int', Mode: 'int' } },
        },
      },
    },
  },
};

const ENDPOINT: Schema = {
  fields: { IPAMConfig: { fields: { IPv4Address: 'string', IPv6Address: 'string' } }, Aliases: strings, MacAddress: 'string', Links: strings },
};

/** POST /containers/create: Config, HostConfig and NetworkingConfig (docker's ContainerConfigWrapper). */
export const CREATE_CONTAINER = {
  fields: { ...CONTAINER_CONFIG.fields, HostConfig: HOST_CONFIG, NetworkingConfig: { fields: { EndpointsConfig: { map: ENDPOINT } } } },
};

/** POST /containers/{id}/update. */
export const UPDATE_CONTAINER = { fields: { ...RESOURCES, RestartPolicy: RESTART_POLICY } };

/** POST /containers/{id}/exec. */
export const EXEC_CONFIG = {
  fields: {
    User: 'string', Privileged: 'bool', Tty: 'bool', ConsoleSize: { list: 'int' }, AttachStdin: 'bool', AttachStdout: 'bool',
    AttachStderr: 'bool', DetachKeys: 'string', Env: strings, WorkingDir: 'string', Cmd: strings,
  } satisfies Record<string, Schema>,
};

/** POST /exec/{id}/start. */
export const EXEC_START = { fields: { Detach: 'bool', Tty: 'bool', ConsoleSize: { list: 'int' } } satisfies Record<string, Schema> };

/** POST /networks/{id}/connect and /disconnect. */
export const CONNECT_NETWORK = { fields: { Container: 'string', EndpointConfig: ENDPOINT, Force: 'bool' } satisfies Record<string, Schema> };

/** POST /volumes/create. */
export const CREATE_VOLUME = { fields: { Name: 'string', Driver: 'string', DriverOpts: strMap, Labels: strMap } satisfies Record<string, Schema> };

/** POST /auth. */
export const AUTH_CONFIG = {
  fields: { username: 'string', password: 'string', auth: 'string', serveraddress: 'string', identitytoken: 'string', registrytoken: 'string', email: 'string' } satisfies Record<string, Schema>,
};
