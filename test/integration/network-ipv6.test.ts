/**
 * IPv6 and dual-stack networks as Docker 24 makes them, driven by the docker CLI, the berth CLI and dockerode:
 * create with --ipv6 and an IPv6 subnet beside an IPv4 one, refusals with Docker's status and wording, IPv6 addresses
 * in inspect, --ip6 and connect --ip6, compose's enable_ipv6 and ipv6_address, AAAA answers for container names, ping and wget between two busybox
 * containers over IPv6 by name and by address, a published port reached over IPv6, and `network connect --link`.
 * Only ULA subnets made up per run (fd00::/8) and only this file's containers carry traffic. Written to pass against
 * Docker too (BERTH_COMPAT_DOCKER_HOST, see test/helpers/engine.ts); where Debian's Docker 20.10 differs from
 * Docker 24 the check is Berth's only.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileEngine, TEST_LABEL } from '../helpers/engine';
import { BERTH, TestDaemon } from '../helpers/daemon';
import { networkFixture } from '../helpers/networks';

const { e, docker } = fileEngine('netv6', () => fixture.removeNetworks());
const tag = `v6${process.pid % 10000}`;
const fixture = networkFixture(e, tag);
const { made, ok, netCreate, runIdle, rejects } = fixture;

/** A fresh ULA /64 and IPv4 /24 per call, random so that runs (and other daemons) never overlap. */
function subnets(): { v6: string; v4: string; p6: string; p4: string } {
  const g = [0xfd00 | randomBytes(1)[0], ...[0, 1, 2].map(() => randomBytes(2).readUInt16BE() | 0x100)]; // no zero group to compress
  const p6 = g.map((x) => x.toString(16)).join(':'); // as Docker prints it (no leading zeros)
  const p4 = `10.${170 + randomBytes(1)[0] % 20}.${randomBytes(1)[0]}`;
  return { v6: `${p6}::/64`, v4: `${p4}.0/24`, p6, p4 };
}

interface Endpoint { IPAddress: string; GlobalIPv6Address: string; GlobalIPv6PrefixLen: number; IPv6Gateway: string; IPAMConfig: { IPv4Address?: string; IPv6Address?: string } | null }
const endpoint = (c: string, net: string): Endpoint => JSON.parse(ok(['inspect', '-f', `{{json (index .NetworkSettings.Networks "${net}")}}`, c])) as Endpoint;

/** GET over HTTP: the body, or the error's text. */
function get(url: string): Promise<string> {
  return new Promise((resolve) => {
    http.get(url, { timeout: 10_000 }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve(body));
    }).on('error', (err) => resolve(`error: ${err.message}`)).on('timeout', function (this: http.ClientRequest) { this.destroy(new Error('timeout')); });
  });
}

describe('IPv6 network create', () => {
  it('--ipv6 with an IPv6 subnet beside an IPv4 one: inspect shows EnableIPv6 and both IPAM configs (docker and berth CLI)', async () => {
    const s = subnets();
    const { id } = netCreate(['--ipv6', '--subnet', s.v4, '--subnet', s.v6]);
    const n = (await docker.getNetwork(id).inspect()) as { EnableIPv6: boolean; IPAM: { Config: { Subnet: string; Gateway?: string }[] } };
    assert.equal(n.EnableIPv6, true);
    assert.deepEqual(n.IPAM.Config.map((c) => c.Subnet), [s.v4, s.v6]);
    if (!e.external) assert.deepEqual(n.IPAM.Config.map((c) => c.Gateway), [`${s.p4}.1`, `${s.p6}::1`]);
    // the berth CLI sends the same request: IPv6 subnet and gateway, IPv4 beside
    const b = subnets();
    const name = `${tag}-berthcli`;
    const r = spawnSync(BERTH, ['network', 'create', '--label', TEST_LABEL, '--ipv6', '--subnet', b.v6, '--gateway', `${b.p6}::fe`, '--subnet', b.v4, name], { env: e.env });
    assert.equal(r.status, 0, r.stderr.toString());
    made.add(r.stdout.toString().trim());
    const viaBerth = spawnSync(BERTH, ['network', 'inspect', '-f', '{{.EnableIPv6}} {{range .IPAM.Config}}{{.Subnet}},{{.Gateway}} {{end}}', name], { env: e.env });
    assert.equal(viaBerth.stdout.toString().trim(), `true ${b.v4},${e.external ? '' : `${b.p4}.1`} ${b.v6},${b.p6}::fe`);
  });

  it('refuses two IPv6 subnets (403) and an IPv6 subnet overlapping another network\'s (403), with Docker\'s wording', async () => {
    const s = subnets();
    const t = subnets();
    await rejects(docker.createNetwork({ Name: `${tag}-two`, EnableIPv6: true, IPAM: { Config: [{ Subnet: s.v6 }, { Subnet: t.v6 }] } }), 403,
      'bridge driver doesn\'t support multiple subnets');
    netCreate(['--ipv6', '--subnet', s.v6]);
    await rejects(docker.createNetwork({ Name: `${tag}-overlap`, EnableIPv6: true, IPAM: { Config: [{ Subnet: `${s.p6}:8000::/66` }] } }), 403,
      'invalid pool request: Pool overlaps with other one on this address space');
  });

  it('--ipv6 without an IPv6 subnet: Docker 24 has no default IPv6 pool (404)', { skip: e.external && 'Docker 20.10 creates it without an IPv6 subnet' }, async () => {
    await rejects(docker.createNetwork({ Name: `${tag}-nopool`, EnableIPv6: true }), 404,
      'could not find an available, non-overlapping IPv6 address pool among the defaults to assign to the network');
    const r = spawnSync(BERTH, ['network', 'create', '--ipv6', `${tag}-nopool`], { env: e.env });
    assert.equal(r.status, 1);
    assert.equal(r.stderr.toString(), 'Error response from daemon: could not find an available, non-overlapping IPv6 address pool among the defaults to assign to the network\n');
  });

  it('an IPv6 subnet without --ipv6 is kept and shown, but containers get no IPv6 address (as Docker)', async () => {
    const s = subnets();
    const { id, name } = netCreate(['--subnet', s.v6]);
    const n = (await docker.getNetwork(id).inspect()) as { EnableIPv6: boolean; IPAM: { Config: { Subnet: string }[] } };
    assert.equal(n.EnableIPv6, false);
    assert.ok(n.IPAM.Config.some((c) => c.Subnet === s.v6), JSON.stringify(n.IPAM.Config));
    const c = runIdle(['--network', id]);
    const ep = endpoint(c, name);
    assert.equal(ep.GlobalIPv6Address, '');
    assert.notEqual(ep.IPAddress, '');
  });
});

describe('containers on a dual-stack network', () => {
  it('get IPv6 addresses shown as Docker shows them, reach each other over IPv6 by name and address, and names answer AAAA', async () => {
    const s = subnets();
    const { id, name } = netCreate(['--ipv6', '--subnet', s.v4, '--subnet', s.v6]);
    const server = runIdle(['--network', id, '--name', `${tag}-srv`], ['sh', '-c', 'mkdir -p /www && echo hello-v6 > /www/index.html && exec httpd -f -p 8080 -h /www']);
    const client = runIdle(['--network', id, '--name', `${tag}-cli`]);
    const srv = endpoint(server, name);
    assert.equal(srv.GlobalIPv6Address, `${s.p6}::2`);
    assert.equal(srv.GlobalIPv6PrefixLen, 64);
    assert.equal(srv.IPv6Gateway, `${s.p6}::1`);
    assert.equal(endpoint(client, name).GlobalIPv6Address, `${s.p6}::3`);
    // the deprecated top-level fields are the default bridge's only
    assert.equal(ok(['inspect', '-f', '{{.NetworkSettings.GlobalIPv6Address}}|{{.NetworkSettings.IPAddress}}', server]), '|');
    const net = (await docker.getNetwork(id).inspect()) as { Containers: Record<string, { IPv6Address: string }> };
    assert.equal(net.Containers[server].IPv6Address, `${s.p6}::2/64`);

    assert.equal(e.docker(['exec', client, 'ping', '-6', '-c1', '-W5', `${s.p6}::2`]).status, 0, 'ping6 by address');
    assert.equal(e.docker(['exec', client, 'ping', '-6', '-c1', '-W5', `${tag}-srv`]).status, 0, 'ping6 by name');
    assert.equal(ok(['exec', client, 'wget', '-qO-', `http://[${s.p6}::2]:8080/`]), 'hello-v6');
    const aaaa = e.docker(['exec', client, 'nslookup', '-type=AAAA', `${tag}-srv`]);
    assert.match(aaaa.stdout, new RegExp(`Address:? *(1: )?${s.p6}::2\\b`), aaaa.stdout + aaaa.stderr);
    // /etc/hosts lists both of the container's addresses
    const hosts = ok(['exec', server, 'cat', '/etc/hosts']);
    assert.match(hosts, new RegExp(`^${s.p4.replace(/\./g, '\\.')}\\.2\\s`, 'm'));
    assert.match(hosts, new RegExp(`^${s.p6}::2\\s`, 'm'));
  });

  it('--ip6 and connect --ip6 give static IPv6 addresses, reported in IPAMConfig', async () => {
    const s = subnets();
    const t = subnets();
    const { id, name } = netCreate(['--ipv6', '--subnet', s.v4, '--subnet', s.v6]);
    const other = netCreate(['--ipv6', '--subnet', t.v4, '--subnet', t.v6]);
    const c = runIdle(['--network', id, '--ip6', `${s.p6}::99`]);
    const ep = endpoint(c, name);
    assert.equal(ep.GlobalIPv6Address, `${s.p6}::99`);
    assert.deepEqual(ep.IPAMConfig, { IPv6Address: `${s.p6}::99` });
    assert.match(ok(['exec', c, 'cat', '/proc/net/if_inet6']), new RegExp(`^${s.p6.split(':').map((x) => x.padStart(4, '0')).join('')}0{14}99 `, 'm'));
    ok(['network', 'connect', '--ip6', `${t.p6}::42`, other.id, c]);
    assert.equal(endpoint(c, other.name).GlobalIPv6Address, `${t.p6}::42`);
    assert.match(ok(['exec', c, 'cat', '/etc/hosts']), new RegExp(`^${t.p6}::42\\s`, 'm'), 'connect adds the new address to /etc/hosts');
    // the berth CLI sends --ip6 as the docker CLI does
    const viaBerth = spawnSync(BERTH, ['run', '-d', '--label', TEST_LABEL, '--network', name, '--ip6', `${s.p6}::98`, 'busybox', 'sleep', '600'], { env: e.env });
    assert.equal(viaBerth.status, 0, viaBerth.stderr.toString());
    assert.deepEqual(endpoint(viaBerth.stdout.toString().trim(), name).IPAMConfig, { IPv6Address: `${s.p6}::98` });
    // not an IPv6 address: refused at create (docker's verifyNetworkingConfig)
    const api = await docker.createContainer({ Image: 'busybox', Labels: { 'berth.test': 'compat' }, NetworkingConfig: { EndpointsConfig: { [name]: { IPAMConfig: { IPv6Address: '10.0.0.1' } } } } }).then(() => 'created', (err: { statusCode?: number; json?: { message?: string } }) => `${err.statusCode} ${err.json?.message}`);
    assert.match(api, e.external ? /invalid IPv6 address: 10\.0\.0\.1$/ : /^400 invalid IPv6 address: 10\.0\.0\.1$/);
    // a fixed address outside the subnet
    const bad = e.docker(['run', '--rm', '--label', TEST_LABEL, '--network', id, '--ip6', `${t.p6}::7`, 'busybox', 'true']);
    assert.notEqual(bad.status, 0);
    assert.match(bad.stderr, new RegExp(`no configured subnet or ip-range contain the IP address ${t.p6}::7`));
  });

  it('a published port answers over IPv6 on the host\'s own address of the network', async () => {
    const s = subnets();
    const { id } = netCreate(['--ipv6', '--subnet', s.v4, '--subnet', s.v6]);
    const c = runIdle(['--network', id, '-p', '8080'], ['sh', '-c', 'mkdir -p /www && echo published-v6 > /www/index.html && exec httpd -f -p 8080 -h /www']);
    const port = ok(['inspect', '-f', '{{(index (index .NetworkSettings.Ports "8080/tcp") 0).HostPort}}', c]);
    // the host reaches the container through its port on the gateway address (DNAT, or Docker's proxy)
    assert.equal((await get(`http://[${s.p6}::1]:${port}/`)).trim(), 'published-v6');
    assert.equal((await get(`http://127.0.0.1:${port}/`)).trim(), 'published-v6');
  });
});

describe('an IPv6 network over time', () => {
  it('names resolve after the network was idle, and removing it leaves no address of it on the host', () => {
    const s = subnets();
    const { id } = netCreate(['--ipv6', '--subnet', s.v4, '--subnet', s.v6]);
    ok(['run', '--rm', '--label', TEST_LABEL, '--network', id, 'busybox', 'true']); // in use, then idle
    const srv = runIdle(['--network', id, '--name', `${tag}-later`]);
    const look = e.docker(['run', '--rm', '--label', TEST_LABEL, '--network', id, 'busybox', 'nslookup', '-type=AAAA', `${tag}-later`]);
    assert.match(look.stdout, new RegExp(`Address:? *(1: )?${s.p6}::\\d+\\b`), look.stdout + look.stderr);
    ok(['rm', '-f', srv]);
    ok(['network', 'rm', id]);
    made.delete(id);
    if (!e.external) assert.doesNotMatch(spawnSync('ip', ['-6', '-o', 'addr']).stdout.toString(), new RegExp(`${s.p6}::1/`), 'the bridge is gone');
  });
});

describe('a berthd that stops', () => {
  it('releases its idle IPv6 networks: no bridge is left', { skip: e.external && 'Berth only (a daemon of its own)' }, async () => {
    const d = new TestDaemon('netv6stop');
    const bridges = () => spawnSync('ip', ['-br', 'link', 'show', 'type', 'bridge']).stdout.toString().split('\n').filter((l) => l.startsWith(`${d.bridge}-`));
    let left: string[] = [];
    try {
      await d.start();
      d.importBusybox();
      for (let i = 0; i < 6; i++) {
        const s = subnets();
        assert.equal(d.berth(['network', 'create', '--ipv6', '--subnet', s.v4, '--subnet', s.v6, `v6stop${i}`]).status, 0);
        assert.equal(d.berth(['run', '--rm', '--network', `v6stop${i}`, 'busybox', 'true']).status, 0);
      }
      process.kill(d.pid!, 'SIGTERM'); // berthd releases every idle network: netavark removes bridge, rules and DNS
      await d.exited();
      left = bridges();
      if (left.length) await d.start(); // the next start releases what is left: a failed run leaves nothing either
    } finally {
      await d.stop();
    }
    assert.deepEqual(left, []);
  });
});

describe('network connect --link', () => {
  it('the link alias resolves in the connecting container only', () => {
    const s = subnets();
    const { id, name } = netCreate(['--subnet', s.v4]);
    const db = runIdle(['--network', id, '--name', `${tag}-db`]);
    const app = runIdle([]);
    const bystander = runIdle(['--network', id]);
    ok(['network', 'connect', '--link', `${tag}-db:${tag}-alias`, id, app]);
    assert.deepEqual(JSON.parse(ok(['inspect', '-f', `{{json (index .NetworkSettings.Networks "${name}").Links}}`, app])), [`${tag}-db:${tag}-alias`]);
    assert.equal(ok(['inspect', '-f', '{{json .NetworkSettings.Networks.bridge.Links}}', app]), 'null', 'links are per network');
    const dbIp = ok(['inspect', '-f', '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}', db]);
    const ping = e.docker(['exec', app, 'ping', '-c1', '-W5', `${tag}-alias`]);
    assert.equal(ping.status, 0, ping.stdout + ping.stderr);
    assert.match(ping.stdout, new RegExp(`\\(${dbIp.replace(/\./g, '\\.')}\\)`));
    assert.notEqual(e.docker(['exec', bystander, 'ping', '-c1', '-W1', `${tag}-alias`]).status, 0, 'not in another container');
    // berth CLI: the same flag
    const other = runIdle([]);
    const r = spawnSync(BERTH, ['network', 'connect', '--link', `${tag}-db:${tag}-alias2`, id, other], { env: e.env });
    assert.equal(r.status, 0, r.stderr.toString());
    assert.equal(e.docker(['exec', other, 'ping', '-c1', '-W5', `${tag}-alias2`]).status, 0);
    // a stopped container gets the link at its next start
    const later = ok(['create', '--label', TEST_LABEL, 'busybox', 'sleep', '600']);
    ok(['network', 'connect', '--link', `${tag}-db:${tag}-alias3`, id, later]);
    ok(['start', later]);
    assert.equal(e.docker(['exec', later, 'ping', '-c1', '-W5', `${tag}-alias3`]).status, 0);
  });
});

describe('berth compose', () => {
  it('a network with enable_ipv6 and IPAM configs, a service with ipv6_address', () => {
    const s = subnets();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-v6compose-'));
    const project = `${tag}c`;
    fs.writeFileSync(path.join(dir, 'compose.yaml'), [
      'services:',
      '  web:',
      '    image: busybox',
      '    command: sleep 600',
      `    labels: [${TEST_LABEL}]`,
      '    networks:',
      '      dual:',
      `        ipv6_address: ${s.p6}::10`,
      'networks:',
      '  dual:',
      '    enable_ipv6: true',
      '    ipam:',
      '      config:',
      `        - subnet: ${s.v4}`,
      `        - subnet: ${s.v6}`,
      '',
    ].join('\n'));
    const compose = (args: string[]) => spawnSync(BERTH, ['compose', '-p', project, ...args], { cwd: dir, env: e.env, timeout: 180_000 });
    try {
      const up = compose(['up', '-d']);
      assert.equal(up.status, 0, up.stderr.toString());
      const ep = endpoint(`${project}-web-1`, `${project}_dual`);
      assert.equal(ep.GlobalIPv6Address, `${s.p6}::10`);
      assert.equal(ok(['network', 'inspect', '-f', '{{.EnableIPv6}}', `${project}_dual`]), 'true');
    } finally {
      compose(['down']);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
