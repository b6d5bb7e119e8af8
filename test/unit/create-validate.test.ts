/** normalizeCreate: every HostConfig field Berth reads, typed once at create, refused in docker's words when bad. */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { ApiError } from '../../src/common/errors';
import { normalizeCreate, recordedSpec, withImageConfig, type CreateHost } from '../../src/engine/containers/normalize';
import { ContainerStore, initialState, type ContainerRecord } from '../../src/engine/containers/record';
import type { ContainerConfig, CreateBody, HostConfig } from '../../src/schema/container';
import { DEFAULT_CAPS } from '../../src/spec/caps';

type CreateFields = ContainerConfig & { Healthcheck?: ContainerConfig['Healthcheck'] & { StartInterval?: number } };
/** As a client may send it (the API decoder checks types, not that a ulimit has its limits). */
type CreateHostFields = Omit<HostConfig, 'Ulimits'> & { Ulimits?: { Name?: string }[] | null };

const host: CreateHost = { exists: (p) => p === '/there', caps: [...DEFAULT_CAPS, 'NET_ADMIN', 'SYS_ADMIN'] };
const spec = (hc: HostConfig, body: CreateBody = {}) => normalizeCreate({ ...body, HostConfig: hc }, host);

function refusal(cfg: CreateFields, hc: CreateHostFields = {}): string | undefined {
  try {
    normalizeCreate({ ...cfg, HostConfig: hc as HostConfig }, host);
    return undefined;
  } catch (e) {
    assert.ok(e instanceof ApiError);
    assert.equal(e.status, 400);
    return e.message;
  }
}

describe('create-time validation (dockerd verifyContainerSettings)', () => {
  it('accepts what docker run makes', () => {
    assert.equal(
      refusal(
        { WorkingDir: '/app', StopSignal: 'SIGTERM', ExposedPorts: { '80/tcp': {}, '8000-8010/udp': {} }, Healthcheck: { Interval: 30e9, Retries: 3 } },
        {
          PortBindings: { '80/tcp': [{ HostIp: '127.0.0.1', HostPort: '8080' }, { HostIp: '::1', HostPort: '' }], '53/udp': [{ HostPort: '5300-5301' }] },
          ShmSize: 0,
          Dns: ['10.0.0.1', 'fd00::1'],
          ExtraHosts: ['db:10.1.2.3', 'gw:host-gateway', 'v6:[::1]', 'v6b:::1'],
          Sysctls: { 'net.ipv4.ip_forward': '1', 'net/core/somaxconn': '1024' },
          Ulimits: [{ Name: 'nofile' }],
        },
      ),
      undefined,
    );
  });

  it('types --add-host entries once: name and address (brackets off, host-gateway kept)', () => {
    assert.deepEqual(spec({ ExtraHosts: ['db:10.1.2.3', 'gw:host-gateway', 'v6:[::1]', 'v6b:::1', 'eq=10.0.0.9'] }).extraHosts, [
      { names: 'db', ip: '10.1.2.3' }, { names: 'gw', ip: 'host-gateway' }, { names: 'v6', ip: '::1' }, { names: 'v6b', ip: '::1' },
      { names: 'eq', ip: '10.0.0.9' },
    ]);
  });

  it('refuses each bad value with docker\'s words', () => {
    const cases: [CreateFields, CreateHostFields, RegExp][] = [
      [{ WorkingDir: 'rel/dir' }, {}, /^the working directory 'rel\/dir' is invalid, it needs to be an absolute path$/],
      [{ StopSignal: 'SIGFOO' }, {}, /^invalid signal: SIGFOO$/],
      [{ Healthcheck: { Interval: -5 } }, {}, /^Interval in Healthcheck cannot be less than 1ms$/],
      [{ Healthcheck: { Timeout: 10 } }, {}, /^Timeout in Healthcheck cannot be less than 1ms$/],
      [{ Healthcheck: { Retries: -1 } }, {}, /^Retries in Healthcheck cannot be negative$/],
      [{ ExposedPorts: { '99999/tcp': {} } }, {}, /^invalid port specification: "99999"$/],
      [{}, { PortBindings: { '80/tcp': [{ HostPort: '70000' }] } }, /^invalid port specification: "70000"$/],
      [{}, { PortBindings: { 'x/tcp': [] } }, /^invalid port specification: "x"$/],
      [{}, { PortBindings: { '80/tcp': [{ HostIp: 'not-an-ip', HostPort: '1' }] } }, /^invalid host IP address: not-an-ip$/],
      [{}, { ShmSize: -1 }, /^SHM size can not be less than 0$/],
      [{}, { Dns: ['not an ip'] }, /^invalid IP address in Dns: "not an ip"$/],
      [{}, { ExtraHosts: ['name'] }, /^bad format for add-host: "name"$/],
      [{}, { ExtraHosts: ['name:notanip'] }, /^bad format for add-host: "name:notanip"$/],
      [{}, { Sysctls: { '../../proc/sys/kernel/hostname': 'x' } }, /^invalid sysctl name/],
      [{}, { Ulimits: [{ Name: 'evil' }] }, /^invalid ulimit type: evil$/],
    ];
    for (const [cfg, hc, want] of cases) assert.match(refusal(cfg, hc) ?? 'accepted', want, JSON.stringify([cfg, hc]));
  });
});

describe('normalizeCreate', () => {
  it('types mounts with what inspect shows (mode, listed) in docker\'s precedence', () => {
    const s = spec({
      Binds: ['/h:/c:ro,rshared', 'data:/d', '/anon'],
      Mounts: [{ Type: 'bind', Source: '/there', Target: '/m' }, { Type: 'tmpfs', Target: '/t' }],
      Tmpfs: { '/run': 'size=64m' },
      VolumesFrom: ['db:ro'],
    });
    assert.deepEqual(s.mounts.map((m) => [m.kind, m.target, 'mode' in m ? m.mode : `listed=${m.listed}`]), [
      ['bind', '/c', 'ro,rshared'], ['volume', '/d', 'z'], ['volume', '/anon', ''], ['bind', '/m', ''], ['tmpfs', '/t', 'listed=true'], ['tmpfs', '/run', 'listed=false'],
    ]);
    assert.deepEqual(s.volumesFrom, [{ ref: 'db', readOnly: true }]);
  });

  it('types network mode, ports, security options, device rules, restart and log policy, resources', () => {
    const s = spec({
      NetworkMode: 'container:web',
      PortBindings: { '80/tcp': [{ HostIp: '127.0.0.1', HostPort: '8080' }], '53/udp': null },
      PublishAllPorts: true,
      SecurityOpt: ['no-new-privileges', 'seccomp=unconfined', 'label=disable'],
      DeviceCgroupRules: ['c 1:3 rw'],
      RestartPolicy: { Name: 'on-failure', MaximumRetryCount: 3 },
      LogConfig: { Type: 'json-file', Config: { 'max-size': '1k', 'max-file': '2' } },
      Memory: 64 << 20, PidsLimit: 10, CpuShares: 512,
    }, { ExposedPorts: { '80/tcp': {} } });
    assert.deepEqual(s.network, { kind: 'container', ref: 'web' });
    assert.deepEqual(s.ports, {
      bindings: [
        { container: { start: 80, end: 80, proto: 'tcp' }, hostIp: '127.0.0.1', host: { start: 8080, end: 8080 } },
        { container: { start: 53, end: 53, proto: 'udp' }, hostIp: '' },
      ],
      exposed: [{ start: 80, end: 80, proto: 'tcp' }],
      publishAll: true,
    });
    assert.deepEqual(s.security, { seccomp: 'unconfined', noNewPrivileges: true });
    assert.deepEqual(s.deviceRules, [{ allow: true, type: 'c', major: 1, minor: 3, access: 'rw' }]);
    assert.deepEqual(s.restart, { Name: 'on-failure', MaximumRetryCount: 3 });
    assert.deepEqual(s.log, { enabled: true, maxSize: 1000, maxFile: 2 });
    assert.deepEqual(s.resources, { Memory: 64 << 20, PidsLimit: 10, CpuShares: 512 });
    assert.deepEqual(spec({}).network, { kind: 'network', name: 'bridge' });
    assert.deepEqual(spec({ NetworkMode: 'default' }).network, { kind: 'network', name: 'bridge' });
    assert.deepEqual(spec({ LogConfig: { Type: 'none' } }).log, { enabled: false, maxFile: 1 });
  });

  it('takes VOLUMEs, exposed ports and the health check from the merged config', () => {
    const merged = withImageConfig(spec({}), {
      Volumes: { '/data/': {} }, ExposedPorts: { '80/tcp': {}, '8000-8001/udp': {} }, Healthcheck: { Test: ['CMD', 'true'], Interval: 1e9 },
    });
    assert.deepEqual(merged.volumes, ['/data']);
    assert.deepEqual(merged.ports.exposed, [{ start: 80, end: 80, proto: 'tcp' }, { start: 8000, end: 8001, proto: 'udp' }]);
    assert.deepEqual(merged.healthcheck, { Test: ['CMD', 'true'], Interval: 1e9 });
  });

  it('refuses each bad HostConfig value with docker\'s words', () => {
    const cases: [HostConfig, RegExp][] = [
      [{ Binds: ['/c:rw'] }, /^invalid volume specification: '\/c:rw'$/],
      [{ Binds: ['/a:/c', 'v:/c'] }, /^Duplicate mount point: \/c$/],
      [{ Mounts: [{ Type: 'bind', Source: '/nope', Target: '/m' }] }, /^invalid mount config for type "bind": bind source path does not exist: \/nope$/],
      [{ Tmpfs: { rel: '' } }, /^invalid tmpfs mount: invalid mount path: 'rel' mount path must be absolute$/],
      [{ VolumesFrom: ['db:nocopy'] }, /^invalid mode: nocopy$/],
      [{ PortBindings: { '80/tcp': [{ HostPort: '0' }] } }, /^invalid hostPort: 0$/],
      [{ PortBindings: { '80/icmp': [] } }, /^invalid proto: icmp$/],
      [{ SecurityOpt: ['bogus'] }, /^invalid --security-opt 1: "bogus"$/],
      [{ SecurityOpt: ['seccomp={not json'] }, /seccomp/],
      [{ DeviceCgroupRules: ['x 1:1 rwm'] }, /^invalid device cgroup format 'x 1:1 rwm'$/],
      [{ CapAdd: ['NOT_A_CAP'] }, /^unknown capability: "CAP_NOT_A_CAP"$/],
      [{ RestartPolicy: { Name: 'sometimes' } }, /^invalid restart policy 'sometimes'$/],
      [{ RestartPolicy: { Name: 'always' }, AutoRemove: true }, /^conflicting options: cannot specify both --restart and --rm$/],
      [{ LogConfig: { Type: 'syslog' } }, /^logger: no log driver named 'syslog' is registered$/],
      [{ LogConfig: { Type: 'json-file', Config: { bogus: '1' } } }, /^unknown log opt 'bogus' for json-file log driver$/],
    ];
    for (const [hc, want] of cases) assert.match(refusal({}, hc) ?? 'accepted', want, JSON.stringify(hc));
  });
});

describe('container records without a typed spec', () => {
  it('get it derived at load, as normalizeCreate would have typed them', (t) => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-spec-'));
    t.after(() => fs.rmSync(root, { recursive: true, force: true }));
    const hc: HostConfig = {
      NetworkMode: 'host', Binds: ['/h:/c:ro', 'data:/d'], PortBindings: { '80/tcp': [{ HostPort: '8080' }] },
      RestartPolicy: { Name: 'always' }, LogConfig: { Type: 'none', Config: {} }, SecurityOpt: ['no-new-privileges'], Memory: 1 << 26,
    };
    const config = {
      Hostname: 'h', Domainname: '', AttachStdin: false, AttachStdout: false, AttachStderr: false, Tty: false, OpenStdin: false, StdinOnce: false,
      Image: 'img', Volumes: { '/v': {} }, ExposedPorts: { '80/tcp': {} }, Healthcheck: { Test: ['NONE'] },
    };
    const old: Omit<ContainerRecord, 'Spec'> = {
      Id: 'a'.repeat(64), Name: '/old', Created: '', Path: 'sh', Args: [], Config: config, HostConfig: hc, Image: 'sha256:x',
      State: initialState(), RestartCount: 0, Runtime: 'crun',
    };
    const dir = path.join(root, 'containers', old.Id);
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'container.json'), JSON.stringify(old));
    const [rec] = new ContainerStore(path.join(root, 'containers')).load();
    assert.deepEqual(rec.Spec, withImageConfig(spec(hc), config));
    assert.deepEqual(rec.Spec.network, { kind: 'host' });
    assert.deepEqual(rec.Spec.volumes, ['/v']);
    assert.equal(rec.Spec.log.enabled, false);
  });

  it('a spec from before it had extra hosts gets them from the record\'s HostConfig at load', (t) => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-spec-'));
    t.after(() => fs.rmSync(root, { recursive: true, force: true }));
    const hc: HostConfig = { ExtraHosts: ['db:10.1.2.3'] };
    const { extraHosts: _, ...before } = spec(hc);
    const old = {
      Id: 'b'.repeat(64), Name: '/older', Created: '', Path: 'sh', Args: [], Config: { Image: 'img' }, HostConfig: hc, Image: 'sha256:x',
      State: initialState(), RestartCount: 0, Runtime: 'crun', Spec: before,
    };
    const dir = path.join(root, 'containers', old.Id);
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'container.json'), JSON.stringify(old));
    const [rec] = new ContainerStore(path.join(root, 'containers')).load();
    assert.deepEqual(rec.Spec.extraHosts, [{ names: 'db', ip: '10.1.2.3' }]);
  });

  it('load even when a part no longer reads: that part is left at its default', () => {
    const hc: HostConfig = {
      NetworkMode: 'bridge', PortBindings: { '80/icmp': [{ HostPort: '8080' }] }, SecurityOpt: ['seccomp=/gone/profile.json'], Binds: ['/h:/c'],
    };
    const s = recordedSpec(hc, {});
    assert.deepEqual(s.ports, { bindings: [], exposed: [], publishAll: false });
    assert.deepEqual(s.security, { seccomp: 'default', noNewPrivileges: false });
    assert.deepEqual(s.mounts.map((m) => m.target), ['/c']);
  });
});
