/** The CLI's IPAM flag consolidation: each range/gateway/aux address joins the subnet containing it (docker CLI's rules). */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { consolidateIpam, type IpamFlags } from '../../src/cli/commands/network-ipam';

const flags = (f: Partial<IpamFlags>): IpamFlags => ({ subnets: [], ranges: [], gateways: [], aux: [], ...f });

describe('network create IPAM flags', () => {
  it('pairs ranges, gateways and aux addresses with their subnet whatever the order', () => {
    assert.deepEqual(
      consolidateIpam(flags({
        subnets: ['10.1.0.0/24', 'fd00::/64', '10.2.0.0/24'],
        gateways: ['10.2.0.1', 'fd00::1', '10.1.0.1/24'],
        ranges: ['10.2.0.128/25'],
        aux: ['a=10.1.0.5', 'b=10.2.0.6', 'a=10.1.0.7'],
      })),
      [
        { Subnet: '10.1.0.0/24', Gateway: '10.1.0.1/24', AuxiliaryAddresses: { a: '10.1.0.7' } },
        { Subnet: 'fd00::/64', Gateway: 'fd00::1' },
        { Subnet: '10.2.0.0/24', Gateway: '10.2.0.1', IPRange: '10.2.0.128/25', AuxiliaryAddresses: { b: '10.2.0.6' } },
      ],
    );
    assert.deepEqual(consolidateIpam(flags({})), []);
  });

  // each message as the docker CLI 28 prints it for the same flags
  const refused: [Partial<IpamFlags>, string][] = [
    [{ gateways: ['10.1.0.1'] }, 'every ip-range or gateway must have a corresponding subnet'],
    [{ subnets: ['10.1.0.0/24'], ranges: ['10.1.0.0/25', '10.1.0.128/25'] }, 'every ip-range or gateway must have a corresponding subnet'],
    [{ subnets: ['10.1.0.0/24'], gateways: ['10.2.0.1'] }, 'no matching subnet for gateway 10.2.0.1'],
    [{ subnets: ['10.1.0.0/24'], gateways: ['bad'] }, 'no matching subnet for gateway bad'],
    [{ subnets: ['10.1.0.0/24'], ranges: ['10.2.0.0/25'] }, 'no matching subnet for range 10.2.0.0/25'],
    [{ subnets: ['10.1.0.0/24'], ranges: ['10.1.0.5'] }, 'invalid CIDR address: 10.1.0.5'],
    [{ subnets: ['10.1.0.0/24'], aux: ['a=10.2.0.5'] }, 'no matching subnet for aux-address 10.2.0.5'],
    [{ subnets: ['10.1.0.0/24'], aux: ['bad'] }, 'no matching subnet for aux-address '],
    [{ subnets: ['10.1.0.0/16', '10.1.2.0/24'] }, 'multiple overlapping subnet configuration is not supported'],
    [{ subnets: ['10.1.0.0/24', 'bad'] }, 'invalid subnet: invalid CIDR address: bad'],
    [{ subnets: ['bad'], gateways: ['10.1.0.1'] }, 'invalid subnet: invalid CIDR address: bad'],
    [{ subnets: ['10.1.0.0/24', '10.2.0.0/24'], ranges: ['10.1.0.0/25', '10.1.0.128/25'] },
      'cannot configure multiple ranges (10.1.0.128/25, 10.1.0.0/25) on the same subnet (10.1.0.0/24)'],
    [{ subnets: ['10.1.0.0/24', '10.2.0.0/24'], gateways: ['10.1.0.1', '10.1.0.2'] },
      'cannot configure multiple gateways (10.1.0.2, 10.1.0.1) for the same subnet (10.1.0.0/24)'],
  ];
  for (const [f, message] of refused) {
    it(`refuses ${JSON.stringify(f)}`, () => assert.throws(() => consolidateIpam(flags(f)), { message }));
  }
});
