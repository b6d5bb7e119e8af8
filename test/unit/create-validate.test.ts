import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { ApiError } from '../../src/common/errors';
import { normalizeCreate } from '../../src/engine/containers/normalize';
import type { ContainerConfig, HostConfig } from '../../src/schema/container';

type CreateFields = ContainerConfig & { Healthcheck?: ContainerConfig['Healthcheck'] & { StartInterval?: number } };
/** As a client may send it (the API decoder checks types, not that a ulimit has its limits). */
type CreateHostFields = Omit<HostConfig, 'Ulimits'> & { Ulimits?: { Name?: string }[] | null };

function refusal(cfg: CreateFields, hc: CreateHostFields = {}): string | undefined {
  try {
    normalizeCreate({ ...cfg, HostConfig: hc as HostConfig }, { exists: () => true, caps: [] });
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
