/** Real kernel networking: default bridge with NAT, published ports on localhost, user networks with DNS, isolation. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
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
  assert.doesNotMatch(execFileSync('iptables-save').toString(), new RegExp(d.subnet.replace(/\./g, '\\.').replace('/24', '')));
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

  it('--network none has only loopback; --network host shares the host stack', () => {
    assert.equal(d.berth(['run', '--rm', '--network', 'none', 'busybox', 'ls', '/sys/class/net']).stdout, 'lo\n');
    const hostIfs = fs.readdirSync('/sys/class/net').sort().join('\n') + '\n';
    assert.equal(d.berth(['run', '--rm', '--network', 'host', 'busybox', 'ls', '/sys/class/net']).stdout, hostIfs);
  });

  it('leaves no container veth or netns behind once its containers are gone', () => {
    const links = execFileSync('ip', ['-o', 'link']).toString().split('\n').filter((l) => l.includes(`master ${d.bridge} `));
    assert.deepEqual(links.map((l) => l.split(': ')[1].split('@')[0]), [`${d.bridge.slice(0, 13)}k`], 'only the keeper stays on the bridge');
    const netns = execFileSync('ip', ['netns', 'list']).toString();
    assert.doesNotMatch(netns, new RegExp(`${d.bridge}-`));
  });
});
