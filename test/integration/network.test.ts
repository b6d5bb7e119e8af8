/** Real kernel networking: default bridge with NAT, published ports on localhost, user networks with DNS, isolation. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as dgram from 'node:dgram';
import * as fs from 'node:fs';
import * as http from 'node:http';
import { TestDaemon } from '../helpers/daemon';

const d = new TestDaemon('network');
const www = fs.mkdtempSync('/var/tmp/berth-www-');

before(async () => {
  await d.start();
  d.importBusybox();
  fs.writeFileSync(`${www}/index.html`, 'hello from berth\n');
});
after(async () => {
  await d.stop();
  fs.rmSync(www, { recursive: true, force: true });
  // A berthd stopped with nothing running leaves no bridge, veth or iptables rule of its networks.
  assert.doesNotMatch(execFileSync('ip', ['-o', 'link']).toString(), new RegExp(d.bridge));
  const rules = execFileSync('iptables-save').toString();
  assert.doesNotMatch(rules, new RegExp(d.subnet.replace(/\./g, '\\.').replace('/24', '')));
  assert.doesNotMatch(rules, new RegExp(`\\b${d.bridge}\\b`), 'no isolation or forward rule names the bridge');
});

/** GET from the host, retrying briefly while httpd starts. */
async function get(url: string): Promise<string> {
  for (let i = 0; ; i++) {
    try {
      return await new Promise((resolve, reject) => {
        http.get(url, { timeout: 2000 }, (res) => {
          let body = '';
          res.on('data', (c) => (body += c));
          res.on('end', () => resolve(body));
        }).on('error', reject);
      });
    } catch (e) {
      if (i > 20) throw e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

const freePort = (): number => 20000 + Math.floor(Math.random() * 20000);

describe('networking', () => {
  it('publishes a port on localhost and gives the container an address on the default bridge', async () => {
    const port = freePort();
    const r = d.berth(['run', '-d', '--name', 'web', '-p', `${port}:8080`, '-v', `${www}:/www:ro`, 'busybox', 'httpd', '-f', '-p', '8080', '-h', '/www']);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(await get(`http://localhost:${port}/`), 'hello from berth\n');
    assert.equal(await get(`http://127.0.0.1:${port}/`), 'hello from berth\n');
    const ip = d.berth(['inspect', '-f', '{{.NetworkSettings.IPAddress}}', 'web']).stdout.trim();
    assert.ok(ip.startsWith(d.subnet.split('.').slice(0, 3).join('.') + '.'), ip);
    assert.equal(await get(`http://${ip}:8080/`), 'hello from berth\n');
    assert.equal(d.berth(['port', 'web']).stdout, `8080/tcp -> 0.0.0.0:${port}\n`);
    assert.match(d.docker(['ps']).stdout, new RegExp(`0\\.0\\.0\\.0:${port}->8080/tcp`));
    // the host's edit shows at once through the bind mount
    fs.writeFileSync(`${www}/index.html`, 'edited on the host\n');
    assert.equal(await get(`http://localhost:${port}/`), 'edited on the host\n');
    // another container reaches it through the host's published port
    const hostIp = ip.replace(/\.\d+$/, '.1');
    const other = d.berth(['run', '--rm', 'busybox', 'wget', '-q', '-O-', `http://${hostIp}:${port}/`]);
    assert.equal(other.stdout, 'edited on the host\n', other.stderr);
    d.berth(['rm', '-f', 'web']);
  });

  it('resolves container names on a user network and isolates networks', () => {
    assert.equal(d.berth(['network', 'create', 'appnet']).status, 0);
    assert.equal(d.berth(['network', 'create', 'othernet']).status, 0);
    d.berth(['run', '-d', '--name', 'db', '--network', 'appnet', '--network-alias', 'database', 'busybox', 'httpd', '-f', '-p', '5432', '-h', '/etc']);
    const byName = d.berth(['run', '--rm', '--network', 'appnet', 'busybox', 'wget', '-q', '-O-', 'http://db:5432/hostname']);
    assert.match(byName.stdout, /^[0-9a-f]{12}\n$/, byName.stderr);
    const byAlias = d.berth(['run', '--rm', '--network', 'appnet', 'busybox', 'nslookup', 'database']);
    assert.match(byAlias.stdout, /Address: \d+\.\d+\.\d+\.\d+/);
    const isolated = d.berth(['run', '--rm', '--network', 'othernet', 'busybox', 'nslookup', 'db']);
    assert.notEqual(isolated.status, 0, 'a name on another network must not resolve');
    const dbIp = d.berth(['inspect', '-f', '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}', 'db']).stdout.trim();
    const ping = d.berth(['run', '--rm', '--network', 'othernet', 'busybox', 'ping', '-c1', '-W1', dbIp]);
    assert.notEqual(ping.status, 0, 'two user networks are isolated');
    assert.equal(d.berth(['network', 'rm', 'appnet']).status, 1, 'a network with containers cannot be removed');
    d.berth(['rm', '-f', 'db']);
    assert.equal(d.berth(['network', 'rm', 'appnet', 'othernet']).status, 0);
  });

  it('connects a running container to a second network and disconnects it (berth and docker CLI)', () => {
    const since = Math.floor(Date.now() / 1000) - 1;
    for (const n of ['neta', 'netb']) assert.equal(d.berth(['network', 'create', n]).status, 0);
    const names = ['hub', 'peera', 'peerb', 'cold'];
    const exec = (...cmd: string[]) => d.berth(['exec', 'hub', ...cmd]);
    const ifaces = () => exec('ls', '/sys/class/net').stdout.split('\n').filter(Boolean).join(' ');
    const bridges = ['neta', 'netb'].map((n) => `${d.bridge}-${d.berth(['network', 'inspect', '-f', '{{.Id}}', n]).stdout.trim()}`.slice(0, 15));
    try {
      for (const [name, net] of [['hub', 'neta'], ['peera', 'neta'], ['peerb', 'netb']]) {
        assert.equal(d.berth(['run', '-d', '--name', name, '--network', net, 'busybox', 'sleep', '300']).status, 0);
      }
      assert.notEqual(exec('nslookup', 'peerb').status, 0, 'not on netb yet');
      let r = d.berth(['network', 'connect', 'netb', 'hub']);
      assert.equal(r.status, 0, r.stderr);
      r = d.berth(['network', 'connect', 'netb', 'hub']);
      assert.equal(r.status, 1);
      assert.match(r.stderr, /endpoint with name hub already exists in network netb/);
      assert.equal(ifaces(), 'eth0 eth1 lo');
      r = exec('ping', '-c1', '-W2', 'peerb');
      assert.equal(r.status, 0, r.stdout + r.stderr);
      assert.equal(exec('nslookup', 'peera').status, 0, 'names on both networks resolve');
      assert.equal(exec('grep', '-c', `\t${exec('hostname').stdout.trim()}$`, '/etc/hosts').stdout, '2\n', 'one hosts line per address');
      assert.equal(d.berth(['inspect', '-f', '{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}', 'hub']).stdout, 'neta netb \n');
      const hubId = d.berth(['inspect', '-f', '{{.Id}}', 'hub']).stdout.trim();
      assert.match(d.berth(['network', 'inspect', '-f', '{{json .Containers}}', 'netb']).stdout, new RegExp(hubId));
      assert.equal(d.berth(['network', 'rm', 'netb']).status, 1, 'a connected network cannot be removed');

      r = d.berth(['network', 'disconnect', 'neta', 'hub']);
      assert.equal(r.status, 0, r.stderr);
      assert.equal(ifaces(), 'eth1 lo');
      assert.notEqual(exec('nslookup', 'peera').status, 0, 'a name on the left network no longer resolves');
      assert.equal(exec('ping', '-c1', '-W2', 'peerb').status, 0, 'the other network still resolves and answers');
      r = d.berth(['network', 'disconnect', 'neta', 'hub']);
      assert.equal(r.status, 1);
      assert.match(r.stderr, new RegExp(`container ${hubId} is not connected to network neta`));

      // the docker CLI's bodies; the last disconnect leaves loopback only
      assert.equal(d.docker(['network', 'connect', '--alias', 'center', 'neta', 'hub']).status, 0);
      assert.equal(ifaces(), 'eth0 eth1 lo');
      assert.match(d.berth(['exec', 'peera', 'nslookup', 'center']).stdout, /Address: \d+\.\d+\.\d+\.\d+/);
      assert.equal(d.docker(['network', 'disconnect', 'netb', 'hub']).status, 0);
      assert.equal(d.docker(['network', 'disconnect', 'neta', 'hub']).status, 0);
      assert.equal(ifaces(), 'lo');

      // a stopped container records the connect and joins both networks at start
      assert.equal(d.docker(['create', '--name', 'cold', '--network', 'neta', 'busybox', 'ls', '/sys/class/net']).status, 0);
      assert.equal(d.docker(['network', 'connect', 'netb', 'cold']).status, 0);
      assert.equal(d.docker(['start', '-a', 'cold']).stdout, 'eth0\neth1\nlo\n');

      const ev = d.docker(['events', '--since', String(since), '--until', String(Math.ceil(Date.now() / 1000) + 1), '--filter', 'type=network',
        '--format', '{{.Action}} {{.Actor.Attributes.name}} {{.Actor.Attributes.container}}']).stdout;
      assert.match(ev, new RegExp(`^connect netb ${hubId}$`, 'm'));
      assert.match(ev, new RegExp(`^disconnect neta ${hubId}$`, 'm'));
    } finally {
      d.berth(['rm', '-f', ...names]);
    }
    // nothing of the endpoints stays: no veth but the keepers, no netns
    const links = execFileSync('ip', ['-o', 'link']).toString().split('\n').filter((l) => bridges.some((b) => l.includes(`master ${b} `)));
    assert.deepEqual(links.map((l) => l.split(': ')[1].split('@')[0]).sort(), bridges.map((b) => `${b.slice(0, 13)}k`).sort());
    assert.doesNotMatch(execFileSync('ip', ['netns', 'list']).toString(), new RegExp(`${d.bridge}-`));
    assert.equal(d.berth(['network', 'rm', 'neta', 'netb']).status, 0);
  });

  it('refuses a published port a host process holds, naming the holder', async () => {
    const port = freePort();
    const server = http.createServer().listen(port, '0.0.0.0');
    await new Promise((r) => server.once('listening', r));
    try {
      const r = d.berth(['run', '--rm', '-p', `${port}:80`, 'busybox', 'true']);
      assert.notEqual(r.status, 0);
      assert.match(r.stderr, new RegExp(`0\\.0\\.0\\.0:${port}: bind: address already in use \\(held by [^ ]+ \\(pid ${process.pid}\\)\\)`));
    } finally {
      server.close();
    }
  });

  it('holds a published port while the container runs, as docker\'s proxy does; a restarted daemon holds it again', async () => {
    const port = freePort();
    const udp = freePort();
    const bindable = (p: number, proto: 'tcp' | 'udp'): Promise<boolean> => new Promise((resolve) => {
      const s = proto === 'tcp' ? http.createServer() : dgram.createSocket('udp4');
      s.once('error', () => resolve(false));
      const ok = () => s.close(() => resolve(true));
      if (s instanceof http.Server) s.listen(p, '127.0.0.1', ok);
      else s.bind(p, '127.0.0.1', ok);
    });
    const r = d.berth(['run', '-d', '--name', 'holder', '-p', `${port}:80`, '-p', `${udp}:53/udp`, 'busybox', 'sleep', '300']);
    assert.equal(r.status, 0, r.stderr);
    try {
      assert.equal(await bindable(port, 'tcp'), false, 'the tcp port is held');
      assert.equal(await bindable(udp, 'udp'), false, 'the udp port is held');
      await d.crash(); // the container keeps running under conmon
      assert.equal(await bindable(port, 'tcp'), true, 'nothing holds it while no daemon runs');
      await d.start();
      assert.equal(await bindable(port, 'tcp'), false, 'held again after the daemon restarted');
    } finally {
      d.berth(['rm', '-f', 'holder']);
    }
    assert.equal(await bindable(port, 'tcp'), true, 'released with the container');
    assert.equal(await bindable(udp, 'udp'), true);
  });

  it('--network none has only loopback; --network host shares the host stack', () => {
    assert.equal(d.berth(['run', '--rm', '--network', 'none', 'busybox', 'ls', '/sys/class/net']).stdout, 'lo\n');
    // Other tests add and remove interfaces meanwhile: the container must see every interface the host had both
    // before and after its run.
    // (an interface is the same one when its name and ifindex did not change: veth names are reused)
    const ifindex = (i: string): string | undefined => {
      try {
        return fs.readFileSync(`/sys/class/net/${i}/ifindex`, 'utf8');
      } catch {
        return undefined; // gone since the listing
      }
    };
    const ifaces = () => new Map(fs.readdirSync('/sys/class/net').map((i) => [i, ifindex(i)] as const));
    const before = ifaces();
    const seen = d.berth(['run', '--rm', '--network', 'host', 'busybox', 'ls', '/sys/class/net']).stdout.split('\n').filter(Boolean);
    const afterIfs = ifaces();
    for (const [i, idx] of before) if (idx !== undefined && afterIfs.get(i) === idx) assert.ok(seen.includes(i), `host interface ${i} missing in the container`);
    // and it is the host's stack itself (an interface list can show one another test made and removed meanwhile)
    const inside = d.berth(['run', '--rm', '--network', 'host', 'busybox', 'readlink', '/proc/self/ns/net']);
    assert.equal(inside.stdout.trim(), fs.readlinkSync('/proc/self/ns/net'), inside.stderr);
  });

  it('--add-host entries go into /etc/hosts (host-gateway: the default bridge\'s gateway), on a bridge and on the host network', () => {
    for (const net of ['bridge', 'host']) {
      const r = d.berth(['run', '--rm', '--network', net, '--add-host', 'db:10.1.2.3', '--add-host', 'v6:[fd00::9]', '--add-host', 'gw:host-gateway', 'busybox', 'cat', '/etc/hosts']);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /^10\.1\.2\.3\tdb\nfd00::9\tv6$/m, net);
      // host-gateway is the default bridge's gateway (dockerd's default --host-gateway-ip)
      const gateway = d.berth(['network', 'inspect', '-f', '{{(index .IPAM.Config 0).Gateway}}', 'bridge']).stdout.trim();
      assert.match(r.stdout, new RegExp(`^${gateway.replaceAll('.', '\\.')}\tgw$`, 'm'), net);
    }
  });

  it('leaves no container veth or netns behind once its containers are gone', () => {
    const links = execFileSync('ip', ['-o', 'link']).toString().split('\n').filter((l) => l.includes(`master ${d.bridge} `));
    assert.deepEqual(links.map((l) => l.split(': ')[1].split('@')[0]), [`${d.bridge.slice(0, 13)}k`], 'only the keeper stays on the bridge');
    const netns = execFileSync('ip', ['netns', 'list']).toString();
    assert.doesNotMatch(netns, new RegExp(`${d.bridge}-`));
  });
});
