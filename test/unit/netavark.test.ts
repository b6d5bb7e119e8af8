/**
 * Real kernel test (root): two namespaces on a user network through NetworkService + netavark. Traffic goes only to
 * loopback and to the namespaces created here. Own bridge prefix, subnets, store and netavark dir per run.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { NetworkService } from '../../src/network/service';
import { newId } from '../../src/common/ids';
import { publish } from '../helpers/spec';

const sh = (cmd: string, args: string[]): string => execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
const canRun = process.getuid?.() === 0 && fs.existsSync('/usr/lib/podman/netavark');

async function get(url: string): Promise<string> {
  const res = await fetch(url, { signal: AbortSignal.timeout(3000) });
  assert.equal(res.status, 200, url);
  return res.text();
}

async function waitFor(what: string, fn: () => Promise<unknown> | unknown, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    try {
      if (await fn()) return;
    } catch (e) {
      if (Date.now() > end) throw new Error(`${what}: ${(e as Error).message}`);
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Host ifindex of the veth peer of eth0 inside a netns. */
const hostPeerIndex = (ns: string): number => (JSON.parse(sh('ip', ['-n', ns, '-j', 'link', 'show', 'eth0'])) as { link_index: number }[])[0].link_index;
const hostIfindexes = (): Set<number> => new Set((JSON.parse(sh('ip', ['-j', 'link'])) as { ifindex: number }[]).map((l) => l.ifindex));
/** Live (non-zombie) aardvark-dns processes using this config dir. */
const aardvarks = (runDir: string): number[] =>
  fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p)).filter((p) => {
    try {
      return fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(`${runDir}/aardvark-dns`);
    } catch {
      return false;
    }
  }).map(Number);
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

test('netavark: user network with DNS, published port on 127.0.0.1, clean teardown', { skip: !canRun && 'needs root and netavark' }, async (t) => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-nvtest-'));
  const runDir = path.join(tmp, 'run');
  const svc = new NetworkService({
    root: path.join(tmp, 'store'), runDir, defaultBridge: 'bnt0', defaultSubnet: '10.251.0.0/24',
    pools: [{ base: '10.252.0.0/16', size: 24 }], bridgePrefix: 'bnt', netnsPrefix: 'bnt-',
  });
  const web = newId();
  const client = newId();
  const plain = newId();
  let httpd: ChildProcess | undefined;
  let netId = '';
  const timings: Record<string, number[]> = {};
  try {
    await svc.ensureDefault();
    netId = (await svc.create({ Name: 'bnt-net', Driver: 'bridge' })).Id;
    const net = svc.inspect('bnt-net');
    const subnet = net.IPAM.Config[0].Subnet;
    const gateway = net.IPAM.Config[0].Gateway;
    assert.match(subnet, /^10\.252\.\d+\.0\/24$/);
    const before = hostIfindexes();

    const webNs = await svc.createNamespace(web);
    const clientNs = await svc.createNamespace(client);
    const webInfo = await svc.attachContainer(web, 'web', webNs, { network: 'bnt-net', exposedPorts: { '8080/tcp': {} }, ports: publish({ '8080/tcp': {} }, { '8080/tcp': [{ HostIp: '', HostPort: '' }] }) });
    const clientInfo = await svc.attachContainer(client, 'client', clientNs, { network: 'bnt-net' });
    assert.notEqual(webInfo.ip, clientInfo.ip);
    const hostPort = webInfo.ports[0].hostPort;
    assert.ok(hostPort > 0);
    assert.deepEqual(Object.keys(svc.inspect(netId).Containers).sort(), [client, web].sort());
    const peers = [path.basename(webNs), path.basename(clientNs)].map(hostPeerIndex);

    const www = path.join(tmp, 'www');
    fs.mkdirSync(www);
    fs.writeFileSync(path.join(www, 'index.html'), `hello ${web}\n`);
    httpd = spawn('ip', ['netns', 'exec', path.basename(webNs), 'busybox', 'httpd', '-f', '-p', '8080', '-h', www], { stdio: 'ignore' });
    await waitFor('httpd in the netns', () => get(`http://${webInfo.ip}:8080/index.html`));

    assert.equal(await get(`http://${webInfo.ip}:8080/index.html`), `hello ${web}\n`);
    assert.equal(await get(`http://127.0.0.1:${hostPort}/index.html`), `hello ${web}\n`);
    const bridgeName = (JSON.parse(sh('ip', ['-j', 'route', 'show', subnet])) as { dev: string }[])[0].dev;
    assert.match(bridgeName, /^bnt-[0-9a-f]+$/);
    assert.equal(fs.readFileSync(`/proc/sys/net/ipv4/conf/${bridgeName}/route_localnet`, 'utf8').trim(), '1');

    const lookup = sh('ip', ['netns', 'exec', path.basename(clientNs), 'busybox', 'nslookup', '-type=a', 'web', gateway]);
    assert.match(lookup, new RegExp(`Address:\\s*${webInfo.ip!.replace(/\./g, '\\.')}\\b`));
    assert.match(svc.resolvConf(client), new RegExp(`^nameserver ${gateway}$`, 'm'));
    assert.match(svc.hostsFile(web, 'abc123'), new RegExp(`^${webInfo.ip}\\tabc123$`, 'm'));
    assert.deepEqual(svc.networkSettings(web)?.Ports, { '8080/tcp': [{ HostIp: '0.0.0.0', HostPort: String(hostPort) }] });

    // default bridge: reachable from the host, no DNS (docker: no name resolution on the default bridge)
    const plainNs = await svc.createNamespace(plain);
    const plainInfo = await svc.attachContainer(plain, 'plain', plainNs, { network: 'default' });
    assert.match(plainInfo.ip!, /^10\.251\.0\.\d+$/);
    sh('busybox', ['ping', '-c', '1', '-W', '2', plainInfo.ip!]);
    assert.equal(fs.readdirSync(path.join(runDir, 'aardvark-dns')).filter((f) => f !== 'aardvark.pid').length, 1, 'only the user network has DNS');
    await svc.detachContainer(plain);

    // timings: attach/detach of a third container while the network is up, then of the only container
    const measure = async (label: string): Promise<void> => {
      for (let i = 0; i < 10; i++) {
        const id = newId();
        let t0 = performance.now();
        const ns = await svc.createNamespace(id);
        (timings['netns create (ip netns add + lo up)'] ??= []).push(performance.now() - t0);
        t0 = performance.now();
        await svc.attachContainer(id, `m${i}`, ns, { network: 'bnt-net', exposedPorts: { '80/tcp': {} }, ports: publish({ '80/tcp': {} }, { '80/tcp': [{ HostIp: '', HostPort: '' }] }) });
        (timings[`${label} setup`] ??= []).push(performance.now() - t0);
        t0 = performance.now();
        await svc.detachContainer(id);
        (timings[`${label} teardown+netns del`] ??= []).push(performance.now() - t0);
      }
    };
    await measure('busy network');

    httpd.kill();
    await svc.detachContainer(web);
    await svc.detachContainer(client);
    await svc.detachContainer(client); // idempotent
    await measure('empty network');

    // an idle network keeps its bridge (with only the keeper on it) until the network itself goes
    assert.ok(fs.existsSync(`/sys/class/net/${bridgeName}`), 'bridge kept while the network exists');
    assert.deepEqual(fs.readdirSync(`/sys/class/net/${bridgeName}/brif`), [`${bridgeName.slice(0, 13)}k`]);
    const removedId = netId;
    await svc.remove(netId);
    netId = '';

    // nothing left behind
    assert.ok(!fs.existsSync(`/sys/class/net/${bridgeName}`), 'bridge removed');
    const after = hostIfindexes();
    for (const p of peers) assert.ok(!after.has(p) || before.has(p), `host veth ${p} removed`);
    const rules = sh('iptables-save', []);
    for (const needle of [removedId, subnet.replace(/0\/24$/, ''), web, client]) assert.equal(rules.split('\n').filter((l) => l.includes(needle)).length, 0, `iptables rules mentioning ${needle}`);
    await waitFor('aardvark-dns to exit', () => aardvarks(runDir).length === 0, 3000);
    assert.deepEqual(sh('ip', ['-j', 'netns', 'list']).includes(`bnt-${web.slice(0, 12)}`), false);
  } finally {
    httpd?.kill();
    await svc.reconcile([]).catch((e: Error) => t.diagnostic(`reconcile: ${e.message}`));
    if (netId) await svc.remove(netId).catch(() => undefined);
    for (const pid of aardvarks(runDir)) process.kill(pid, 'SIGTERM');
    fs.rmSync(tmp, { recursive: true, force: true });
    for (const [k, v] of Object.entries(timings)) t.diagnostic(`${k}: median ${median(v).toFixed(1)} ms (min ${Math.min(...v).toFixed(1)}, max ${Math.max(...v).toFixed(1)}, n=${v.length})`);
  }
});

test('netavark: reconcile after a crash cleans endpoints whose netns vanished', { skip: !canRun && 'needs root and netavark' }, async () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-nvtest-'));
  const cfg = {
    root: path.join(tmp, 'store'), runDir: path.join(tmp, 'run'), defaultBridge: 'bnc0', defaultSubnet: '10.253.0.0/24',
    pools: [{ base: '10.254.0.0/16', size: 24 }], bridgePrefix: 'bnc', netnsPrefix: 'bnc-',
  };
  const id = newId();
  let svc = new NetworkService(cfg);
  try {
    await svc.ensureDefault();
    const { Id } = await svc.create({ Name: 'bnc-net' });
    const subnet = svc.inspect(Id).IPAM.Config[0].Subnet;
    const ns = await svc.createNamespace(id);
    await svc.attachContainer(id, 'gone', ns, { network: 'bnc-net', ports: publish(null, { '80/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }] }) });
    const bridgeName = (JSON.parse(sh('ip', ['-j', 'route', 'show', subnet])) as { dev: string }[])[0].dev;
    sh('ip', ['netns', 'del', path.basename(ns)]); // the "crash": container and its netns are gone, records remain
    svc = new NetworkService(cfg); // a restarted daemon
    await svc.reconcile([]);
    assert.ok(!fs.existsSync(`/sys/class/net/${bridgeName}`), 'bridge removed');
    const rules = sh('iptables-save', []).split('\n');
    for (const needle of [Id, id, subnet.replace(/0\/24$/, '')]) assert.equal(rules.filter((l) => l.includes(needle)).length, 0, `rules mentioning ${needle}`);
    assert.deepEqual(svc.inspect(Id).Containers, {});
    await waitFor('aardvark-dns to exit', () => aardvarks(cfg.runDir).length === 0, 3000);
  } finally {
    await svc.reconcile([]).catch(() => undefined);
    for (const pid of aardvarks(cfg.runDir)) process.kill(pid, 'SIGTERM');
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});
