/** normalizeCreate: every HostConfig field Berth reads, typed once at create, refused in docker's words when bad. */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { ApiError } from '../../src/common/errors';
import { normalizeCreate, withImageConfig, type CreateHost } from '../../src/engine/containers/normalize';
import { ContainerStore, initialState, type ContainerRecord } from '../../src/engine/containers/record';
import type { CreateBody, HostConfig } from '../../src/schema/container';
import { DEFAULT_CAPS } from '../../src/spec/caps';

const host: CreateHost = { exists: (p) => p === '/there', caps: [...DEFAULT_CAPS, 'NET_ADMIN', 'SYS_ADMIN'] };
const spec = (hc: HostConfig, body: CreateBody = {}) => normalizeCreate({ ...body, HostConfig: hc }, host);

function refusal(hc: HostConfig, body: CreateBody = {}): string | undefined {
  try {
    spec(hc, body);
    return undefined;
  } catch (e) {
    assert.ok(e instanceof ApiError);
    assert.equal(e.status, 400);
    return e.message;
  }
}

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
    for (const [hc, want] of cases) assert.match(refusal(hc) ?? 'accepted', want, JSON.stringify(hc));
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
});
