import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { HostConfig } from '../../src/schema/container';
import { initialState, ContainerStore, type ContainerRecord } from '../../src/engine/containers/record';
import { recordedSpec } from '../../src/engine/containers/normalize';
import { ANONYMOUS_LABEL, VolumeService } from '../../src/engine/volumes';
import { mountPoints, parseVolumesFrom, planMounts, type PlannedMount, type VolumeMount } from '../../src/engine/volume-mounts';
import { parseBind, parseMount } from '../../src/spec/mounts';

function setup(): { root: string; store: ContainerStore; vs: VolumeService; events: string[]; done: () => void } {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-vol-'));
  const store = new ContainerStore(path.join(root, 'containers'));
  const events: string[] = [];
  const vs = new VolumeService(path.join(root, 'volumes'), store, (a, n) => events.push(`${a} ${n}`));
  return { root, store, vs, events, done: () => fs.rmSync(root, { recursive: true, force: true }) };
}

function container(id: string, hc: HostConfig, volumes: Record<string, object> = {}, name = id): ContainerRecord {
  return {
    Id: id, Name: '/' + name, Created: '', Path: 'sh', Args: [], Image: 'sha256:x', State: initialState(), RestartCount: 0, Runtime: 'crun',
    Config: { Hostname: '', Domainname: '', AttachStdin: false, AttachStdout: false, AttachStderr: false, Tty: false, OpenStdin: false, StdinOnce: false, Image: 'img', Volumes: volumes },
    HostConfig: hc, Spec: recordedSpec(hc, { Volumes: volumes }),
  };
}

/** Save a record as the container service does, with its directory and an (empty) rootfs. */
function save(store: ContainerStore, rec: ContainerRecord): void {
  fs.mkdirSync(store.paths(rec.Id).rootfs, { recursive: true });
  store.save(rec);
}

const vol = (planned: PlannedMount[], target: string): VolumeMount => planned.find((m) => m.kind === 'volume' && m.target === target) as VolumeMount;

test('volumes: create, inspect, idempotent create, name and option rules in docker wording', (t) => {
  const { vs, events, done } = setup();
  t.after(done);
  const v = vs.create({ Name: 'data', Labels: { a: 'b' } });
  assert.equal(v.Name, 'data');
  assert.equal(v.Driver, 'local');
  assert.equal(v.Scope, 'local');
  assert.deepEqual(v.Labels, { a: 'b' });
  assert.equal(v.Options, null);
  assert.match(v.CreatedAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  assert.ok(fs.statSync(v.Mountpoint).isDirectory());
  assert.deepEqual(vs.create({ Name: 'data' }), v, 'a second create returns the existing volume');
  assert.deepEqual(vs.inspect('data'), v);
  assert.deepEqual(events, ['create data']);
  assert.match(vs.create({}).Name, /^[0-9a-f]{64}$/);
  assert.throws(() => vs.inspect('nope'), { status: 404, message: 'get nope: no such volume' });
  assert.throws(() => vs.create({ Name: 'a/b' }), { status: 400, message: /^create a\/b: "a\/b" includes invalid characters for a local volume name/ });
  assert.throws(() => vs.create({ Name: 'x' }), { status: 400 });
  assert.throws(() => vs.create({ Name: 'nfs', Driver: 'nfs' }), { status: 404, message: /plugin "nfs" not found/ });
  assert.throws(() => vs.create({ Name: 'o1', DriverOpts: { bogus: '1' } }), { message: 'invalid option: "bogus"' });
  assert.throws(() => vs.create({ Name: 'o2', DriverOpts: { type: 'tmpfs' } }), { message: 'missing required option: "device"' });
  assert.throws(() => vs.create({ Name: 'o3', DriverOpts: { o: 'size=1m', device: 'tmpfs' } }), { message: 'missing required option: "type"' });
  assert.deepEqual(vs.create({ Name: 'tv', DriverOpts: { type: 'tmpfs', device: 'tmpfs', o: 'size=1m' } }).Options, { type: 'tmpfs', device: 'tmpfs', o: 'size=1m' });
});

test('volumes: list filters and in-use rules derived from container records', (t) => {
  const { vs, store, done } = setup();
  t.after(done);
  vs.create({ Name: 'used', Labels: { tier: 'db' } });
  vs.create({ Name: 'free', Labels: { tier: 'web' } });
  const c = container('c1'.padEnd(64, '0'), { Binds: ['used:/data'] });
  save(store, c);
  const names = (f: Record<string, string[]>) => vs.list(f).Volumes.map((v) => v.Name).sort();
  assert.deepEqual(names({}), ['free', 'used']);
  assert.deepEqual(names({ dangling: ['true'] }), ['free']);
  assert.deepEqual(names({ dangling: ['0'] }), ['used']);
  assert.deepEqual(names({ label: ['tier=db'] }), ['used']);
  assert.deepEqual(names({ label: ['tier'] }), ['free', 'used']);
  assert.deepEqual(names({ name: ['fr'] }), ['free']);
  assert.deepEqual(names({ driver: ['other'] }), []);
  assert.throws(() => vs.list({ bogus: ['1'] }), { status: 400, message: "invalid filter 'bogus'" });
  assert.throws(() => vs.list({ dangling: ['maybe'] }), { status: 400, message: "invalid filter 'dangling=maybe'" });
  assert.deepEqual(vs.users('used'), [c.Id]);
  assert.throws(() => vs.remove('used'), { status: 409, message: `remove used: volume is in use - [${c.Id}]` });
  assert.throws(() => vs.remove('gone'), { status: 404, message: 'get gone: no such volume' });
  vs.remove('gone', true);
  vs.remove('free');
  assert.deepEqual(names({}), ['used']);
});

test('volumes: anonymous volumes are made at first use, kept per (container, target), removed with rm -v and by prune', (t) => {
  const { vs, store, done } = setup();
  t.after(done);
  const c = container('c2'.padEnd(64, '0'), { Binds: ['/scratch', 'named:/n'] }, { '/img': {} });
  save(store, c);
  vs.prepareCreate(c.Spec);
  assert.deepEqual(vs.list({}).Volumes.map((v) => v.Name), ['named'], 'named volumes are made at create');
  const planned = vs.mountsOf(c);
  assert.deepEqual(planned.map((m) => m.target), ['/scratch', '/n', '/img']);
  const first = vs.attach(c, vol(planned, '/scratch'));
  vs.attach(c, vol(planned, '/img'));
  const again = vs.mountsOf(c);
  assert.equal(vs.attach(c, vol(again, '/scratch')), first, 'a restart mounts the same anonymous volume');
  const anon = vs.list({}).Volumes.filter((v) => v.Name !== 'named');
  assert.equal(anon.length, 2);
  for (const v of anon) assert.deepEqual(v.Labels, { [ANONYMOUS_LABEL]: '' });
  assert.deepEqual(vs.prune({}), { VolumesDeleted: null, SpaceReclaimed: 0 }, 'in use: nothing to prune');

  store.delete(c.Id);
  vs.containerRemoved(c, true);
  assert.deepEqual(vs.list({}).Volumes.map((v) => v.Name), ['named'], 'rm -v: anonymous volumes go, named stay');

  const d = container('d3'.padEnd(64, '0'), {}, { '/img': {} });
  save(store, d);
  const dv = vs.attach(d, vol(vs.mountsOf(d), '/img'));
  fs.writeFileSync(path.join(dv, 'f'), 'hello');
  store.delete(d.Id);
  vs.containerRemoved(d, false);
  assert.equal(vs.list({ dangling: ['true'] }).Volumes.length, 2, 'rm without -v leaves the anonymous volume dangling');
  const pruned = vs.prune({});
  assert.equal(pruned.VolumesDeleted?.length, 1, 'prune takes anonymous volumes only');
  assert.equal(pruned.SpaceReclaimed, 5);
  assert.throws(() => vs.prune({ dangling: ['true'] }), { status: 400 });
  assert.deepEqual(vs.prune({ all: ['true'], label: ['nope'] }).VolumesDeleted, null);
  assert.deepEqual(vs.prune({ all: ['true'] }).VolumesDeleted, ['named']);
});

test('volumes: copy-up keeps owners, modes, symlinks and xattrs; nocopy and non-empty volumes are left alone', (t) => {
  const { vs, store, done } = setup();
  t.after(done);
  const c = container('e4'.padEnd(64, '0'), { Binds: ['cu:/srv/app', 'nc:/srv/app2:nocopy'] });
  save(store, c);
  const rootfs = store.paths(c.Id).rootfs;
  const app = path.join(rootfs, 'srv/app');
  fs.mkdirSync(path.join(app, 'sub'), { recursive: true });
  fs.writeFileSync(path.join(app, 'sub/file'), 'content');
  fs.chownSync(path.join(app, 'sub/file'), 1001, 1002);
  fs.chmodSync(path.join(app, 'sub/file'), 0o640);
  fs.symlinkSync('sub/file', path.join(app, 'link'));
  fs.chownSync(app, 1000, 1000);
  fs.chmodSync(app, 0o750);
  const xattr = spawnSync('setfattr', ['-n', 'user.note', '-v', 'kept', path.join(app, 'sub/file')]).status === 0;
  fs.cpSync(app, path.join(rootfs, 'srv/app2'), { recursive: true, verbatimSymlinks: true });

  const planned = vs.mountsOf(c);
  const data = vs.attach(c, vol(planned, '/srv/app'));
  const st = fs.statSync(data);
  assert.deepEqual([st.uid, st.gid, st.mode & 0o7777], [1000, 1000, 0o750], 'the volume root takes the directory owner and mode');
  const f = fs.statSync(path.join(data, 'sub/file'));
  assert.deepEqual([f.uid, f.gid, f.mode & 0o7777], [1001, 1002, 0o640]);
  assert.equal(fs.readlinkSync(path.join(data, 'link')), 'sub/file');
  if (xattr) assert.match(spawnSync('getfattr', ['-n', 'user.note', path.join(data, 'sub/file')]).stdout.toString(), /user.note="kept"/);

  fs.writeFileSync(path.join(app, 'new'), 'x');
  vs.attach(c, vol(planned, '/srv/app'));
  assert.ok(!fs.existsSync(path.join(data, 'new')), 'a volume with content is not copied into again');
  assert.deepEqual(fs.readdirSync(vs.attach(c, vol(planned, '/srv/app2'))), [], 'nocopy');
});

test('volume mounts: docker precedence, --volumes-from modes, inspect Mounts view', () => {
  const a = container('a'.repeat(64), { Binds: ['/host:/h:ro', 'shared:/s', '/anon'], Tmpfs: { '/run': '' } }, { '/img': {} }, 'src');
  const b = container('b'.repeat(64), { Binds: ['/other:/s'], VolumesFrom: ['src:ro'], Mounts: [{ Type: 'tmpfs', Target: '/t' }] }, { '/h': {} });
  const look = { container: (r: string) => [a, b].find((c) => c.Id === r || c.Name === '/' + r), anonymous: (o: string, tg: string) => (o === a.Id && tg === '/anon' ? 'anon1' : undefined) };
  const pa = planMounts(a, look);
  assert.deepEqual(pa.map((m) => [m.kind, m.target]), [['bind', '/h'], ['volume', '/s'], ['volume', '/anon'], ['tmpfs', '/run'], ['volume', '/img']]);
  const pb = planMounts(b, look);
  // own mounts first, then src's (not its tmpfs, not where b has its own), then b's image volumes on free targets
  assert.deepEqual(pb.map((m) => [m.kind, m.target, 'readOnly' in m ? m.readOnly : undefined]), [
    ['bind', '/s', false], ['tmpfs', '/t', undefined], ['bind', '/h', true], ['volume', '/anon', true], ['volume', '/img', true],
  ]);
  assert.equal(vol(pb, '/anon').name, 'anon1');
  assert.equal(vol(pb, '/img').owner, a.Id, "src's anonymous volume, owned by src");
  assert.equal(vol(pb, '/img').noCopy, true);
  assert.throws(() => planMounts(container('c'.repeat(64), { VolumesFrom: ['nope'] }), look), { message: 'No such container: nope' });
  assert.deepEqual(mountPoints(pa, (n) => `/v/${n}/_data`), [
    { Type: 'bind', Source: '/host', Destination: '/h', Mode: 'ro', RW: false, Propagation: 'rprivate' },
    { Type: 'volume', Name: 'shared', Source: '/v/shared/_data', Destination: '/s', Driver: 'local', Mode: 'z', RW: true, Propagation: '' },
    { Type: 'volume', Name: 'anon1', Source: '/v/anon1/_data', Destination: '/anon', Driver: 'local', Mode: '', RW: true, Propagation: '' },
    { Type: 'volume', Name: '', Source: '', Destination: '/img', Driver: 'local', Mode: '', RW: true, Propagation: '' },
  ]);
  assert.equal(mountPoints(pb, () => '').filter((m) => m.Type === 'tmpfs').length, 1, '--mount type=tmpfs is listed, --tmpfs is not');
});

test('volume mounts: --volumes-from modes, nocopy from -v and --mount', () => {
  assert.deepEqual(parseVolumesFrom('db'), { ref: 'db', readOnly: false });
  assert.deepEqual(parseVolumesFrom('db:ro'), { ref: 'db', readOnly: true });
  assert.throws(() => parseVolumesFrom('db:nocopy'), { message: 'invalid mode: nocopy' });
  assert.throws(() => parseVolumesFrom(''), { message: 'volumes-from specification cannot be an empty string' });
  assert.equal((parseBind('v1:/d:nocopy') as VolumeMount).noCopy, true);
  assert.equal((parseMount({ Type: 'volume', Source: 'v1', Target: '/d', VolumeOptions: { NoCopy: true } }, () => true) as VolumeMount).noCopy, true);
});

test('volumes: records survive a restart; crash leftovers (no record, temp files) are cleaned at start', (t) => {
  const { root, store, vs, done } = setup();
  t.after(done);
  vs.create({ Name: 'kept', Labels: { a: '1' } });
  fs.mkdirSync(path.join(root, 'volumes/halfmade/_data'), { recursive: true });
  fs.writeFileSync(path.join(root, 'volumes/kept/volume.json.tmp-1-x'), '{');
  fs.writeFileSync(path.join(root, 'volumes/stray-file'), '');
  const again = new VolumeService(path.join(root, 'volumes'), store);
  assert.deepEqual(again.list({}).Volumes.map((v) => [v.Name, v.Labels]), [['kept', { a: '1' }]]);
  assert.ok(!fs.existsSync(path.join(root, 'volumes/halfmade')));
  assert.deepEqual(fs.readdirSync(path.join(root, 'volumes/kept')).sort(), ['_data', 'volume.json']);
});
