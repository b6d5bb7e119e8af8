/**
 * The bridge driver's options (`docker network create -o key=value`), parsed with docker's rules and wording
 * (libnetwork/drivers/bridge fromLabels): Go's strconv.ParseBool / Atoi syntax, a 400 naming the option.
 * Unknown keys are kept and ignored, as docker does.
 */
import { badRequest } from '../common/errors';
import { parseIp } from './ipam';

export const BRIDGE_NAME = 'com.docker.network.bridge.name';
export const DRIVER_MTU = 'com.docker.network.driver.mtu';
const ENABLE_ICC = 'com.docker.network.bridge.enable_icc';
const BOOLEANS = [
  ENABLE_ICC, 'com.docker.network.bridge.enable_ip_masquerade', 'com.docker.network.bridge.inhibit_ipv4',
  'com.docker.network.bridge.default_bridge', 'com.docker.network.enable_ipv6',
];
const IPS = ['com.docker.network.bridge.host_binding_ipv4', 'com.docker.network.host_ipv4'];

export interface BridgeSettings { bridgeName?: string; mtu?: number; icc: boolean }

const parseErr = (label: string, value: string, why: string) => badRequest(`failed to parse ${label} value: ${value} (${why})`);

/** Go's strconv.ParseBool. */
function goBool(label: string, v: string): boolean {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(v)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(v)) return false;
  throw parseErr(label, v, `strconv.ParseBool: parsing ${JSON.stringify(v)}: invalid syntax`);
}

export function bridgeSettings(options: Record<string, string>): BridgeSettings {
  const out: BridgeSettings = { icc: true };
  for (const [k, v] of Object.entries(options)) {
    if (k === BRIDGE_NAME) out.bridgeName = v;
    else if (k === DRIVER_MTU) {
      if (!/^[+-]?\d+$/.test(v)) throw parseErr(k, v, `strconv.Atoi: parsing ${JSON.stringify(v)}: invalid syntax`);
      const mtu = Number(v);
      if (mtu < 0) throw badRequest(`invalid MTU number: ${mtu}`);
      if (mtu > 0) out.mtu = mtu; // 0: the default
    } else if (BOOLEANS.includes(k)) {
      const b = goBool(k, v);
      if (k === ENABLE_ICC) out.icc = b;
    } else if (IPS.includes(k) && parseIp(v) === undefined && !v.includes(':')) throw parseErr(k, v, 'nil ip');
  }
  return out;
}
