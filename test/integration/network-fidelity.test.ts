/**
 * The network API as Docker 24 answers it, driven by the docker CLI and dockerode: duplicate names, names Docker
 * accepts, refusals with Docker's status and wording, bridge options reaching the kernel, IPAM ranges, prune filters,
 * connect and forced disconnect. Written to pass against Docker too (BERTH_COMPAT_DOCKER_HOST, see
 * test/helpers/engine.ts); checks where Debian's Docker 20.10 (API 1.41) differs from Docker 24 are skipped there.
 */
import { describe, it } from 'node:test';
import type Docker from 'dockerode';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { fileEngine, TEST_LABEL } from '../helpers/engine';
import { BERTH } from '../helpers/daemon';
import { networkFixture } from '../helpers/networks';

const { e, docker } = fileEngine('netfid', () => fixture.removeNetworks());
const tag = `nf${process.pid % 10000}`;
const fixture = networkFixture(e, tag);
const { made, ok, netCreate, runIdle, rejects } = fixture;
/** A subnet per test (10.120 and up), so that runs against two engines or twice in a row never overlap. */
let nextNet = 0;
const subnet16 = (): string => `10.${120 + nextNet++}.0.0/16`;

const inspect = (id: string) => docker.getNetwork(id).inspect() as Promise<{
  Name: string; Scope: string; Attachable: boolean; Internal: boolean; Options: Record<string, string>;
  IPAM: { Driver: string; Options: Record<string, string> | null; Config: { Subnet: string; IPRange?: string; Gateway?: string; AuxiliaryAddresses?: Record<string, string> }[] };
}>;

describe('network create', () => {
  it('refuses a duplicate name when the client asks (the docker CLI always does), with 409 and Docker wording', () => {
    const name = `${tag}-dup`;
    netCreate([], name);
    const r = e.docker(['network', 'create', '--label', TEST_LABEL, name]);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, new RegExp(`network with name ${name} already exists`));
  });

  it('creates a duplicate with a warning when CheckDuplicate is false (API < 1.44), and a name lookup is then ambiguous', async () => {
    const name = `${tag}-dup2`;
    const first = await docker.createNetwork({ Name: name, Labels: { 'berth.test': 'compat' } });
    made.add(first.id);
    const second = (await docker.createNetwork({ Name: name, CheckDuplicate: false, Labels: { 'berth.test': 'compat' } })) as Docker.Network & { id: string };
    made.add(second.id);
    assert.notEqual(second.id, first.id);
    const dup = await new Promise<{ Id: string; Warning: string }>((resolve, reject) => {
      docker.modem.dial({ path: '/networks/create', method: 'POST', statusCodes: { 201: true }, options: { Name: name, Labels: { 'berth.test': 'compat' } } }, (err, data) => (err ? reject(err) : resolve(data as { Id: string; Warning: string })));
    });
    made.add(dup.Id);
    assert.match(dup.Warning, new RegExp(`^Network with name ${name} \\(id : [0-9a-f]{64}\\) already exists$`));
    // Docker 20.10 words it "3 matches found based on name: network … is ambiguous"
    await rejects(docker.getNetwork(name).inspect(), 400, e.external ? /ambiguous/ : `network ${name} is ambiguous (3 matches found based on name)`);
    const r = e.docker(['network', 'rm', name]);
    assert.notEqual(r.status, 0, 'removing by an ambiguous name is refused');
    assert.equal((await inspect(first.id)).Name, name, 'by id each one is still reachable');
  });

  it('accepts a name with a space (any non-blank name), and containers join it by that name', async () => {
    const name = `${tag} my net`;
    const { id } = netCreate([], name);
    assert.equal(ok(['network', 'inspect', '-f', '{{.Name}}', name]), name);
    const out = ok(['run', '--rm', '--label', TEST_LABEL, '--network', name, 'busybox', 'cat', '/sys/class/net/eth0/operstate']);
    assert.equal(out, 'up');
    assert.equal(ok(['network', 'ls', '--filter', `id=${id}`, '--format', '{{.Name}}']), name);
  });

  it('refuses predefined names with 403 and blank names with 400', async () => {
    await rejects(docker.createNetwork({ Name: 'bridge' }), 403, 'operation is not permitted on predefined bridge network ');
    await rejects(docker.createNetwork({ Name: 'none' }), 403, 'operation is not permitted on predefined none network ');
    await rejects(docker.createNetwork({ Name: '  ' }), 400, 'invalid name:   ', 500);
  });

  it('refuses labels that are not strings with 400 naming the field', async () => {
    await rejects(docker.createNetwork({ Name: `${tag}-badlabels`, Labels: { n: 1 } as unknown as Record<string, string> }), 400,
      // Docker 20.10 has no "invalid JSON: " prefix (Docker 24's ReadJSON adds it)
      e.external ? /json: cannot unmarshal number into Go struct field NetworkCreateRequest\.Labels of type string$/
        : /^invalid JSON: json: cannot unmarshal number into Go struct field NetworkCreateRequest\.Labels of type string$/);
    await rejects(docker.createNetwork({ Name: `${tag}-badinternal`, Internal: 'yes' as unknown as boolean }), 400, /Internal of type bool/);
  });

  it('refuses host and null drivers and Ingress on a local bridge with Docker\'s 403s', async () => {
    await rejects(docker.createNetwork({ Name: `${tag}-h`, Driver: 'host' }), 403, 'only one instance of "host" network is allowed');
    await rejects(docker.createNetwork({ Name: `${tag}-n`, Driver: 'null' }), 403, 'only one instance of "null" network is allowed');
    await rejects(docker.createNetwork({ Name: `${tag}-i`, Ingress: true }), 403, 'Ingress network can only be global scope network');
  });

  it('reports Attachable, Scope, Options and IPAM options as created', async () => {
    const { id } = netCreate(['--attachable', '--subnet', subnet16(), '--ipam-opt', 'x=1', '-o', 'com.docker.network.bridge.enable_icc=true', '-o', 'custom=v']);
    const n = await inspect(id);
    assert.equal(n.Attachable, true);
    assert.equal(n.Scope, 'local');
    assert.equal(n.Options['com.docker.network.bridge.enable_icc'], 'true');
    assert.equal(n.Options.custom, 'v');
    assert.deepEqual((n as unknown as { IPAM: { Options: Record<string, string> } }).IPAM.Options, { x: '1' });
  });
});

describe('bridge driver options', () => {
  it('com.docker.network.driver.mtu sets the container interface MTU and bridge.name names the host bridge', async () => {
    const bridge = `${tag}br`;
    const { id } = netCreate(['--subnet', subnet16(), '-o', 'com.docker.network.driver.mtu=1400', '-o', `com.docker.network.bridge.name=${bridge}`]);
    const c = runIdle(['--network', id]);
    assert.equal(ok(['exec', c, 'cat', '/sys/class/net/eth0/mtu']), '1400');
    assert.match(execFileSync('ip', ['-o', 'link', 'show', 'dev', bridge]).toString(), new RegExp(`: ${bridge}:`));
    assert.equal((await inspect(id)).Options['com.docker.network.bridge.name'], bridge);
    ok(['rm', '-f', c]);
  });

  it('com.docker.network.bridge.enable_icc=false: containers on the network cannot reach each other, only the gateway', () => {
    const s = subnet16();
    const gateway = s.replace('0.0/16', '0.1');
    const { id } = netCreate(['--subnet', s, '--gateway', gateway, '-o', 'com.docker.network.bridge.enable_icc=false']);
    const c = runIdle(['--network', id]);
    const ip = ok(['inspect', '-f', '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}', c]);
    const peer = runIdle(['--network', id]);
    assert.equal(e.docker(['exec', peer, 'ping', '-c1', '-W5', gateway]).status, 0, 'the gateway answers');
    assert.notEqual(e.docker(['exec', peer, 'ping', '-c1', '-W1', ip]).status, 0, 'the other container does not');
  });

  it('refuses option values Docker cannot parse with 400 naming the option', async () => {
    await rejects(docker.createNetwork({ Name: `${tag}-mtu`, Options: { 'com.docker.network.driver.mtu': 'abc' } }), 400,
      /^failed to parse com\.docker\.network\.driver\.mtu value: abc \(strconv\.Atoi: parsing "abc": invalid syntax\)$/, 500);
    await rejects(docker.createNetwork({ Name: `${tag}-icc`, Options: { 'com.docker.network.bridge.enable_icc': 'maybe' } }), 400,
      /^failed to parse com\.docker\.network\.bridge\.enable_icc value: maybe \(strconv\.ParseBool: parsing "maybe": invalid syntax\)$/, 500);
  });

  it('an internal network is reported as such and its containers reach each other', async () => {
    const { id } = netCreate(['--internal', '--subnet', subnet16()]);
    assert.equal((await inspect(id)).Internal, true);
    const c = runIdle(['--network', id]);
    const ip = ok(['inspect', '-f', '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}', c]);
    ok(['run', '--rm', '--label', TEST_LABEL, '--network', id, 'busybox', 'ping', '-c1', '-W5', ip]);
  });
});

describe('IPAM', () => {
  it('IPRange: container addresses come from the range; AuxiliaryAddresses are never handed out', async () => {
    const s = subnet16();
    const p = s.split('.').slice(0, 2).join('.');
    const { id, name } = netCreate(['--subnet', s, '--gateway', `${p}.0.1`, '--ip-range', `${p}.5.0/24`, '--aux-address', `a=${p}.5.1`, '--aux-address', `b=${p}.5.2`]);
    const cfg = (await inspect(id)).IPAM.Config;
    assert.deepEqual(cfg, [{ Subnet: s, IPRange: `${p}.5.0/24`, Gateway: `${p}.0.1`, AuxiliaryAddresses: { a: `${p}.5.1`, b: `${p}.5.2` } }]);
    const ips = [runIdle(['--network', id]), runIdle(['--network', id])].map((c) => ok(['inspect', '-f', `{{(index .NetworkSettings.Networks "${name}").IPAddress}}`, c]));
    for (const ip of ips) {
      assert.ok(ip.startsWith(`${p}.5.`), `${ip} is in the range`);
      assert.ok(![`${p}.5.1`, `${p}.5.2`].includes(ip), `${ip} is not an auxiliary address`);
    }
  });

  it('the berth CLI sends --gateway/--ip-range/--aux-address/--ipam-opt as the docker CLI does', async () => {
    /** Flags with the subnet last, and the IPAM Docker makes of them (a bridge takes one IPv4 subnet). */
    const story = (s: string): { flags: string[]; ipam: unknown } => {
      const p = s.split('.').slice(0, 2).join('.');
      return {
        flags: ['--gateway', `${p}.0.1`, '--aux-address', `y=${p}.8.9`, '--ip-range', `${p}.8.0/24`, '--ipam-opt', 'k=v', '--subnet', s],
        ipam: { Driver: 'default', Options: { k: 'v' }, Config: [{ Subnet: s, IPRange: `${p}.8.0/24`, Gateway: `${p}.0.1`, AuxiliaryAddresses: { y: `${p}.8.9` } }] },
      };
    };
    const viaDocker = story(subnet16());
    assert.deepEqual((await inspect(netCreate(viaDocker.flags).id)).IPAM, viaDocker.ipam);
    const viaBerth = story(subnet16());
    const name = `${tag}-berthcli`;
    const r = spawnSync(BERTH, ['network', 'create', '--label', TEST_LABEL, ...viaBerth.flags, name], { env: e.env });
    assert.equal(r.status, 0, r.stderr.toString());
    made.add(r.stdout.toString().trim());
    assert.deepEqual((await inspect(name)).IPAM, viaBerth.ipam);
    const bad = spawnSync(BERTH, ['network', 'create', '--subnet', subnet16(), '--gateway', '10.250.0.1', `${tag}-bad`], { env: e.env });
    assert.equal(bad.status, 1);
    assert.equal(bad.stderr.toString(), 'no matching subnet for gateway 10.250.0.1\n');
  });

  it('refuses an auxiliary address outside the subnet with 403', async () => {
    await rejects(docker.createNetwork({ Name: `${tag}-aux`, IPAM: { Config: [{ Subnet: '10.139.0.0/24', AuxiliaryAddresses: { a: '10.140.0.1' } }] } }), 403,
      'auxiliary address: (a:10.140.0.1) must belong to the master pool: 10.139.0.0/24');
  });
});

describe('connect and disconnect', () => {
  it('connect with an alias and an IPv4 address: inspect shows both and other containers resolve the alias', () => {
    const s = subnet16();
    const p = s.split('.').slice(0, 2).join('.');
    const { id, name } = netCreate(['--subnet', s]);
    const c = runIdle([]);
    ok(['network', 'connect', '--alias', `${tag}-svc`, '--ip', `${p}.0.50`, id, c]);
    const ep = JSON.parse(ok(['inspect', '-f', `{{json (index .NetworkSettings.Networks "${name}")}}`, c])) as {
      IPAddress: string; Aliases: string[]; IPAMConfig: { IPv4Address: string };
    };
    assert.equal(ep.IPAddress, `${p}.0.50`);
    assert.equal(ep.IPAMConfig.IPv4Address, `${p}.0.50`);
    assert.ok(ep.Aliases.includes(`${tag}-svc`), JSON.stringify(ep.Aliases));
    const look = e.docker(['run', '--rm', '--label', TEST_LABEL, '--network', id, 'busybox', 'nslookup', `${tag}-svc`]);
    assert.equal(look.status, 0, look.stdout + look.stderr);
    assert.match(look.stdout, new RegExp(`Address:? *(1: )?${p.replace('.', '\\.')}\\.0\\.50\\b`));
  });

  it('a stopped container leaves a network removed meanwhile, so that it starts again', () => {
    const { id, name } = netCreate(['--subnet', subnet16()]);
    const c = ok(['create', '--label', TEST_LABEL, 'busybox', 'true']);
    ok(['network', 'connect', name, c]);
    ok(['network', 'rm', id]); // a stopped container holds no endpoint: docker lets the network go
    made.delete(id);
    const start = e.docker(['start', c]);
    assert.notEqual(start.status, 0, 'start refuses the missing network');
    assert.match(start.stderr, new RegExp(`network ${name} not found`));
    ok(['network', 'disconnect', name, c]);
    assert.ok(!(name in JSON.parse(ok(['inspect', '-f', '{{json .NetworkSettings.Networks}}', c]))), 'the network is gone from the container');
    ok(['start', c]);
  });

  it('force disconnect of a container that does not exist looks for a leftover endpoint of that name (404)', () => {
    const { name } = netCreate(['--subnet', subnet16()]);
    const r = e.docker(['network', 'disconnect', '--force', name, `${tag}-ghost`]);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, new RegExp(`endpoint ${tag}-ghost not found`));
    const plain = e.docker(['network', 'disconnect', name, `${tag}-ghost`]);
    assert.match(plain.stderr, /No such container/);
  });
});

describe('network prune', () => {
  it('honours label, label! and until filters', async () => {
    const { id: keep, name: keepName } = netCreate(['--subnet', subnet16(), '--label', `${tag}=keep`]);
    const { id: drop, name: dropName } = netCreate(['--subnet', subnet16(), '--label', `${tag}=drop`]);
    // until an hour ago: both are newer, nothing goes
    assert.equal(ok(['network', 'prune', '-f', '--filter', `label=${tag}`, '--filter', 'until=1h']), '');
    const out = ok(['network', 'prune', '-f', '--filter', `label=${tag}`, '--filter', `label!=${tag}=keep`]);
    assert.match(out, new RegExp(`^${dropName}$`, 'm'));
    assert.doesNotMatch(out, new RegExp(`^${keepName}$`, 'm'));
    made.delete(drop);
    assert.equal((await inspect(keep)).Name, keepName);
    // Docker 20.10 capitalises it ("Invalid filter")
    await rejects(docker.pruneNetworks({ filters: { dangling: ['true'] } }), 400, e.external ? /nvalid filter 'dangling'/ : "invalid filter 'dangling'");
  });
});
