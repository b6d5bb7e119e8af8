/**
 * Hostile Engine API requests on the unix socket: malformed JSON, wrong types, bad query parameters, huge bodies,
 * and `cp` (the archive endpoints) with paths and tars aimed at the host. `{ctr}` is a running busybox container whose
 * `/esc` is a symlink to the canary's host path (a path that means nothing inside the container).
 */
import { rawTar, tar } from './craft';
import { zeros } from './corpus-layers';
import type { Body, Ctx, HostileInput } from './harness';

const JSON_TYPE = { 'Content-Type': 'application/json' };

const api = (name: string, method: string, path: string | ((c: Ctx) => string), body: Body | undefined, expect: HostileInput['expect'] = 'refused', extra: Partial<HostileInput> = {}): HostileInput => ({
  name: `api: ${name}`,
  expect,
  status: 400,
  ...extra,
  payload: { kind: 'api', method, path, body, headers: JSON_TYPE },
});

/** POST /containers/create with `fields` merged into a valid body. */
const create = (name: string, fields: Record<string, unknown>, extra: Partial<HostileInput> = {}): HostileInput =>
  api(`create: ${name}`, 'POST', '/containers/create', JSON.stringify({ Image: 'busybox', Cmd: ['true'], ...fields }), 'refused', extra);
const hostConfig = (name: string, hc: Record<string, unknown>, extra: Partial<HostileInput> = {}): HostileInput => create(`HostConfig.${name}`, { HostConfig: hc }, extra);

const malformed: [string, string][] = [
  ['truncated JSON', '{"Image":'],
  ['a JSON array', '[1,2]'],
  ['a JSON string', '"busybox"'],
  ['JSON null', 'null'],
  ['nested 100000 arrays deep', '{"a":' + '['.repeat(100000) + ']'.repeat(100000) + '}'],
  ['invalid UTF-8', Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d]).toString('latin1')],
  ['trailing garbage', '{"Image":"busybox"} trailing'],
];

const bodyRoutes = ['/containers/create', '/containers/{ctr}/update', '/containers/{ctr}/exec', '/networks/create', '/volumes/create', '/auth', '/commit?container={ctr}'];

export const apiInputs: HostileInput[] = [
  // malformed bodies on every route that takes one
  ...bodyRoutes.flatMap((route) => malformed.slice(0, route === '/containers/create' ? malformed.length : 2).map(([n, b]) => api(`${n} to ${route.split('?')[0]}`, 'POST', route, b))),
  // wrong types and values in the create body
  create('Image is a number', { Image: 42 }),
  create('Image is an invalid reference', { Image: '../../etc/passwd' }),
  create('Cmd is an object', { Cmd: { a: 1 } }),
  create('Cmd holds a number', { Cmd: ['echo', 1] }),
  create('Entrypoint is a number', { Entrypoint: 5 }),
  create('Env is an object', { Env: { A: 'b' } }),
  create('Env holds a number', { Env: [1] }),
  create('Labels is an array', { Labels: ['a=b'] }),
  create('ExposedPorts is an array', { ExposedPorts: ['80/tcp'] }),
  create('ExposedPorts with a bad port', { ExposedPorts: { '99999/tcp': {} } }),
  create('Volumes is a string', { Volumes: '/data' }),
  create('Tty is a string', { Tty: 'yes' }),
  create('User is an object', { User: { name: 'root' } }),
  create('WorkingDir is relative', { WorkingDir: 'relative/dir' }, { message: /absolute path/ }),
  create('WorkingDir is a number', { WorkingDir: 7 }),
  create('StopSignal is unknown', { StopSignal: 'SIGFOO' }),
  create('StopTimeout is a string', { StopTimeout: 'ten' }),
  create('Healthcheck.Interval is negative', { Healthcheck: { Test: ['CMD', 'true'], Interval: -5 } }),
  create('Healthcheck.Test is a string', { Healthcheck: { Test: 'true' } }),
  create('HostConfig is a string', { HostConfig: 'privileged' }),
  create('NetworkingConfig.EndpointsConfig is an array', { NetworkingConfig: { EndpointsConfig: ['bridge'] } }),
  hostConfig('Binds is a string', { Binds: '/:/host' }),
  // a source without a slash is a volume name to dockerd; './x' is neither a name nor an absolute path
  hostConfig('Binds with a relative source', { Binds: ['./relative:/x'] }),
  hostConfig('Binds with an empty target', { Binds: ['/tmp:'] }),
  hostConfig('Binds with a bad mode', { Binds: ['/tmp:/x:evil'] }),
  hostConfig('Mounts missing Target', { Mounts: [{ Type: 'bind', Source: '/tmp' }] }),
  hostConfig('Mounts with an unknown Type', { Mounts: [{ Type: 'evil', Source: '/tmp', Target: '/x' }] }),
  hostConfig('Mounts is an object', { Mounts: { Type: 'bind' } }),
  hostConfig('Mounts volume with a name that is a path', { Mounts: [{ Type: 'volume', Source: '../../../canary', Target: '/x' }] }),
  hostConfig('PortBindings is an array', { PortBindings: ['80:80'] }),
  hostConfig('PortBindings with a HostPort of 70000', { PortBindings: { '80/tcp': [{ HostPort: '70000' }] } }),
  hostConfig('PortBindings with a bad HostIp', { PortBindings: { '80/tcp': [{ HostIp: 'not-an-ip', HostPort: '8080' }] } }),
  hostConfig('Memory is negative', { Memory: -1 }),
  hostConfig('Memory is a string', { Memory: '1g' }),
  hostConfig('NanoCpus is huge', { NanoCpus: 1e30 }),
  hostConfig('CpuShares is a string', { CpuShares: 'many' }),
  hostConfig('PidsLimit is a string', { PidsLimit: 'none' }),
  hostConfig('ShmSize is negative', { ShmSize: -1 }),
  hostConfig('RestartPolicy with an unknown name', { RestartPolicy: { Name: 'sometimes' } }),
  hostConfig('RestartPolicy is a string', { RestartPolicy: 'always' }),
  hostConfig('LogConfig with an unknown driver', { LogConfig: { Type: 'evil' } }),
  hostConfig('LogConfig.Config is an array', { LogConfig: { Type: 'json-file', Config: ['max-size=1'] } }),
  hostConfig('LogConfig max-size is garbage', { LogConfig: { Type: 'json-file', Config: { 'max-size': 'lots' } } }),
  // a StrSlice: dockerd reads a string as a one-element list
  hostConfig('CapAdd is a string', { CapAdd: 'CHOWN' }, { expect: 'accepted' }),
  hostConfig('CapAdd with an unknown capability', { CapAdd: ['CAP_EVIL'] }),
  hostConfig('CapAdd holds a number', { CapAdd: [5] }),
  hostConfig('Dns with a name instead of an address', { Dns: ['not an ip'] }),
  hostConfig('ExtraHosts without an address', { ExtraHosts: ['name'] }),
  hostConfig('Sysctls is a number', { Sysctls: 5 }),
  hostConfig('Sysctls with a key that is a path', { Sysctls: { '../../../../proc/sys/kernel/hostname': 'x' } }),
  hostConfig('Ulimits is a string', { Ulimits: 'nofile=1' }),
  hostConfig('Ulimits with an unknown name', { Ulimits: [{ Name: 'evil', Soft: 1, Hard: 1 }] }),
  hostConfig('Tmpfs is an array', { Tmpfs: ['/x'] }),
  hostConfig('Tmpfs with a relative path', { Tmpfs: { relative: '' } }),
  hostConfig('SecurityOpt with a seccomp file path', { SecurityOpt: ['seccomp=/etc/shadow'] }),
  hostConfig('SecurityOpt that is unknown', { SecurityOpt: ['evil=1'] }),
  hostConfig('Devices with a relative host path', { Devices: [{ PathOnHost: 'dev/null', PathInContainer: '/dev/x', CgroupPermissions: 'rwm' }] }),
  hostConfig('ConsoleSize is a string', { ConsoleSize: '80x24' }),
  hostConfig('NetworkMode of a container that does not exist', { NetworkMode: 'container:nosuch' }, { status: 404 }),
  hostConfig('GroupAdd holds an object', { GroupAdd: [{}] }),
  // the rest of the API
  api('create: name with a slash and dots', 'POST', '/containers/create?name=../../evil', JSON.stringify({ Image: 'busybox' })),
  api('create: name of 300 characters', 'POST', `/containers/create?name=${'n'.repeat(300)}`, JSON.stringify({ Image: 'busybox' }), 'safe'),
  api('update: Memory is a string', 'POST', '/containers/{ctr}/update', JSON.stringify({ Memory: 'lots' })),
  api('update: RestartPolicy with an unknown name', 'POST', '/containers/{ctr}/update', JSON.stringify({ RestartPolicy: { Name: 'sometimes' } })),
  api('exec: no Cmd', 'POST', '/containers/{ctr}/exec', JSON.stringify({ AttachStdout: true }), 'refused', { message: /No exec command specified/ }),
  api('exec: Cmd is a string', 'POST', '/containers/{ctr}/exec', JSON.stringify({ Cmd: 'ls' })),
  api('exec: Env is an object', 'POST', '/containers/{ctr}/exec', JSON.stringify({ Cmd: ['ls'], Env: { A: 1 } })),
  api('exec start: not JSON', 'POST', '/exec/nosuchexec/start', '{', 'refused', { status: 404 }),
  api('network: no Name', 'POST', '/networks/create', JSON.stringify({ Driver: 'bridge' })),
  api('network: Name is a number', 'POST', '/networks/create', JSON.stringify({ Name: 5 })),
  api('network: an unknown driver', 'POST', '/networks/create', JSON.stringify({ Name: 'hostile-net', Driver: 'evil' }), 'refused', { status: 404, message: /plugin "evil" not found/ }),
  api('network: a bad subnet', 'POST', '/networks/create', JSON.stringify({ Name: 'hostile-net2', IPAM: { Config: [{ Subnet: '999.1.1.1/99' }] } })),
  api('network: IPAM.Config is an object', 'POST', '/networks/create', JSON.stringify({ Name: 'hostile-net3', IPAM: { Config: { Subnet: '10.9.0.0/24' } } })),
  api('network: Options is an array', 'POST', '/networks/create', JSON.stringify({ Name: 'hostile-net4', Options: ['a'] })),
  api('network: Labels is a string', 'POST', '/networks/create', JSON.stringify({ Name: 'hostile-net5', Labels: 'a=b' })),
  api('network connect: Container is a number', 'POST', '/networks/bridge/connect', JSON.stringify({ Container: 5 })),
  api('network connect: EndpointConfig is a string', 'POST', '/networks/bridge/connect', JSON.stringify({ Container: 'nosuch', EndpointConfig: 'x' }), 'refused', { status: undefined }),
  api('volume: Name that is a path', 'POST', '/volumes/create', JSON.stringify({ Name: '../../../canary' })),
  api('volume: Name with a NUL', 'POST', '/volumes/create', JSON.stringify({ Name: 'a\u0000b' })),
  api('volume: Name is a number', 'POST', '/volumes/create', JSON.stringify({ Name: 5 })),
  api('volume: Labels is an array', 'POST', '/volumes/create', JSON.stringify({ Name: 'hostile-vol', Labels: ['a'] })),
  api('volume: DriverOpts with a device path', 'POST', '/volumes/create', JSON.stringify({ Name: 'hostile-vol2', DriverOpts: { device: '/etc', o: 'bind', type: 'none' } }), 'safe'),
  api('volume: an unknown driver', 'POST', '/volumes/create', JSON.stringify({ Name: 'hostile-vol3', Driver: 'evil' }), 'refused', { status: 404, message: /plugin "evil" not found/ }),
  api('auth: serveraddress that is a path', 'POST', '/auth', JSON.stringify({ username: 'a', password: 'b', serveraddress: '../../etc' }), 'refused', { status: undefined }),
  api('commit: no container', 'POST', '/commit', '{}'),
  api('commit: config Cmd is a number', 'POST', '/commit?container={ctr}', JSON.stringify({ Cmd: 5 })),
  api('commit: a bad repository name', 'POST', '/commit?container={ctr}&repo=UPPER/../x', '{}'),
  api('commit: a bad --change line', 'POST', '/commit?container={ctr}&changes=FROBNICATE%20x', '{}'),
  // query parameters
  api('query: filters is not JSON', 'GET', '/containers/json?filters=%7B', undefined),
  api('query: filters is JSON null', 'GET', '/containers/json?filters=null', undefined, 'accepted'), // docker: no filters
  api('query: filters is a JSON number', 'GET', '/images/json?filters=5', undefined),
  api('query: filters is a JSON array', 'GET', '/networks?filters=%5B1%5D', undefined),
  api('query: filters with a nested object value', 'GET', '/volumes?filters=%7B%22name%22%3A%7B%22a%22%3A%7B%7D%7D%7D', undefined, 'safe'),
  api('query: limit=abc', 'GET', '/containers/json?limit=abc', undefined),
  api('query: stop t=1e400', 'POST', '/containers/{ctr}/stop?t=1e400', undefined),
  api('query: kill with an unknown signal', 'POST', '/containers/{ctr}/kill?signal=SIGFOO', undefined),
  api('query: kill with signal 99999', 'POST', '/containers/{ctr}/kill?signal=99999', undefined),
  api('query: logs tail=abc', 'GET', '/containers/{ctr}/logs?stdout=1&tail=abc', undefined),
  api('query: logs since=garbage', 'GET', '/containers/{ctr}/logs?stdout=1&since=garbage', undefined),
  api('query: logs since with 40 digits', 'GET', '/containers/{ctr}/logs?stdout=1&since=1234567890123456789012345678901234567890', undefined, 'safe'),
  api('query: events until=garbage', 'GET', '/events?until=garbage', undefined),
  api('query: resize with a negative height', 'POST', '/containers/{ctr}/resize?h=-1&w=abc', undefined),
  api('query: wait with an unknown condition', 'POST', '/containers/{ctr}/wait?condition=bogus', undefined),
  api('query: top with ps options that are not ps\'s', 'GET', '/containers/{ctr}/top?ps_args=--evil-flag', undefined, 'refused', { status: undefined }),
  api('query: rename to a path', 'POST', '/containers/{ctr}/rename?name=../../x', undefined),
  api('query: tag with an invalid repository', 'POST', '/images/busybox/tag?repo=UPPER/../x&tag=latest', undefined),
  api('query: tag with an invalid tag', 'POST', '/images/busybox/tag?repo=ok&tag=bad%20tag', undefined),
  api('query: import from a URL', 'POST', '/images/create?fromSrc=http%3A%2F%2F127.0.0.1%3A1%2Fx', ''),
  api('query: pull an invalid reference', 'POST', '/images/create?fromImage=..%2F..%2Fetc&tag=latest', ''),
  api('query: pull with a digest that is a path', 'POST', '/images/create?fromImage=busybox&tag=sha256%3A..%2F..%2Fx', ''),
  api('query: X-Registry-Auth that is not base64 JSON', 'POST', '/images/busybox/push', '', 'refused', { status: undefined, payload: { kind: 'api', method: 'POST', path: '/images/busybox/push', body: '', headers: { 'X-Registry-Auth': '!!!not-base64{' } } }),
  api('path: bad percent-encoding in a container id', 'GET', '/containers/%E0%A4%A/json', undefined),
  api('path: a NUL in a container id', 'GET', '/containers/a%00b/json', undefined, 'refused', { status: 404 }),
  api('path: an image name that climbs', 'GET', '/images/..%2F..%2F..%2Fetc%2Fpasswd/json', undefined, 'refused', { status: undefined }),
  api('path: a volume name that climbs', 'DELETE', '/volumes/..%2F..%2F..%2Fcanary', undefined, 'refused', { status: undefined }),
  // huge bodies: the edge helper caps them
  api('a 256 MB create body', 'POST', '/containers/create', zeros(256 << 20), 'refused', { status: undefined }),
  api('a 64 MB string in Env', 'POST', '/containers/create', JSON.stringify({ Image: 'busybox', Env: ['A=' + 'x'.repeat(64 << 20)] }), 'refused', { status: undefined }),
];

const cp = (name: string, method: 'PUT' | 'GET' | 'HEAD', path: (c: Ctx) => string, body: ((c: Ctx) => Promise<Buffer>) | undefined, expect: HostileInput['expect'], extra: Partial<HostileInput> = {}): HostileInput => ({
  name: `cp: ${name}`,
  expect,
  ...extra,
  payload: { kind: 'api', method, path: (c) => `/containers/{ctr}/archive?path=${encodeURIComponent(path(c))}`, body, headers: { 'Content-Type': 'application/x-tar' } },
});

export const cpInputs: HostileInput[] = [
  cp('put a symlink to the host canary into the container (harmless inside)', 'PUT', () => '/', async (c) => tar([{ name: 'esc', type: 'symlink', linkname: c.canary }]), 'accepted'),
  cp('put a tar with ../ names', 'PUT', () => '/tmp', async (c) => tar([{ name: `${c.up}pwned`, data: 'x' }]), 'safe'),
  cp('put a tar with absolute names', 'PUT', () => '/tmp', async (c) => tar([{ name: `${c.canary}/pwned`, data: 'x' }]), 'safe'),
  cp('put a tar with a symlink, then a file through it', 'PUT', () => '/tmp', async (c) => tar([{ name: 'l', type: 'symlink', linkname: c.canary }, { name: 'l/pwned', data: 'x' }]), 'safe'),
  cp('put a tar with a hardlink to a host file', 'PUT', () => '/tmp', async (c) => tar([{ name: 'hl', type: 'link', linkname: `${c.canary}/secret` }]), 'safe'),
  cp('put a tar with a pax path that climbs', 'PUT', () => '/tmp', async (c) => rawTar([{ name: 'PaxHeader', flag: 'x', pax: { path: `${c.up}pwned` } }, { name: 'harmless', data: 'x' }]), 'safe'),
  cp('put into the container symlink that names the host canary', 'PUT', () => '/esc', async () => tar([{ name: 'pwned', data: 'x' }]), 'safe'),
  cp('put into a path that climbs to the canary', 'PUT', (c) => `/${c.up}`, async () => tar([{ name: 'pwned', data: 'x' }]), 'safe'),
  cp('put a body that is not a tar', 'PUT', () => '/tmp', async () => Buffer.from('not a tar at all, not even close'.repeat(40)), 'refused', { status: 400 }),
  cp('put with a NUL in the path', 'PUT', () => '/tmp\0/x', async () => tar([{ name: 'f', data: 'x' }]), 'refused'),
  cp('get the host secret through the container symlink', 'GET', () => '/esc/secret', undefined, 'refused', { status: 404 }),
  cp('get the host secret through a climbing path', 'GET', (c) => `/${c.up}secret`, undefined, 'refused', { status: 404 }),
  cp('get the host secret through /proc/self/root', 'GET', (c) => `/proc/self/root${c.canary}/secret`, undefined, 'refused'),
  cp('get the host secret through /proc/1/cwd', 'GET', (c) => `/proc/1/cwd/${c.up}secret`, undefined, 'refused'),
  cp('head the host secret through the container symlink', 'HEAD', () => '/esc/secret', undefined, 'refused', { status: 404 }),
  cp('get with an empty path', 'GET', () => '', undefined, 'refused', { status: 400 }),
];
