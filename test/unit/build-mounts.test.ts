import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { parseOutputSpec, parseSecretSpec, parseSshSpec } from '../../src/build/buildflags';
import { csvFields, parseRunMount, parseRunMounts } from '../../src/build/mounts';
import { checkGitRemote, isGitURL, parseGitSource } from '../../src/build/gitsource';
import { parseDockerfile } from '../../src/build/parser';

test('mounts: csv fields as Go encoding/csv', () => {
  assert.deepEqual(csvFields('a=1,b=2'), ['a=1', 'b=2']);
  assert.deepEqual(csvFields('"target=/a,b",ro'), ['target=/a,b', 'ro']);
  assert.deepEqual(csvFields('"x=""q"""'), ['x="q"']);
  assert.throws(() => csvFields('a="b'), /bare " in non-quoted-field/);
  assert.throws(() => csvFields('"abc'), /extraneous or missing " in quoted-field/);
});

test('mounts: defaults per type', () => {
  assert.deepEqual(parseRunMount('target=/src'), { type: 'bind', target: '/src', readOnly: true, required: false });
  assert.deepEqual(parseRunMount('type=bind,source=a,target=/src,rw'), { type: 'bind', source: 'a', target: '/src', readOnly: false, required: false });
  assert.deepEqual(parseRunMount('type=cache,target=root/.cache/'), { type: 'cache', target: '/root/.cache', readOnly: false, required: false, sharing: 'shared' });
  assert.deepEqual(parseRunMount('type=cache,id=pip,target=/c,sharing=locked,mode=0700,uid=1000,gid=1000,from=img,source=/s'), {
    type: 'cache', id: 'pip', target: '/c', sharing: 'locked', mode: 0o700, uid: 1000, gid: 1000, from: 'img', source: '/s', readOnly: false, required: false,
  });
  assert.deepEqual(parseRunMount('type=tmpfs,target=/t,size=64m'), { type: 'tmpfs', target: '/t', size: 64 << 20, readOnly: false, required: false });
  assert.deepEqual(parseRunMount('type=secret,id=tok'), { type: 'secret', id: 'tok', target: '/run/secrets/tok', readOnly: true, required: false });
  assert.deepEqual(parseRunMount('type=secret,target=/etc/x.key,required'), { type: 'secret', id: 'x.key', target: '/etc/x.key', readOnly: true, required: true });
  assert.deepEqual(parseRunMount('type=secret,id=tok,env=TOKEN'), { type: 'secret', id: 'tok', env: 'TOKEN', target: '', readOnly: true, required: false });
  assert.deepEqual(parseRunMounts(['type=ssh', 'type=ssh,id=gh,required=true']).map((m) => [m.id, m.target, m.mode, m.required]),
    [['default', '/run/buildkit/ssh_agent.0', 0o600, false], ['gh', '/run/buildkit/ssh_agent.1', 0o600, true]]);
});

test('mounts: errors in BuildKit wording', () => {
  const bad: Array<[string, RegExp]> = [
    ['type=nfs,target=/x', /unsupported mount type "nfs"/],
    ['type=cache,target=/x,colour=red', /unexpected key 'colour' in 'colour=red'/],
    ['type=cache,target=/x,sharing=sometimes', /unsupported sharing value "sometimes"/],
    ['type=bind,target=/x,sharing=locked', /invalid cache sharing set for bind mount/],
    ['type=bind,target=/x,mode=0700', /mode not allowed for "bind" type mounts/],
    ['type=cache,target=/x,mode=9', /invalid value 9 for mode/],
    ['type=cache,target=/x,uid=-1', /invalid value -1 for uid/],
    ['type=cache,target=/x,ro=maybe', /invalid value for ro: maybe/],
    ['type=bind,target=/x,required', /unexpected key 'required' for mount type 'bind'/],
    ['type=secret,id=a,from=img', /secret mount should not have a from/],
    ['type=secret,id=a,source=x', /secret source not allowed/],
    ['type=secret', /one of source, target required/],
    ['type=cache', /mount type "cache" requires a target/],
    ['type=cache,target=/', /invalid mount target "\/"/],
    ['type=cache,target=/x,env=A', /unexpected key 'env' for mount type 'cache'/],
    ['type=cache,target', /invalid field 'target' must be a key=value pair/],
  ];
  for (const [v, rx] of bad) assert.throws(() => parseRunMount(v), rx, v);
});

test('syntax directive: docker/dockerfile:1.x accepted, another frontend refused naming the line', () => {
  for (const ok of ['docker/dockerfile:1', 'docker/dockerfile:1.7', 'docker.io/docker/dockerfile:1.4.3', 'docker/dockerfile:1-labs', 'docker/dockerfile',
    `docker/dockerfile:1.6@sha256:${'a'.repeat(64)}`]) {
    assert.equal(parseDockerfile(`# syntax=${ok}\nFROM a\n`).syntax, ok);
  }
  for (const bad of ['docker/dockerfile:2', 'example.com/frontend:1', 'tonistiigi/dockerfile:1']) {
    assert.throws(() => parseDockerfile(`# syntax=${bad}\nFROM a\n`), new RegExp(`^DockerfileError: Dockerfile:1: syntax directive names the frontend image "${bad.replace(/[.]/g, '\\.')}"`));
  }
});

test('build flags: --secret, --ssh, --output', () => {
  assert.deepEqual(parseSecretSpec('id=tok,src=/f'), { id: 'tok', file: '/f' });
  assert.deepEqual(parseSecretSpec('id=tok,source=/f'), { id: 'tok', file: '/f' });
  assert.deepEqual(parseSecretSpec('src=/a/b.key'), { id: 'b.key', file: '/a/b.key' });
  assert.deepEqual(parseSecretSpec('id=tok,env=T'), { id: 'tok', env: 'T' });
  assert.deepEqual(parseSecretSpec('id=T,type=env'), { id: 'T', env: 'T' });
  assert.deepEqual(parseSecretSpec('id=T', { T: 'x' }), { id: 'T', env: 'T' });
  assert.deepEqual(parseSecretSpec('id=T', {}), { id: 'T', file: 'T' });
  assert.throws(() => parseSecretSpec('id=a,colour=b'), /unexpected key 'colour'/);
  assert.throws(() => parseSecretSpec('id=a,type=vault'), /unsupported secret type "vault"/);
  assert.throws(() => parseSecretSpec('tok'), /must be a key=value pair/);
  assert.deepEqual(parseSshSpec('default'), { id: 'default', paths: [] });
  assert.deepEqual(parseSshSpec('gh=/k1,/k2'), { id: 'gh', paths: ['/k1', '/k2'] });
  assert.throws(() => parseSshSpec('a b=/x'), /invalid --ssh value/);
  assert.deepEqual(parseOutputSpec('./out'), { type: 'local', dest: './out' });
  assert.deepEqual(parseOutputSpec('-'), { type: 'tar', dest: '-' });
  assert.deepEqual(parseOutputSpec('type=local,dest=/o'), { type: 'local', dest: '/o' });
  assert.deepEqual(parseOutputSpec('type=tar,dest=o.tar'), { type: 'tar', dest: 'o.tar' });
  assert.deepEqual(parseOutputSpec('type=oci,dest=o.tar'), { type: 'oci', dest: 'o.tar' });
  assert.deepEqual(parseOutputSpec('type=image,name=x'), { type: 'image' });
  assert.throws(() => parseOutputSpec('type=ftp,dest=x'), /unsupported --output type "ftp"/);
  assert.throws(() => parseOutputSpec('type=local'), /needs dest=/);
  assert.throws(() => parseOutputSpec('type=tar,dest=x,compression=zstd'), /unsupported --output option 'compression'/);
});

test('ADD git sources: what is a git URL, its ref and subdir, loopback only', () => {
  for (const u of ['git://127.0.0.1/r.git', 'git@github.com:a/b.git', 'https://h/r.git', 'http://h/r.git#v1:sub', 'file:///srv/r.git']) assert.ok(isGitURL(u), u);
  for (const u of ['https://h/file.tar.gz', 'https://h/r.git/x', 'r.git']) assert.ok(!isGitURL(u), u);
  assert.deepEqual(parseGitSource('http://h/r.git#v1:sub/dir/'), { remote: 'http://h/r.git', ref: 'v1', subdir: 'sub/dir' });
  assert.deepEqual(parseGitSource('http://h/r.git'), { remote: 'http://h/r.git', ref: undefined, subdir: undefined });
  assert.deepEqual(parseGitSource('http://h/r.git#:sub'), { remote: 'http://h/r.git', ref: undefined, subdir: 'sub' });
  assert.throws(() => parseGitSource('http://h/r.git#--upload-pack=x'), /invalid git ref/);
  assert.throws(() => parseGitSource('http://h/r.git#main:../..'), /leaves the repository/);
  for (const ok of ['file:///srv/r.git', 'http://127.0.0.1:8080/r.git', 'git://localhost/r.git', 'https://[::1]/r.git']) checkGitRemote(ok);
  for (const far of ['https://example.com/r.git', 'git@github.com:a/b.git', 'ssh://127.0.0.1/r.git', 'http://10.0.0.1/r.git']) {
    assert.throws(() => checkGitRemote(far), /only (repositories on this machine|file:\/\/)/, far);
  }
});
