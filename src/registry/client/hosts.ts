/**
 * Where a registry domain is reached: mirrors for docker.io (pulls only), TLS by default, plain HTTP as a fallback for
 * loopback and insecure registries (docker's `insecure-registries`), CAs and client certs from certs.d directories.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { ApiError } from '../../common/errors';

export const DOCKER_IO = 'docker.io';
const DOCKER_IO_HOST = 'registry-1.docker.io';
export const DEFAULT_CERTS_DIRS = ['/etc/berth/certs.d', '/etc/docker/certs.d'];

export interface HostsConfig {
  /** host[:port] or CIDR entries, as docker's --insecure-registry. */
  insecure: string[];
  /** Never contact a registry off this machine (test daemons, air-gapped hosts). */
  loopbackOnly?: boolean;
  /** Base URLs of docker.io mirrors, as docker's --registry-mirror. */
  mirrors: string[];
  certsDirs?: string[];
}

export interface TlsFiles {
  ca?: Buffer[];
  cert?: Buffer;
  key?: Buffer;
}

export interface Endpoint {
  /** e.g. https://127.0.0.1:5000 (no trailing slash). */
  url: string;
  mirror: boolean;
  /** Skip certificate checks (insecure registry without a configured CA). */
  insecureTls: boolean;
  /** Try plain HTTP when the TLS attempt fails. */
  httpFallback: boolean;
  tls: TlsFiles;
}

/** 127.0.0.0/8, ::1, localhost: insecure by default, as in docker. */
export function isLoopback(hostPort: string): boolean {
  const host = splitHost(hostPort);
  if (host === 'localhost') return true;
  if (net.isIPv4(host)) return host.startsWith('127.');
  return host === '::1';
}

function splitHost(hostPort: string): string {
  const v6 = /^\[([^\]]+)\](?::\d+)?$/.exec(hostPort);
  if (v6) return v6[1];
  const i = hostPort.lastIndexOf(':');
  return i > 0 && !hostPort.slice(0, i).includes(':') ? hostPort.slice(0, i) : hostPort;
}

function inCidr(ip: string, cidr: string): boolean {
  const [base, bitsText] = cidr.split('/');
  const bits = Number(bitsText);
  if (!net.isIPv4(ip) || !net.isIPv4(base) || !(bits >= 0 && bits <= 32)) return false;
  const n = (s: string): number => s.split('.').reduce((a, o) => (a << 8) + Number(o), 0) >>> 0;
  const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
  return (n(ip) & mask) === (n(base) & mask);
}

export function isInsecure(hostPort: string, insecure: string[]): boolean {
  if (isLoopback(hostPort)) return true;
  const host = splitHost(hostPort);
  return insecure.some((e) => (e.includes('/') ? inCidr(host, e) : e === hostPort || e === host));
}

/** docker's certs.d layout: *.crt are CAs, <name>.cert + <name>.key a client certificate. */
export function readCertsDir(dir: string): TlsFiles {
  let names: string[];
  try {
    names = fs.readdirSync(dir).sort();
  } catch {
    return {};
  }
  const out: TlsFiles = {};
  for (const n of names) {
    const file = path.join(dir, n);
    if (n.endsWith('.crt')) (out.ca ??= []).push(fs.readFileSync(file));
    else if (n.endsWith('.cert')) {
      const key = path.join(dir, n.slice(0, -'.cert'.length) + '.key');
      if (!fs.existsSync(key)) throw new Error(`missing key ${key} for client certificate ${file}`);
      out.cert = fs.readFileSync(file);
      out.key = fs.readFileSync(key);
    }
  }
  return out;
}

export class RegistryHosts {
  private readonly certsDirs: string[];

  constructor(private readonly cfg: HostsConfig) {
    this.certsDirs = cfg.certsDirs ?? DEFAULT_CERTS_DIRS;
    for (const m of cfg.mirrors) validateMirror(m);
  }

  /** Endpoints to try in order; pushes never go to mirrors. */
  endpoints(domain: string, forPush = false): Endpoint[] {
    const out: Endpoint[] = [];
    if (domain === DOCKER_IO && !forPush) {
      for (const m of this.cfg.mirrors) {
        const u = new URL(m);
        out.push(this.endpoint(u.host, u.protocol === 'http:' ? 'http' : 'https', true));
      }
    }
    out.push(this.endpoint(domain === DOCKER_IO ? DOCKER_IO_HOST : domain, 'https', false));
    if (!this.cfg.loopbackOnly) return out;
    const local = out.filter((e) => isLoopback(new URL(e.url).host));
    if (!local.length) throw new ApiError(404, `not contacting ${domain}: this daemon only reaches registries on loopback (--registries-loopback-only)`);
    return local;
  }

  private endpoint(hostPort: string, scheme: 'http' | 'https', mirror: boolean): Endpoint {
    const tls = this.tlsFor(hostPort);
    const insecure = isInsecure(hostPort, this.cfg.insecure);
    return {
      url: `${scheme}://${hostPort}`,
      mirror,
      insecureTls: insecure && !tls.ca,
      httpFallback: scheme === 'https' && insecure && !tls.ca,
      tls,
    };
  }

  private tlsFor(hostPort: string): TlsFiles {
    for (const d of this.certsDirs) {
      const t = readCertsDir(path.join(d, hostPort.replace(/^\[(.*)\]/, '$1')));
      if (t.ca || t.cert) return t;
    }
    return {};
  }
}

export function validateMirror(m: string): string {
  let u: URL;
  try {
    u = new URL(m);
  } catch {
    throw new Error(`invalid registry mirror "${m}": not a URL (e.g. https://mirror.example.com)`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error(`invalid registry mirror "${m}": scheme must be http or https`);
  if (u.pathname !== '/' && u.pathname !== '') throw new Error(`invalid registry mirror "${m}": a mirror has no path`);
  return m;
}
