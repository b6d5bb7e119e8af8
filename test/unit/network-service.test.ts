/** NetworkService bookkeeping (no netavark calls: only host/none attachments and records). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { NetworkService } from '../../src/network/service';
import { NetworkStore } from '../../src/network/store';
import { netavarkConfig } from '../../src/network/netavark';
import { endpointInfo } from '../../src/network/views';
import { ApiError } from '../../src/common/errors';
import { newId } from '../../src/common/ids';

async function status(p: Promise<unknown> | (() => unknown)): Promise<[number, string]> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    assert.ok(e instanceof ApiError, String(e));
    return [e.status, e.message];
  }
  assert.fail('expected an error');
}

function setup(): { svc: NetworkService; root: string; done: () => void } {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-netsvc-'));
  fs.writeFileSync(path.join(tmp, 'resolv.conf'), 'nameserver 127.0.0.53\nnameserver 192.0.2.53\n');
  const root = path.join(tmp, 'store');
  const svc = new NetworkService({
    root, runDir: path.join(tmp, 'run'), defaultBridge: 'bns0', defaultSubnet: '10.241.0.0/24',
    pools: [{ base: '10.242.0.0/23', size: 24 }], bridgePrefix: 'bns', netnsPrefix: 'bns-', hostResolvConf: path.join(tmp, 'resolv.conf'),
  });
  return { svc, root, done: () => fs.rmSync(tmp, { recursive: true, force: true }) };
}

test('predefined networks, docker shapes, stable across ensureDefault calls', async () => {
  const { svc, done } = setup();
  try {
    await svc.ensureDefault();
    await svc.ensureDefault();
    const all = svc.list();
    assert.deepEqual(all.map((n) => [n.Name, n.Driver]).sort(), [['bridge', 'bridge'], ['host', 'host'], ['none', 'null']]);
    const bridge = svc.inspect('bridge');
    assert.deepEqual(bridge.IPAM, { Driver: 'default', Options: null, Config: [{ Subnet: '10.241.0.0/24', Gateway: '10.241.0.1' }] });
    assert.equal(bridge.Options['com.docker.network.bridge.name'], 'bns0');
    assert.equal(bridge.Scope, 'local');
    assert.match(bridge.Id, /^[0-9a-f]{64}$/);
    for (const name of ['bridge', 'host', 'none']) assert.deepEqual(await status(svc.remove(name)), [403, `${name} is a pre-defined network and cannot be removed`]);
  } finally {
    done();
  }
});

test('create: pool subnets, validation and docker errors', async () => {
  const { svc, done } = setup();
  try {
    await svc.ensureDefault();
    const a = await svc.create({ Name: 'a', Driver: 'bridge', Labels: { team: 'x' } });
    assert.deepEqual(a.Warning, '');
    const ia = svc.inspect('a');
    assert.deepEqual(ia.IPAM.Config, [{ Subnet: '10.242.0.0/24', Gateway: '10.242.0.1' }]);
    assert.equal(svc.inspect(a.Id.slice(0, 6)).Name, 'a');
    assert.equal((await svc.create({ Name: 'b' })).Warning, '');
    assert.equal(svc.inspect('b').IPAM.Config[0].Subnet, '10.242.1.0/24');
    assert.deepEqual(await status(svc.create({ Name: 'c' })), [404, 'could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network']);
    assert.deepEqual(await status(svc.create({ Name: 'a', CheckDuplicate: true })), [409, 'network with name a already exists']);
    assert.equal((await status(svc.create({ Name: 'o', IPAM: { Config: [{ Subnet: '10.242.0.128/25' }] } })))[0], 403);
    assert.deepEqual(await status(svc.create({ Name: 'g', IPAM: { Config: [{ Subnet: '10.9.0.0/16', Gateway: '10.8.0.1' }] } })), [400, 'no matching subnet for gateway 10.8.0.1']);
    assert.deepEqual(await status(svc.create({ Name: 'd', Driver: 'overlay' })), [404, 'plugin "overlay" not found']);
    assert.deepEqual(await status(svc.create({ Name: ' ' })), [400, 'invalid name:  ']);
    assert.deepEqual(await status(svc.create({ Name: 'bridge' })), [403, 'operation is not permitted on predefined bridge network ']);
    const s = await svc.create({ Name: 's', IPAM: { Driver: 'default', Config: [{ Subnet: '10.9.0.0/16', Gateway: '10.9.255.254' }] }, Options: { 'com.docker.network.bridge.name': 'mybr0' }, Internal: true });
    const is = svc.inspect(s.Id);
    assert.deepEqual(is.IPAM.Config, [{ Subnet: '10.9.0.0/16', Gateway: '10.9.255.254' }]);
    assert.equal(is.Internal, true);
    assert.deepEqual(await status(() => svc.inspect('nope')), [404, 'network nope not found']);

    assert.deepEqual(svc.list({ name: ['a'] }).map((n) => n.Name), ['a']);
    assert.deepEqual(svc.list({ type: ['custom'] }).map((n) => n.Name).sort(), ['a', 'b', 's']);
    assert.deepEqual(svc.list({ label: ['team=x'] }).map((n) => n.Name), ['a']);
    assert.deepEqual(svc.list({ driver: ['null'] }).map((n) => n.Name), ['none']);
    assert.deepEqual(await status(() => svc.list({ bogus: ['1'] })), [400, "invalid filter 'bogus'"]);
  } finally {
    done();
  }
});

test('endpoints: in-use networks, --ip rules, none network, prune', async () => {
  const { svc, root, done } = setup();
  try {
    await svc.ensureDefault();
    const { Id } = await svc.create({ Name: 'busy' });
    await svc.create({ Name: 'idle', Labels: { keep: '1' } });
    await svc.create({ Name: 'idle2', IPAM: { Config: [{ Subnet: '10.77.0.0/24' }] } });
    // a record as attachContainer leaves it (written through the store: no kernel work in this test)
    const cid = newId();
    new NetworkStore(root).saveEndpoint({
      containerId: cid, containerName: 'web', networkId: Id, endpointId: newId(), netnsPath: '/run/netns/none', ip: '10.242.0.2', prefixLen: 24,
      gateway: '10.242.0.1', mac: '02:42:0a:f2:00:02', aliases: [], dnsNames: ['web'], ports: [], exposedPorts: {}, setupDone: true,
    });
    assert.deepEqual(svc.inspect('busy').Containers[cid], { Name: 'web', EndpointID: svc.inspect('busy').Containers[cid].EndpointID, MacAddress: '02:42:0a:f2:00:02', IPv4Address: '10.242.0.2/24', IPv6Address: '' });
    assert.deepEqual(await status(svc.remove('busy')), [409, `error while removing network: network busy id ${Id} has active endpoints`]);
    assert.deepEqual(svc.list({ dangling: ['true'] }).map((n) => n.Name).sort(), ['idle', 'idle2']);
    assert.match(svc.resolvConf(cid), /^nameserver 10\.242\.0\.1$/m);
    assert.match(svc.hostsFile(cid, 'abc'), /^10\.242\.0\.2\tabc$/m);

    const other = newId();
    assert.deepEqual(await status(svc.attachContainer(other, 'x', '/nonexistent', { network: 'bridge', ip: '10.241.0.9' })), [400, 'user specified IP address is supported on user defined networks only']);
    assert.deepEqual(await status(svc.attachContainer(other, 'x', '/nonexistent', { network: 'busy', ip: '10.242.0.9' })), [400, 'user specified IP address is supported only when connecting to networks with user configured subnets']);
    assert.deepEqual(await status(svc.attachContainer(other, 'x', '/nonexistent', { network: 'default', aliases: ['y'] })), [400, 'network-scoped aliases are only supported for user-defined networks']);
    assert.deepEqual(await status(svc.attachContainer(other, 'x', '/nonexistent', { network: 'nonet' })), [404, 'network nonet not found']);

    const info = await svc.attachContainer(other, 'x', '/nonexistent', { network: 'none' });
    assert.equal(info.settings.IPAddress, '');
    assert.equal(info.settings.NetworkID, svc.inspect('none').Id);
    assert.deepEqual(Object.keys(svc.inspect('none').Containers), [other]);
    assert.equal(svc.resolvConf(other), 'nameserver 192.0.2.53\n');
    assert.doesNotMatch(svc.hostsFile(other, 'x'), /\tx$/m);
    await svc.detachContainer(other);
    await svc.detachContainer(other);
    assert.deepEqual(svc.inspect('none').Containers, {});

    assert.deepEqual(await svc.prune({ label: ['keep'] }), { NetworksDeleted: ['idle'] });
    assert.deepEqual(await svc.prune(), { NetworksDeleted: ['idle2'] });
    assert.deepEqual(svc.list().map((n) => n.Name).sort(), ['bridge', 'busy', 'host', 'none']);
  } finally {
    done();
  }
});

test('endpoints per (container, network): several networks in inspect, hosts and DNS; one-endpoint records migrate', async () => {
  const { svc, root, done } = setup();
  try {
    await svc.ensureDefault();
    const a = await svc.create({ Name: 'a' });
    const b = await svc.create({ Name: 'b' });
    const cid = newId();
    const ep = (networkId: string, ip: string, iface: string) => ({
      containerId: cid, containerName: 'web', networkId, endpointId: newId(), netnsPath: '/run/netns/x', ip, prefixLen: 24,
      gateway: ip.replace(/\d+$/, '1'), mac: '02:42:0a:f2:00:02', aliases: [], dnsNames: ['web'], ports: [], exposedPorts: {}, setupDone: true, iface,
    });
    // the old layout: <containerId>.json, moved to <containerId>-<networkId>.json when the store opens
    fs.writeFileSync(path.join(root, 'endpoints', `${cid}.json`), JSON.stringify(ep(b.Id, '10.242.1.2', 'eth1')));
    const store = new NetworkStore(root);
    assert.deepEqual(fs.readdirSync(path.join(root, 'endpoints')), [`${cid}-${b.Id}.json`]);
    store.saveEndpoint(ep(a.Id, '10.242.0.2', 'eth0'));
    assert.deepEqual(store.listEndpoints(cid).map((e) => e.iface), ['eth0', 'eth1']);

    const s = svc.networkSettings(cid)!;
    assert.deepEqual(Object.keys(s.Networks), ['a', 'b']);
    assert.equal(s.IPAddress, ''); // docker: the deprecated top-level fields are the default bridge's only
    assert.match(svc.hostsFile(cid, 'abc'), /\n10\.242\.0\.2\tabc\n10\.242\.1\.2\tabc\n$/);
    assert.match(svc.resolvConf(cid), /^nameserver 10\.242\.0\.1$/m);
    assert.deepEqual(Object.keys(svc.inspect('b').Containers), [cid]);
    assert.deepEqual(await status(svc.attachContainer(cid, 'web', '/nonexistent', { network: 'b' })), [403, 'endpoint with name web already exists in network b']);
    assert.deepEqual(await status(svc.detachNetwork(cid, 'bridge')), [500, `container ${cid} is not connected to network bridge`]);
    // the other container of the netns joins `none` on the next free interface name (no kernel work for null networks)
    const other = newId();
    store.saveEndpoint({ ...ep(a.Id, '10.242.0.3', 'eth0'), containerId: other });
    await svc.attachContainer(other, 'x', '/nonexistent', { network: 'none' });
    assert.deepEqual(store.listEndpoints(other).map((e) => e.iface), ['eth0', 'eth1']);
    store.deleteEndpoint(cid, a.Id);
    store.deleteEndpoint(cid, b.Id);
    store.deleteEndpoint(other, a.Id);
    await svc.detachContainer(other);
    assert.deepEqual(store.listEndpoints(), []);
    assert.equal(svc.networkSettings(cid), undefined);
  } finally {
    done();
  }
});

test('IPv6: dual-stack create as Docker 24, records, netavark JSON and inspect views of an endpoint', async () => {
  const { svc, root, done } = setup();
  try {
    await svc.ensureDefault();
    const v6 = { Subnet: 'fd00:77::/64' };
    const d = await svc.create({ Name: 'dual', EnableIPv6: true, IPAM: { Config: [v6, { Subnet: '10.9.0.0/24' }] } });
    const n = svc.inspect('dual');
    assert.equal(n.EnableIPv6, true);
    assert.deepEqual(n.IPAM.Config, [{ Subnet: '10.9.0.0/24', Gateway: '10.9.0.1' }, { Subnet: 'fd00:77::/64', Gateway: 'fd00:77::1' }]);
    assert.deepEqual(await status(svc.create({ Name: 'x', EnableIPv6: true })), [404, 'could not find an available, non-overlapping IPv6 address pool among the defaults to assign to the network']);
    assert.deepEqual(await status(svc.create({ Name: 'x', EnableIPv6: true, IPAM: { Config: [v6] } })), [403, 'invalid pool request: Pool overlaps with other one on this address space']);
    assert.deepEqual(await status(svc.create({ Name: 'x', EnableIPv6: true, IPAM: { Config: [{ Subnet: 'fd00:1::/64' }, { Subnet: 'fd00:2::/64' }] } })), [403, 'bridge driver doesn\'t support multiple subnets']);
    // without EnableIPv6 the IPv6 config is kept and shown (and the IPv4 subnet comes from the pools)
    await svc.create({ Name: 'off', IPAM: { Config: [{ Subnet: 'fd00:88::/64', Gateway: 'fd00:88::fe' }] } });
    const off = svc.inspect('off');
    assert.equal(off.EnableIPv6, false);
    assert.deepEqual(off.IPAM.Config, [{ Subnet: '10.242.0.0/24', Gateway: '10.242.0.1' }, { Subnet: 'fd00:88::/64', Gateway: 'fd00:88::fe' }]);

    const store = new NetworkStore(root);
    const dual = store.getNetwork(d.Id)!;
    const cid = newId();
    const rec = {
      containerId: cid, containerName: 'web', networkId: d.Id, endpointId: newId(), netnsPath: '/run/netns/x', ip: '10.9.0.2', prefixLen: 24,
      gateway: '10.9.0.1', ip6: 'fd00:77::2', prefixLen6: 64, gateway6: 'fd00:77::1', requestedIp6: 'fd00:77::2', mac: '02:42:0a:09:00:02',
      aliases: [], dnsNames: ['web'], ports: [], exposedPorts: {}, setupDone: true, iface: 'eth0',
    };
    const cfg = netavarkConfig(rec, dual);
    assert.deepEqual(cfg.networks[d.Id].static_ips, ['10.9.0.2', 'fd00:77::2']);
    assert.deepEqual(cfg.network_info[d.Id].subnets, [{ subnet: '10.9.0.0/24', gateway: '10.9.0.1' }, { subnet: 'fd00:77::/64', gateway: 'fd00:77::1' }]);
    assert.equal(cfg.network_info[d.Id].ipv6_enabled, true);
    assert.equal(netavarkConfig({ ...rec, ip6: undefined }, store.getNetwork(svc.inspect('off').Id)!).network_info[svc.inspect('off').Id].ipv6_enabled, false);
    const ep = endpointInfo(rec, dual).settings;
    assert.deepEqual([ep.GlobalIPv6Address, ep.GlobalIPv6PrefixLen, ep.IPv6Gateway, ep.IPAMConfig], ['fd00:77::2', 64, 'fd00:77::1', { IPv6Address: 'fd00:77::2' }]);
    store.saveEndpoint(rec);
    assert.equal(svc.inspect('dual').Containers[cid].IPv6Address, 'fd00:77::2/64');
    assert.match(svc.hostsFile(cid, 'abc'), /\n10\.9\.0\.2\tabc\nfd00:77::2\tabc\n$/);
    const s = svc.networkSettings(cid)!;
    assert.deepEqual([s.GlobalIPv6Address, s.IPAddress], ['', '']); // top level: the default bridge's only
    store.deleteEndpoint(cid, d.Id);
  } finally {
    done();
  }
});
