/**
 * Nothing in a container, an image or a build context leads berthd out of the container root onto the host: the
 * working directory, volume copy-up, cp against a container that races symlinks in, build contexts and COPY
 * destinations; and a seccomp profile that cannot be loaded keeps containers from starting. Through the docker CLI,
 * the berth CLI and dockerode.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import Docker from 'dockerode';
import * as tarStream from 'tar-stream';
import { makeTar } from '../helpers/tarfixture';
import { TestDaemon } from '../helpers/daemon';

const d = new TestDaemon('escapes');
const tmp = fs.mkdtempSync('/var/tmp/berth-esc-');
/** Host paths the tests must never create: removed after, in case an escape did. */
const hostTraps: string[] = [];
let docker: Docker;

before(async () => {
  await d.start();
  d.importBusybox();
  docker = new Docker({ socketPath: d.socket });
});
after(async () => {
  await d.stop();
  for (const p of [tmp, ...hostTraps]) fs.rmSync(p, { recursive: true, force: true });
});

const ok = (r: { status: number; stdout: string; stderr: string }, what: string): string => {
  assert.equal(r.status, 0, `${what}: ${r.stderr}${r.stdout}`);
  return r.stdout;
};
/** A fresh name under the host's /tmp that nothing should ever create. */
function trap(tag: string): string {
  const p = `/tmp/berth-esc-${tag}-${process.pid}-${Date.now()}`;
  hostTraps.push(p);
  return p;
}
/** "/../../.." deep enough to climb out of any data root, were it joined on the host. */
const CLIMB = '/..'.repeat(16);

function contextDir(name: string, files: Record<string, string | Buffer>): string {
  const dir = path.join(tmp, name);
  fs.mkdirSync(dir, { recursive: true });
  for (const [f, body] of Object.entries(files)) fs.writeFileSync(path.join(dir, f), body);
  return dir;
}

describe('working directory', () => {
  it('-w climbing out with ".." is created inside the container, owned by the user, nothing on the host', () => {
    const host = trap('wd');
    const out = ok(d.docker(['run', '--rm', '-u', '1234:1234', '-w', `${CLIMB}${host}/deep`, 'busybox', 'sh', '-c', `pwd; stat -c %u:%g ${host} ${host}/deep`]), 'run -w');
    assert.equal(out, `${host}/deep\n1234:1234\n1234:1234\n`);
    assert.ok(!fs.existsSync(host), `${host} was created on the host`);
  });

  it('an image symlink under WORKDIR leads inside the image (build RUN and run), nothing on the host', () => {
    const host = trap('link');
    const dir = contextDir('wdlink', {
      Dockerfile: `FROM busybox\nRUN ln -s ${CLIMB.slice(0, 12)}${host} /work\nWORKDIR /work/sub\nRUN readlink -f . > /built-in\n`,
    });
    ok(d.berth(['build', '-q', '-t', 'esc-wd:1', dir]), 'build');
    try {
      assert.equal(ok(d.docker(['run', '--rm', 'esc-wd:1', 'sh', '-c', 'cat /built-in; readlink -f .']), 'run'), `${host}/sub\n${host}/sub\n`);
      assert.ok(!fs.existsSync(host), `${host} was created on the host`);
    } finally {
      d.berth(['rmi', 'esc-wd:1']);
    }
  });
});

describe('volumes', () => {
  it('copy-up follows an image symlink at the target inside the image', () => {
    const dir = contextDir('copyup', {
      Dockerfile: 'FROM busybox\nRUN mkdir -p /srv/content && echo seed > /srv/content/f && ln -s /srv/content /data\n',
    });
    ok(d.berth(['build', '-q', '-t', 'esc-vol:1', dir]), 'build');
    try {
      assert.equal(ok(d.docker(['run', '--rm', '-v', '/data', 'esc-vol:1', 'cat', '/data/f']), 'run -v'), 'seed\n');
    } finally {
      d.berth(['rmi', 'esc-vol:1']);
    }
  });
});

/** The content of the one file in a tar stream. */
async function fileInTar(tar: Readable): Promise<string> {
  const ex = tarStream.extract();
  let text = '';
  ex.on('entry', (_h, body, next) => {
    body.on('data', (c: unknown) => void (text += String(c)));
    body.on('end', () => next());
  });
  await new Promise<void>((resolve, reject) => {
    ex.on('finish', resolve);
    ex.on('error', reject);
    tar.on('error', reject);
    tar.pipe(ex);
  });
  return text;
}

describe('cp against a container', () => {
  it('a plain symlink to a host path is resolved inside the container, for GET and PUT', async () => {
    const hostDir = path.join(tmp, 'plain');
    fs.mkdirSync(hostDir);
    fs.writeFileSync(path.join(hostDir, 'canary'), 'HOST\n');
    ok(d.berth(['run', '-d', '--name', 'plain', 'busybox', 'sh', '-c',
      `mkdir -p ${hostDir} && echo inside > ${hostDir}/canary && ln -s ${hostDir} /lnk && ln -s ${CLIMB}${hostDir}/canary /up && exec sleep 300`]), 'run');
    try {
      const c = docker.getContainer('plain');
      assert.equal(await fileInTar(await c.getArchive({ path: '/lnk/canary' }) as unknown as Readable), 'inside\n');
      await c.putArchive(await makeTar([{ name: 'dropped', data: 'x' }]), { path: '/lnk' });
      ok(d.berth(['cp', path.join(hostDir, 'canary'), 'plain:/lnk/from-cli']), 'berth cp in');
      ok(d.docker(['cp', 'plain:/lnk/canary', path.join(tmp, 'plain-out')]), 'docker cp out');
      assert.equal(fs.readFileSync(path.join(tmp, 'plain-out'), 'utf8'), 'inside\n');
      ok(d.docker(['cp', '-L', 'plain:/up', path.join(tmp, 'plain-up')]), 'docker cp -L out');
      assert.equal(fs.readFileSync(path.join(tmp, 'plain-up'), 'utf8'), 'inside\n');
      assert.equal(ok(d.berth(['exec', 'plain', 'ls', hostDir]), 'exec ls'), 'canary\ndropped\nfrom-cli\n');
      assert.deepEqual(fs.readdirSync(hostDir), ['canary'], 'nothing written on the host');
    } finally {
      d.berth(['rm', '-f', 'plain']);
    }
  });

  it('a container flipping a directory to a symlink to a host path never gets cp to read or write the host', async (t) => {
    // the same absolute path exists in the container (its own files) and on the host (the canary): a symlink
    // followed by the host kernel instead of inside the root shows up as HOST read or a file dropped on the host
    const race = path.join(tmp, 'race');
    fs.mkdirSync(race);
    fs.writeFileSync(path.join(race, 'canary'), 'HOST\n');
    const flip = `mkdir -p /w ${race} && echo inside > ${race}/canary && while :; do ` +
      'mkdir /w/n && echo inside > /w/n/canary && rm -rf /w/d && mv /w/n /w/d; ' +
      `rm -rf /w/d && ln -s ${race} /w/d; done`;
    ok(d.berth(['run', '-d', '--name', 'racer', 'busybox', 'sh', '-c', flip]), 'run racer');
    const reasons = new Set<string>();
    const seen = { attempts: 0, readInside: 0, written: 0, failed: 0, hostRead: 0 };
    try {
      const c = docker.getContainer('racer');
      const drop = await makeTar([{ name: 'drop', data: 'dropped\n' }]);
      for (let i = 0; i < 300; i++) {
        seen.attempts += 2;
        try {
          const text = await fileInTar(await c.getArchive({ path: '/w/d/canary' }) as unknown as Readable);
          if (text === 'HOST\n') seen.hostRead++;
          else if (text === 'inside\n') seen.readInside++;
        } catch (e) {
          seen.failed++; // the directory was being replaced at that moment: 404
          reasons.add(String((e as Error).message).slice(0, 120));
        }
        await c.putArchive(drop, { path: '/w/d' }).then(() => seen.written++, (e: Error) => { seen.failed++; reasons.add(e.message.slice(0, 120)); });
      }
      fs.writeFileSync(path.join(tmp, 'drop-cli'), 'dropped\n');
      for (let i = 0; i < 15; i++) {
        seen.attempts += 2;
        const out = path.join(tmp, `cli-out-${i}`);
        if (d.docker(['cp', 'racer:/w/d/canary', out]).status === 0) {
          if (fs.readFileSync(out, 'utf8') === 'HOST\n') seen.hostRead++;
          else seen.readInside++;
        } else seen.failed++;
        if (d.berth(['cp', path.join(tmp, 'drop-cli'), 'racer:/w/d/']).status === 0) seen.written++;
        else seen.failed++;
      }
      t.diagnostic(`cp race: ${JSON.stringify(seen)} ${[...reasons].join(' | ')}`);
      assert.equal(seen.hostRead, 0, `read the host's file: ${JSON.stringify(seen)}`);
      assert.deepEqual(fs.readdirSync(race), ['canary'], `wrote on the host: ${JSON.stringify(seen)}`);
      assert.equal(fs.readFileSync(path.join(race, 'canary'), 'utf8'), 'HOST\n');
      assert.ok(seen.readInside > 0 && seen.written > 0, `the copies worked at all: ${JSON.stringify(seen)}`);
    } finally {
      d.berth(['rm', '-f', 'racer']);
    }
  });
});

describe('builds', () => {
  it('a context hardlink through a symlink to a host file is refused', async () => {
    const secret = path.join(tmp, 'secret');
    fs.writeFileSync(secret, 'HOST SECRET\n');
    const ctx = await makeTar([
      { name: 'Dockerfile', data: 'FROM busybox\nCOPY x /x\n' },
      { name: 'l', type: 'symlink', linkname: tmp },
      { name: 'x', type: 'link', linkname: 'l/secret' },
    ]);
    const r = d.docker(['build', '-q', '-t', 'esc-ctx:1', '-'], { input: ctx });
    d.berth(['rmi', 'esc-ctx:1']);
    assert.notEqual(r.status, 0, `the build used the host file: ${r.stdout}`);
    assert.match(r.stderr, /invalid build context: hardlink x to l\/secret which is not an earlier file/);
    assert.equal(fs.statSync(secret).nlink, 1, 'no link to the host file was made');
  });

  it('COPY and ADD into a destination that is a symlink in the image land inside the image', async () => {
    const host = trap('copy');
    const dir = contextDir('copydest', {
      Dockerfile: `FROM busybox\nRUN ln -s ${CLIMB.slice(0, 12)}${host} /dst\nCOPY f /dst/\nADD a.tar /dst/\n`,
      f: 'copied\n',
      'a.tar': await makeTar([{ name: 'added', data: 'added\n' }]),
    });
    ok(d.berth(['build', '-q', '-t', 'esc-copy:1', dir]), 'build');
    try {
      assert.equal(ok(d.docker(['run', '--rm', 'esc-copy:1', 'cat', '/dst/f', `${host}/added`]), 'run'), 'copied\nadded\n');
      assert.ok(!fs.existsSync(host), `${host} was created on the host`);
    } finally {
      d.berth(['rmi', 'esc-copy:1']);
    }
  });
});

describe('seccomp fails closed', () => {
  const missing = path.join(tmp, 'no-such-profile.json');
  const s = new TestDaemon('seccomp', ['--seccomp-profile', missing]);
  before(async () => {
    await s.start();
    s.importBusybox();
  });
  after(() => s.stop());

  it('a container does not start when the daemon profile cannot be loaded; unconfined still does', () => {
    const r = s.docker(['run', '--rm', 'busybox', 'echo', 'ran']);
    // the docker CLI exits 127 for a start error that says "no such file or directory", as with dockerd
    assert.equal(r.status, 127, r.stdout + r.stderr);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, new RegExp(`Error response from daemon: .*seccomp profile \\(${missing}\\) failed: .*no such file or directory`));
    assert.equal(ok(s.berth(['run', '--rm', '--security-opt', 'seccomp=unconfined', 'busybox', 'echo', 'ran']), 'unconfined'), 'ran\n');
  });
});
