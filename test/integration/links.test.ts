/**
 * Legacy container links (--link, HostConfig.Links) as Docker keeps them, through the docker CLI and dockerode: the
 * ALIAS_* variables and /etc/hosts entries on the default bridge, the stored form inspect shows, the link's name in
 * the child's list Names, `docker rm --link`, and the refusals. Also passes against Docker
 * (`BERTH_COMPAT_DOCKER_HOST=unix:///…`, see test/helpers/engine.ts).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fileEngine, TEST_LABEL } from '../helpers/engine';
import type { RunResult } from '../helpers/daemon';

const { e, docker } = fileEngine('links', () => {
  for (const n of networks) e.docker(['network', 'rm', n]);
});
const networks: string[] = [];


let seq = 0;
const uniq = (what: string): string => `links-${what}-${process.pid}-${++seq}`;

function ok(r: RunResult, what: string): string {
  assert.equal(r.status, 0, `${what}: ${r.stderr}`);
  return r.stdout.trim();
}

/** A running child with variables and exposed ports (a range, the same number over tcp and udp). */
function child(extra: string[] = []): string {
  const name = uniq('child');
  ok(e.docker(['run', '-d', '--label', TEST_LABEL, '--name', name, '-e', 'FOO=bar', '-e', 'HOME=/x', '-e', 'MULTI=a=b',
    '--expose', '8000-8002', '--expose', '80', '--expose', '80/udp', ...extra, 'busybox', 'sleep', '300']), `run ${name}`);
  return name;
}

const ipOf = (name: string): string => ok(e.docker(['inspect', '-f', '{{.NetworkSettings.Networks.bridge.IPAddress}}', name]), 'inspect ip');

describe('legacy links on the default bridge', () => {
  it('set ALIAS_NAME, ALIAS_PORT*, ALIAS_ENV_* (not HOME, PATH) and an /etc/hosts line (docker run --link)', () => {
    const db = child();
    const ip = ipOf(db);
    const me = uniq('parent');
    const out = ok(e.docker(['run', '--rm', '--label', TEST_LABEL, '--name', me, '--link', `${db}:my-db`, 'busybox', 'sh', '-c', 'env; echo ---; cat /etc/hosts']), 'run --link');
    const [envText, hosts] = out.split('---\n');
    const env = new Set(envText.trim().split('\n'));
    const want = [
      `MY_DB_NAME=/${me}/my-db`, `MY_DB_PORT=tcp://${ip}:80`,
      `MY_DB_PORT_80_TCP=tcp://${ip}:80`, `MY_DB_PORT_80_TCP_ADDR=${ip}`, 'MY_DB_PORT_80_TCP_PORT=80', 'MY_DB_PORT_80_TCP_PROTO=tcp',
      `MY_DB_PORT_80_UDP=udp://${ip}:80`, 'MY_DB_PORT_80_UDP_PROTO=udp',
      `MY_DB_PORT_8000_TCP_START=tcp://${ip}:8000`, 'MY_DB_PORT_8000_TCP_PORT_START=8000',
      `MY_DB_PORT_8000_TCP_END=tcp://${ip}:8002`, 'MY_DB_PORT_8000_TCP_PORT_END=8002', `MY_DB_PORT_8001_TCP=tcp://${ip}:8001`,
      'MY_DB_ENV_FOO=bar', 'MY_DB_ENV_MULTI=a=b',
    ];
    for (const w of want) assert.ok(env.has(w), `${w} missing in:\n${envText}`);
    assert.ok(![...env].some((v) => v.startsWith('MY_DB_ENV_HOME=') || v.startsWith('MY_DB_ENV_PATH=')), envText);
    const hostname = ok(e.docker(['inspect', '-f', '{{.Config.Hostname}}', db]), 'hostname');
    assert.match(hosts, new RegExp(`^${ip.replace(/\./g, '\\.')}\tmy-db ${hostname} ${db}$`, 'm'));
  });

  it('a link without alias uses the name; inspect shows "/child:/parent/alias"; the child lists the link name', async () => {
    const db = child();
    const me = uniq('parent');
    ok(e.docker(['run', '-d', '--label', TEST_LABEL, '--name', me, '--link', db, 'busybox', 'sleep', '300']), 'run');
    assert.equal(ok(e.docker(['inspect', '-f', '{{json .HostConfig.Links}}', me]), 'inspect'), JSON.stringify([`/${db}:/${me}/${db}`]));
    const env = ok(e.docker(['exec', me, 'env']), 'exec env');
    assert.ok(env.includes(`${db.toUpperCase().replace(/-/g, '_')}_NAME=/${me}/${db}`), env);
    const listed = await docker.listContainers({ all: true, filters: { name: [db] } });
    const names = listed.find((c) => c.Names.includes(`/${db}`))?.Names;
    assert.deepEqual(names, [`/${db}`, `/${me}/${db}`].sort());
  });

  it('docker rm --link drops the link, not a container; a container name or an unknown link is refused', async () => {
    const db = child();
    const me = uniq('parent');
    ok(e.docker(['run', '-d', '--label', TEST_LABEL, '--name', me, '--link', `${db}:db`, 'busybox', 'sleep', '300']), 'run');
    const plain = e.docker(['rm', '--link', me]);
    assert.notEqual(plain.status, 0);
    assert.match(plain.stderr, /Conflict, cannot remove the default link name of the container/);
    const unknown = e.docker(['rm', '--link', `/${me}/nope`]);
    assert.notEqual(unknown.status, 0);
    assert.match(unknown.stderr, new RegExp(`No such container: ${me}/nope`));
    assert.equal(ok(e.docker(['rm', '--link', `/${me}/db`]), 'rm --link'), `/${me}/db`);
    assert.equal(ok(e.docker(['inspect', '-f', '{{json .HostConfig.Links}}', me]), 'inspect'), 'null');
    const listed = await docker.listContainers({ all: true, filters: { name: [db] } });
    assert.deepEqual(listed.find((c) => c.Names.includes(`/${db}`))?.Names, [`/${db}`]);
    assert.equal(ok(e.docker(['inspect', '-f', '{{.State.Running}}', me, db]), 'both still there'), 'true\ntrue');
  });

  it('start refuses a stopped child and a child not on the default network, with Docker\'s words', () => {
    const db = child();
    const me = uniq('parent');
    ok(e.docker(['create', '--label', TEST_LABEL, '--name', me, '--link', `${db}:db`, 'busybox', 'true']), 'create');
    ok(e.docker(['stop', '-t', '0', db]), 'stop');
    const r = e.docker(['start', me]);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, new RegExp(`Cannot link to a non running container: /${db} AS /${me}/db`));

    const net = uniq('net');
    ok(e.docker(['network', 'create', '--label', TEST_LABEL, net]), 'network create');
    networks.push(net);
    const other = child(['--network', net]);
    const r2 = e.docker(['run', '--rm', '--label', TEST_LABEL, '--link', `${other}:db`, 'busybox', 'true']);
    assert.notEqual(r2.status, 0);
    assert.match(r2.stderr, new RegExp(`Cannot link to /${other}, as it does not belong to the default network`));
  });

  it('create refuses an unknown child with 400 (dockerode) and a host-network parent', async () => {
    await assert.rejects(
      docker.createContainer({ Image: 'busybox', Labels: { 'berth.test': 'compat' }, HostConfig: { Links: ['links-nosuch:x'] } }),
      (err: { statusCode?: number; message: string }) => err.statusCode === 400 && /could not get container for links-nosuch/.test(err.message),
    );
    const db = child();
    const r = e.docker(['create', '--label', TEST_LABEL, '--network', 'host', '--link', db, 'busybox', 'true']);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /conflicting options: host type networking can't be used with links/);
  });
});

describe('links on a user-defined network', () => {
  it('make the alias a name the linking container resolves, without variables', () => {
    const net = uniq('net');
    ok(e.docker(['network', 'create', '--label', TEST_LABEL, net]), 'network create');
    networks.push(net);
    const db = child(['--network', net]);
    const ip = ok(e.docker(['inspect', '-f', `{{(index .NetworkSettings.Networks "${net}").IPAddress}}`, db]), 'ip');
    const out = ok(e.docker(['run', '--rm', '--label', TEST_LABEL, '--network', net, '--link', `${db}:dbalias`, 'busybox', 'sh', '-c', 'env; ping -c1 -W2 dbalias']), 'run');
    assert.ok(!out.includes('DBALIAS_'), out);
    assert.match(out, new RegExp(`PING dbalias \\(${ip.replace(/\./g, '\\.')}\\)`));
  });
});
