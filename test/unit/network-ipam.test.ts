import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  allocateAddress, checkNoOverlap, chooseGateway, formatCidr, formatIp, hostRouteSubnets, macForIp, newPool, nextSubnet, parseAuxAddresses, parseCidrLoose,
  parseIp, parseMac, parseRange, parseSubnet,
} from '../../src/network/ipam';
import { ApiError } from '../../src/common/errors';

const status = (fn: () => unknown): [number, string] => {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ApiError, String(e));
    return [e.status, e.message];
  }
  assert.fail('expected an error');
};

test('parse and format IPv4', () => {
  assert.equal(parseIp('10.209.0.1'), 0x0ad10001n);
  assert.equal(formatIp(parseIp('255.255.255.255')!), '255.255.255.255');
  for (const bad of ['10.0.0', '10.0.0.256', '010.0.0.1', 'a.b.c.d', '1.2.3.4.5']) assert.equal(parseIp(bad), undefined, bad);
  assert.equal(formatCidr(parseCidrLoose('192.0.2.77/24')!), '192.0.2.0/24');
});

test('subnet validation uses docker wording', () => {
  assert.equal(formatCidr(parseSubnet('10.1.0.0/16')), '10.1.0.0/16');
  assert.deepEqual(status(() => parseSubnet('10.1.2.3/16')), [400, 'invalid subnet 10.1.2.3/16: it should be 10.1.0.0/16']);
  assert.deepEqual(status(() => parseSubnet('nonsense')), [400, 'invalid CIDR address: nonsense']);
  assert.deepEqual(status(() => parseSubnet('10.1.0.0')), [400, 'invalid CIDR address: 10.1.0.0']);
  assert.equal(status(() => parseSubnet('10.1.0.0/31'))[0], 400);
  assert.deepEqual(status(() => checkNoOverlap(parseSubnet('10.1.128.0/17'), [parseSubnet('10.1.0.0/16')])), [403, 'invalid pool request: Pool overlaps with other one on this address space']);
  checkNoOverlap(parseSubnet('10.2.0.0/16'), [parseSubnet('10.1.0.0/16')]);
});

test('gateway: first host by default, must be a host address inside the subnet', () => {
  const s = parseSubnet('10.5.0.0/24');
  assert.equal(formatIp(chooseGateway(s)), '10.5.0.1');
  assert.equal(formatIp(chooseGateway(s, '10.5.0.254')), '10.5.0.254');
  assert.deepEqual(status(() => chooseGateway(s, '10.6.0.1')), [400, 'no matching subnet for gateway 10.6.0.1']);
  assert.equal(status(() => chooseGateway(s, '10.5.0.255'))[0], 400);
  assert.equal(status(() => chooseGateway(s, 'x'))[0], 400);
});

test('pools skip subnets used by networks and host routes', () => {
  const pools = [{ base: '10.210.0.0/15', size: 16 }, { base: '10.212.0.0/14', size: 16 }];
  assert.equal(formatCidr(nextSubnet(pools, [])), '10.210.0.0/16');
  const routes = hostRouteSubnets(JSON.stringify([{ dst: 'default', gateway: '192.0.2.1' }, { dst: '10.210.3.0/24' }, { dst: '192.0.2.0/24' }]));
  assert.deepEqual(routes.map(formatCidr), ['10.210.3.0/24', '192.0.2.0/24']);
  assert.equal(formatCidr(nextSubnet(pools, routes)), '10.211.0.0/16');
  assert.equal(formatCidr(nextSubnet(pools, [...routes, parseSubnet('10.211.0.0/16')])), '10.212.0.0/16');
  const all = ['10.210.0.0/15', '10.212.0.0/14'].map(parseSubnet);
  assert.deepEqual(status(() => nextSubnet(pools, all)), [404, 'could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network']);
  assert.throws(() => nextSubnet([{ base: '10.0.0.0/16', size: 8 }], []), /invalid address pool/);
});

test('addresses: lowest free, skipping gateway; --ip checked', () => {
  const s = parseSubnet('10.7.0.0/29'); // hosts .1-.6
  const gw = chooseGateway(s);
  const used = new Set<bigint>([gw]);
  const got: string[] = [];
  for (let i = 0; i < 5; i++) {
    const ip = allocateAddress(s, used);
    used.add(ip);
    got.push(formatIp(ip));
  }
  assert.deepEqual(got, ['10.7.0.2', '10.7.0.3', '10.7.0.4', '10.7.0.5', '10.7.0.6']);
  assert.equal(status(() => allocateAddress(s, used))[0], 403);
  used.delete(parseIp('10.7.0.4')!); // release
  assert.equal(formatIp(allocateAddress(s, used)), '10.7.0.4');
  const gwOnly = new Set<bigint>([gw]);
  assert.equal(formatIp(allocateAddress(s, gwOnly, '10.7.0.5')), '10.7.0.5');
  assert.deepEqual(status(() => allocateAddress(s, gwOnly, '10.8.0.5')), [400, 'no configured subnet or ip-range contain the IP address 10.8.0.5']);
  assert.deepEqual(status(() => allocateAddress(s, gwOnly, '10.7.0.1')), [403, 'Address already in use']);
  assert.deepEqual(status(() => allocateAddress(s, used, '10.7.0.2')), [403, 'Address already in use']);
  assert.equal(status(() => allocateAddress(s, gwOnly, '10.7.0.7'))[0], 400); // broadcast
});

test('ip-range: addresses and the default gateway come from the range, never the subnet edges; --ip may lie outside it', () => {
  const s = parseSubnet('10.7.0.0/16');
  const r = parseRange('10.7.5.0/24', s);
  const gw = chooseGateway(s, undefined, r);
  assert.equal(formatIp(gw), '10.7.5.0'); // docker's IPAM hands out the range's first address (not the subnet's network address)
  assert.equal(formatIp(allocateAddress(s, new Set([gw]), undefined, r)), '10.7.5.1');
  assert.equal(formatIp(allocateAddress(s, new Set([gw]), '10.7.9.9', r)), '10.7.9.9');
  const edge = parseRange('10.7.0.0/24', s);
  assert.equal(formatIp(chooseGateway(s, undefined, edge)), '10.7.0.1');
  assert.equal(formatIp(allocateAddress(s, new Set(), undefined, parseRange('10.7.255.254/31', s))), '10.7.255.254');
  assert.equal(status(() => allocateAddress(s, new Set([parseIp('10.7.255.254')!]), undefined, parseRange('10.7.255.254/31', s)))[0], 403);
  assert.equal(status(() => parseRange('10.8.0.0/24', s))[0], 400);
  assert.equal(status(() => parseRange('10.0.0.0/8', s))[0], 400);
  assert.equal(status(() => parseRange('junk', s))[0], 400);
});

test('auxiliary addresses: inside the subnet, with docker wording', () => {
  const s = parseSubnet('10.7.0.0/24');
  assert.deepEqual(parseAuxAddresses({ a: '10.7.0.9' }, s, 'n').map((ip) => formatIp(ip)), ['10.7.0.9']);
  assert.deepEqual(status(() => parseAuxAddresses({ a: 'x' }, s, 'n')), [400, 'non parsable secondary ip address (a:x) passed for network n']);
  assert.deepEqual(status(() => parseAuxAddresses({ a: '10.8.0.1' }, s, 'n')), [403, 'auxiliary address: (a:10.8.0.1) must belong to the master pool: 10.7.0.0/24']);
});

test('MAC addresses', () => {
  assert.equal(macForIp(parseIp('10.209.0.2')!), '02:42:0a:d1:00:02');
  assert.equal(parseMac('02:42:AC:11:00:02'), '02:42:ac:11:00:02');
  assert.equal(status(() => parseMac('02:42:ac:11:00'))[0], 400);
});

test('IPv6: parse any textual form, print as Go does (RFC 5952)', () => {
  assert.equal(parseIp('fd00::1', 6), 0xfd000000000000000000000000000001n);
  assert.equal(parseIp('::ffff:10.1.2.3', 6), 0xffff0a010203n);
  for (const bad of ['fd00:::1', 'fd00::1::2', 'g::1', '10.0.0.1', 'fe80::1%eth0']) assert.equal(parseIp(bad, 6), undefined, bad);
  assert.equal(parseIp('fd00::1'), undefined); // IPv4 is the default family
  const f = (s: string) => formatIp(parseIp(s, 6)!, 6);
  assert.equal(f('FD00:0000:0000:0000:0000:0000:0000:0001'), 'fd00::1');
  assert.equal(f('fd00:0:0:1:0:0:0:1'), 'fd00:0:0:1::1'); // the longest run of zeros, the first of equal ones
  assert.equal(f('fd00:1:2:3:4:5:0:7'), 'fd00:1:2:3:4:5:0:7'); // a single zero group is not compressed
  assert.equal(f('::'), '::');
  assert.equal(f('::1'), '::1');
  assert.equal(f('fd00::'), 'fd00::');
  assert.equal(formatCidr(parseCidrLoose('fd00:1::77/64')!), 'fd00:1::/64');
});

test('IPv6 subnets, gateway and addresses: ::1 first, no broadcast, docker wording', () => {
  const s = parseSubnet('fd00:12::/64');
  assert.equal(s.family, 6);
  assert.deepEqual(status(() => parseSubnet('fd00:12::1/64')), [400, 'invalid subnet fd00:12::1/64: it should be fd00:12::/64']);
  assert.equal(status(() => parseSubnet('fd00::/127'))[0], 400);
  assert.equal(formatCidr(parseSubnet('FD00:0012:0::/64')), 'fd00:12::/64'); // any spelling of the network address
  const gw = chooseGateway(s);
  assert.equal(formatIp(gw, 6), 'fd00:12::1');
  assert.equal(formatIp(allocateAddress(s, new Set([gw])), 6), 'fd00:12::2');
  assert.equal(formatIp(allocateAddress(s, new Set([gw]), 'fd00:12::ffff:ffff:ffff:ffff'), 6), 'fd00:12::ffff:ffff:ffff:ffff'); // the last address is a host
  assert.deepEqual(status(() => allocateAddress(s, new Set([gw]), 'fd00:13::5')), [400, 'no configured subnet or ip-range contain the IP address fd00:13::5']);
  assert.deepEqual(status(() => allocateAddress(s, new Set([gw]), 'fd00:12::1')), [403, 'Address already in use']);
  assert.deepEqual(status(() => allocateAddress(s, new Set([gw]), '10.0.0.1')), [400, 'invalid IPv6 address: 10.0.0.1']);
  assert.deepEqual(status(() => chooseGateway(s, 'fd00:99::1')), [400, 'no matching subnet for gateway fd00:99::1']);
  const tiny = parseSubnet('fd00::/126'); // ::0 is the network address; ::1-::3 are hosts
  const used = new Set<bigint>([chooseGateway(tiny)]);
  for (let i = 0; i < 2; i++) used.add(allocateAddress(tiny, used));
  assert.deepEqual(status(() => allocateAddress(tiny, used)), [403, 'no available IPv6 addresses on this network\'s address pools: fd00::/126']);
  // families never overlap each other
  checkNoOverlap(s, [parseSubnet('10.0.0.0/8')]);
  assert.equal(status(() => checkNoOverlap(parseSubnet('fd00:12::/48'), [s]))[0], 403);
  assert.equal(status(() => parseRange('10.0.0.0/24', s))[0], 400);
});

test('pools: the given subnet or a default one; Docker 24 has no default IPv6 pools (404)', () => {
  const pools = [{ base: '10.210.0.0/15', size: 16 }];
  assert.deepEqual(newPool({}, 'n', [], pools, 4), { subnet: '10.210.0.0/16', gateway: '10.210.0.1' });
  assert.deepEqual(newPool({ Subnet: 'fd00:5::/64', Gateway: 'fd00:5::fe', AuxiliaryAddresses: { r: 'fd00:5::1' } }, 'n', [], pools, 6),
    { subnet: 'fd00:5::/64', gateway: 'fd00:5::fe', auxAddresses: { r: 'fd00:5::1' } });
  assert.deepEqual(newPool({ Subnet: 'fd00:5::/64', IPRange: 'fd00:5::100/120' }, 'n', [], pools, 6), { subnet: 'fd00:5::/64', gateway: 'fd00:5::100', ipRange: 'fd00:5::100/120' });
  assert.deepEqual(status(() => newPool({}, 'n', [], pools, 6)), [404, 'could not find an available, non-overlapping IPv6 address pool among the defaults to assign to the network']);
  assert.deepEqual(status(() => newPool({ Subnet: 'fd00:5::/64' }, 'n', [parseSubnet('fd00::/16')], pools, 6)), [403, 'invalid pool request: Pool overlaps with other one on this address space']);
  assert.deepEqual(status(() => newPool({ Gateway: 'fd00::1' }, 'n', [], pools, 4)), [400, 'every ip-range, gateway or auxiliary address must have a corresponding subnet']);
});
