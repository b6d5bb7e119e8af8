/**
 * A test PKI made by openssl: a CA with a server certificate for 127.0.0.1/localhost and a client certificate (as
 * docker's "Protect the Docker daemon socket" guide makes them), an expired client certificate of the same CA, and a
 * second CA with its own client certificate. Each client lives in a DOCKER_CERT_PATH-style directory (ca.pem,
 * cert.pem, key.pem).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface TestPki {
  dir: string;
  /** berthd's --tlscacert/--tlscert/--tlskey. */
  server: { ca: string; cert: string; key: string };
  /** DOCKER_CERT_PATH directories. */
  client: string;
  expired: string;
  otherCa: string;
  /** Only ca.pem: TLS that checks the server but shows no client certificate. */
  noCert: string;
}

function openssl(cwd: string, args: string[]): void {
  const r = spawnSync('openssl', args, { cwd, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`openssl ${args.join(' ')}: ${r.stderr}`);
}

function ca(dir: string, name: string): void {
  openssl(dir, ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}-key.pem`, '-out', `${name}.pem`, '-days', '2', '-subj', `/CN=${name}`]);
}

/** A key and a certificate signed by `caName`; `dates` makes it with `openssl ca` for chosen validity dates. */
function leaf(dir: string, caName: string, name: string, ext: string, dates?: [string, string]): void {
  openssl(dir, ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}-key.pem`, '-out', `${name}.csr`, '-subj', `/CN=${name}`]);
  fs.writeFileSync(path.join(dir, `${name}.ext`), ext);
  if (!dates) {
    openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', `${caName}.pem`, '-CAkey', `${caName}-key.pem`, '-CAcreateserial', '-days', '2', '-out', `${name}.pem`, '-extfile', `${name}.ext`]);
    return;
  }
  const db = path.join(dir, `${name}-db`);
  fs.mkdirSync(db);
  fs.writeFileSync(path.join(db, 'index.txt'), '');
  fs.writeFileSync(path.join(db, 'serial'), '1000\n');
  fs.writeFileSync(path.join(dir, `${name}.cnf`), `[ca]\ndefault_ca=d\n[d]\ndatabase=${db}/index.txt\nnew_certs_dir=${db}\nserial=${db}/serial\ndefault_md=sha256\npolicy=p\n[p]\ncommonName=supplied\n[x]\n${ext}`);
  openssl(dir, ['ca', '-batch', '-config', `${name}.cnf`, '-cert', `${caName}.pem`, '-keyfile', `${caName}-key.pem`, '-in', `${name}.csr`, '-out', `${name}.pem`,
    '-startdate', dates[0], '-enddate', dates[1], '-extensions', 'x', '-notext']);
}

function clientDir(dir: string, name: string, caName: string, leafName?: string): string {
  const d = path.join(dir, name);
  fs.mkdirSync(d);
  fs.copyFileSync(path.join(dir, `${caName}.pem`), path.join(d, 'ca.pem'));
  if (leafName) {
    fs.copyFileSync(path.join(dir, `${leafName}.pem`), path.join(d, 'cert.pem'));
    fs.copyFileSync(path.join(dir, `${leafName}-key.pem`), path.join(d, 'key.pem'));
  }
  return d;
}

export function makePki(dir: string): TestPki {
  const client = 'extendedKeyUsage=clientAuth\n';
  ca(dir, 'ca');
  ca(dir, 'other-ca');
  leaf(dir, 'ca', 'server', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  leaf(dir, 'ca', 'client', client);
  leaf(dir, 'ca', 'expired', client, ['20200101000000Z', '20200102000000Z']);
  leaf(dir, 'other-ca', 'stranger', client);
  return {
    dir,
    server: { ca: path.join(dir, 'ca.pem'), cert: path.join(dir, 'server.pem'), key: path.join(dir, 'server-key.pem') },
    client: clientDir(dir, 'client', 'ca', 'client'),
    expired: clientDir(dir, 'expired-client', 'ca', 'expired'),
    // trusts our CA (the server checks out) but shows a certificate from another CA
    otherCa: clientDir(dir, 'other-client', 'ca', 'stranger'),
    noCert: clientDir(dir, 'no-cert', 'ca'),
  };
}
