/**
 * The value checks dockerd makes when a container is created (daemon/container.go verifyContainerSettings; resources are checked in
 * limits.ts), after the body's types were decoded: each bad value is a 400 naming the field, at create,
 * not a failure at start. A few are stricter than dockerd (DNS servers, extra hosts, sysctl and ulimit names are
 * refused here where dockerd fails only at start).
 */
import * as net from 'node:net';
import { badRequest } from '../../common/errors';
import { portRange, splitPortProto } from '../../common/ports';
import { parseSignal } from '../../common/signals';

/** The create body's fields checked here (already type-checked by the API decoder). */
export interface CreateFields {
  WorkingDir?: string;
  StopSignal?: string;
  ExposedPorts?: Record<string, unknown>;
  Healthcheck?: { Interval?: number; Timeout?: number; StartPeriod?: number; StartInterval?: number; Retries?: number };
}
export interface CreateHostFields {
  PortBindings?: Record<string, { HostIp?: string; HostPort?: string }[] | null> | null;
  ShmSize?: number;
  Dns?: string[] | null;
  ExtraHosts?: string[] | null;
  Sysctls?: Record<string, string> | null;
  Ulimits?: { Name?: string }[] | null;
}

const MIN_HEALTH_DURATION_NS = 1_000_000;
// go-units' ulimit names (ParseUlimit)
const ULIMITS = new Set(['core', 'cpu', 'data', 'fsize', 'locks', 'memlock', 'msgqueue', 'nice', 'nofile', 'nproc', 'rss', 'rtprio', 'rttime', 'sigpending', 'stack']);

const portOf = (key: string): string => splitPortProto(key).ports;

export function validateCreate(cfg: CreateFields, hc: CreateHostFields): void {
  if (cfg.WorkingDir && !cfg.WorkingDir.startsWith('/')) {
    throw badRequest(`the working directory '${cfg.WorkingDir}' is invalid, it needs to be an absolute path`);
  }
  if (cfg.StopSignal) parseSignal(cfg.StopSignal);
  const hcheck = cfg.Healthcheck;
  if (hcheck) {
    for (const f of ['Interval', 'Timeout', 'StartPeriod', 'StartInterval'] as const) {
      const v = hcheck[f];
      if (v && v < MIN_HEALTH_DURATION_NS) throw badRequest(`${f} in Healthcheck cannot be less than 1ms`);
    }
    if ((hcheck.Retries ?? 0) < 0) throw badRequest('Retries in Healthcheck cannot be negative');
  }
  for (const key of Object.keys(cfg.ExposedPorts ?? {})) {
    if (!portRange(portOf(key))) throw badRequest(`invalid port specification: "${portOf(key)}"`);
  }
  for (const [key, bindings] of Object.entries(hc.PortBindings ?? {})) {
    if (!portRange(portOf(key))) throw badRequest(`invalid port specification: "${portOf(key)}"`);
    for (const b of bindings ?? []) {
      if (b.HostPort && !portRange(b.HostPort)) throw badRequest(`invalid port specification: "${b.HostPort}"`);
      if (b.HostIp && !net.isIP(b.HostIp.replace(/^\[(.*)\]$/, '$1'))) throw badRequest(`invalid host IP address: ${b.HostIp}`);
    }
  }
  if ((hc.ShmSize ?? 0) < 0) throw badRequest('SHM size can not be less than 0');
  for (const d of hc.Dns ?? []) if (!net.isIP(d)) throw badRequest(`invalid IP address in Dns: "${d}"`);
  for (const h of hc.ExtraHosts ?? []) {
    const sep = h.search(/[:=]/);
    const addr = sep > 0 ? h.slice(sep + 1).replace(/^\[(.*)\]$/, '$1') : '';
    if (!addr || (addr !== 'host-gateway' && !net.isIP(addr))) throw badRequest(`bad format for add-host: "${h}"`);
  }
  for (const k of Object.keys(hc.Sysctls ?? {})) {
    if (!/^[A-Za-z0-9_-]+([./][A-Za-z0-9_-]+)*$/.test(k)) throw badRequest(`invalid sysctl name: "${k}"`);
  }
  for (const u of hc.Ulimits ?? []) if (!ULIMITS.has(u.Name ?? '')) throw badRequest(`invalid ulimit type: ${u.Name}`);
}
