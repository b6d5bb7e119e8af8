/**
 * Engine API answers that clients rely on, checked through raw HTTP, the docker CLI and dockerode. Written to pass
 * against Docker too: `BERTH_COMPAT_DOCKER_HOST=unix:///run/bbd/docker.sock` points them at another engine.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileEngine, TEST_LABEL } from '../helpers/engine';

const { e, docker } = fileEngine('fidelity');


function request(method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const req = http.request({ socketPath: e.socket, method, path, headers: data ? { 'Content-Type': 'application/json' } : {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        let json: unknown = text;
        try {
          json = JSON.parse(text);
        } catch {
          /* not JSON: keep the text */
        }
        resolve({ status: res.statusCode ?? 0, json });
      });
    });
    req.on('error', reject);
    req.end(data);
  });
}

const NOT_MANAGER =
  'This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to connect this node to swarm and try again.';

describe('a single-host engine answers swarm endpoints as a node in no swarm', () => {
  const managerOnly: [string, string][] = [
    ['GET', '/swarm'],
    ['GET', '/swarm/unlockkey'],
    ['POST', '/swarm/unlock'],
    ['GET', '/nodes'],
    ['GET', '/nodes/x'],
    ['DELETE', '/nodes/x'],
    ['GET', '/services'],
    ['GET', '/services/x'],
    ['GET', '/tasks'],
    ['GET', '/tasks/x'],
    ['GET', '/secrets'],
    ['GET', '/secrets/x'],
    ['DELETE', '/secrets/x'],
    ['GET', '/configs'],
    ['GET', '/configs/x'],
  ];
  for (const [method, path] of managerOnly) {
    it(`${method} ${path} → 503 "not a swarm manager"`, async () => {
      const r = await request(method, `/v1.41${path}`, method === 'POST' ? {} : undefined);
      assert.equal(r.status, 503);
      assert.deepEqual(r.json, { message: NOT_MANAGER });
    });
  }

  it('POST /swarm/leave?force=true → 503 "not part of a swarm" (dockerode, as clients tear down)', async () => {
    await assert.rejects(docker.swarmLeave({ force: true }), (err: { statusCode?: number; json?: { message?: string } }) => {
      assert.equal(err.statusCode, 503);
      assert.equal(err.json?.message, 'This node is not part of a swarm');
      return true;
    });
  });

  it('docker node ls / service ls / swarm leave fail with the daemon\'s words', () => {
    const nodes = e.docker(['node', 'ls']);
    assert.equal(nodes.status, 1);
    assert.match(nodes.stderr, /This node is not a swarm manager/);
    const leave = e.docker(['swarm', 'leave', '--force']);
    assert.equal(leave.status, 1);
    assert.match(leave.stderr, /This node is not part of a swarm/);
  });
});

describe('plugins', () => {
  it('lists none (GET /plugins, docker plugin ls)', async () => {
    const r = await request('GET', '/v1.41/plugins');
    assert.equal(r.status, 200);
    assert.deepEqual(r.json, []);
    const ls = e.docker(['plugin', 'ls', '--format', '{{.Name}}']);
    assert.equal(ls.status, 0, ls.stderr);
    assert.equal(ls.stdout, '');
  });

  it('an unknown plugin is a 404 naming it', async () => {
    const r = await request('GET', '/v1.41/plugins/nosuch/json');
    assert.equal(r.status, 404);
    assert.match((r.json as { message: string }).message, /plugin "nosuch(:latest)?" not found/);
  });
});

describe('GET /system/df', () => {
  it('counts images, containers and volumes (docker system df, dockerode df)', async () => {
    const vol = `fid-df-${process.pid}`;
    const run = e.docker(['run', '--label', TEST_LABEL, '--name', `fid-df-${process.pid}`, '-v', `${vol}:/data`, 'busybox',
      'sh', '-c', 'head -c 100000 /dev/zero > /data/f; head -c 50000 /dev/zero > /rw']);
    assert.equal(run.status, 0, run.stderr);
    try {
      const df = (await docker.df()) as {
        LayersSize: number;
        Images: { RepoTags: string[]; Containers: number; Size: number; SharedSize: number }[];
        Containers: { Names: string[]; SizeRw: number; SizeRootFs: number }[];
        Volumes: { Name: string; UsageData: { Size: number; RefCount: number } }[];
      };
      assert.ok(df.LayersSize > 0);
      const bb = df.Images.find((i) => i.RepoTags?.includes('busybox:latest'));
      assert.ok(bb, 'busybox listed');
      assert.ok(bb.Containers >= 1);
      assert.ok(bb.Size > 0 && bb.SharedSize >= 0);
      const c = df.Containers.find((x) => x.Names.includes(`/fid-df-${process.pid}`));
      assert.ok(c, 'container listed');
      assert.ok(c.SizeRw >= 50000, `SizeRw ${c.SizeRw}`);
      assert.ok(c.SizeRootFs >= c.SizeRw + bb.Size - 1);
      const v = df.Volumes.find((x) => x.Name === vol);
      assert.ok(v, 'volume listed');
      assert.equal(v.UsageData.RefCount, 1);
      assert.ok(v.UsageData.Size >= 100000, `volume size ${v.UsageData.Size}`);

      const cli = e.docker(['system', 'df', '--format', '{{.Type}} {{.TotalCount}}']);
      assert.equal(cli.status, 0, cli.stderr);
      assert.match(cli.stdout, /^Images \d+$/m);
      assert.match(cli.stdout, /^Containers \d+$/m);
      assert.match(cli.stdout, /^Local Volumes \d+$/m);
    } finally {
      e.docker(['rm', '-f', `fid-df-${process.pid}`]);
      e.docker(['volume', 'rm', vol]);
    }
  });

  it('narrows to the types asked for and refuses an unknown one (API 1.42+)', { skip: e.external && 'the Docker peer here (20.10) speaks API 1.41' }, async () => {
    const r = await request('GET', '/v1.43/system/df?type=volume');
    assert.equal(r.status, 200);
    const body = r.json as Record<string, unknown>;
    assert.ok(Array.isArray(body.Volumes));
    assert.equal(body.Images, null);
    assert.equal(body.Containers, null);
    const bad = await request('GET', '/v1.43/system/df?type=nonsense');
    assert.equal(bad.status, 400);
    assert.deepEqual(bad.json, { message: 'unknown object type: nonsense' });
  });
});

describe('wait', () => {
  it('returns at an exit that a restart policy follows (docker wait, dockerode)', async () => {
    const name = `fid-wait-${process.pid}`;
    const c = e.docker(['run', '-d', '--label', TEST_LABEL, '--name', name, '--restart', 'always', 'busybox', 'sh', '-c', 'sleep 0.3; exit 3']);
    assert.equal(c.status, 0, c.stderr);
    try {
      const w = e.docker(['wait', name], { timeout: 20_000 });
      assert.equal(w.status, 0, w.stderr);
      assert.equal(w.stdout.trim(), '3');
      const res = await docker.getContainer(name).wait();
      assert.equal(res.StatusCode, 3);
    } finally {
      e.docker(['rm', '-f', name]);
    }
  });
});

describe('image search', () => {
  let server: http.Server;
  let port = 0;
  const results = [
    { name: 'team/web', description: 'the web app', star_count: 5, is_official: false, is_automated: false },
    { name: 'team/worker', description: 'a worker', star_count: 1, is_official: false, is_automated: false },
  ];
  before(async () => {
    // A registry on loopback that serves the v1 search API (as Docker Hub does) and the pings both engines send.
    server = http.createServer((req, res) => {
      const u = new URL(req.url ?? '/', 'http://x');
      if (u.pathname === '/v1/search') {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        return res.end(JSON.stringify({ num_results: results.length, query: u.searchParams.get('q'), results }));
      }
      if (u.pathname === '/v2/' || u.pathname === '/v1/_ping') {
        res.writeHead(200, { 'Content-Type': 'application/json', 'Docker-Distribution-Api-Version': 'registry/2.0' });
        return res.end('{}');
      }
      res.writeHead(404);
      res.end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as { port: number }).port;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  // Not e.docker(): that blocks this process, and the registry answering the daemon lives in it.
  const dockerAsync = (args: string[]) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile('docker', args, { env: e.env, timeout: 60_000 }, (err, stdout, stderr) =>
        resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }));
    });

  it('docker search asks the registry named in the term and applies the filters', async () => {
    const all = await dockerAsync(['search', '--format', '{{.Name}} {{.StarCount}}', `127.0.0.1:${port}/team`]);
    assert.equal(all.code, 0, all.stderr);
    assert.equal(all.stdout, 'team/web 5\nteam/worker 1\n');
    const starred = await dockerAsync(['search', '--filter', 'stars=3', '--format', '{{.Name}}', `127.0.0.1:${port}/team`]);
    assert.equal(starred.code, 0, starred.stderr);
    assert.equal(starred.stdout, 'team/web\n');
  });

  it('refuses a limit outside 1..100', async () => {
    const r = await request('GET', `/v1.41/images/search?term=127.0.0.1:${port}/team&limit=500`);
    assert.equal(r.status, 400);
    // Docker 20.10 capitalizes the first word, later versions do not
    assert.match((r.json as { message: string }).message, /^[Ll]imit 500 is outside the range of \[1, 100\]$/);
  });
});

describe('/info and /version tell what is true', () => {
  it('an engine ID, the events listeners open now, loopback as an insecure registry CIDR', async () => {
    const first = (await request('GET', '/v1.41/info')).json as { ID: string; NEventsListener: number; RegistryConfig: { InsecureRegistryCIDRs: string[] } };
    assert.match(first.ID, /\S/);
    assert.ok(first.RegistryConfig.InsecureRegistryCIDRs.includes('127.0.0.0/8'));
    const events = await docker.getEvents();
    try {
      await new Promise((r) => setTimeout(r, 200));
      const during = (await request('GET', '/v1.41/info')).json as { ID: string; NEventsListener: number };
      assert.equal(during.ID, first.ID);
      assert.equal(during.NEventsListener, first.NEventsListener + 1);
    } finally {
      (events as unknown as { destroy(): void }).destroy();
    }
  });

  it('runtime versions, the init binary and Debug as this daemon has them', { skip: e.external && 'Berth-specific values' }, async () => {
    const v = (await request('GET', '/v1.43/version')).json as { Components: { Name: string; Version: string }[] };
    const crun = v.Components.find((c) => c.Name === 'crun');
    assert.ok(crun);
    const crunVersion = execFileSync('crun', ['--version'], { encoding: 'utf8' }).split('\n')[0].split(' ').pop();
    assert.equal(crun.Version, crunVersion);
    const info = (await request('GET', '/v1.43/info')).json as {
      Debug: boolean; InitBinary: string; SecurityOptions: string[]; Warnings: string[]; DefaultRuntime: string; RuncCommit: { ID: string }; InitCommit: { ID: string };
    };
    assert.equal(info.Debug, true); // test daemons run with --log-level debug
    const runtimeCommit = /^commit:\s*(\S+)/m.exec(execFileSync(info.DefaultRuntime, ['--version'], { encoding: 'utf8' }))?.[1];
    assert.equal(info.RuncCommit.ID, runtimeCommit);
    const tini = execFileSync('/usr/bin/' + info.InitBinary, ['--version'], { encoding: 'utf8' });
    assert.equal(info.InitCommit.ID, / - git\.(\S+)/.exec(tini)?.[1] ?? '');
    assert.match(info.InitBinary, /^tini/);
    assert.ok(info.SecurityOptions.includes('name=seccomp,profile=builtin'));
    assert.ok(Array.isArray(info.Warnings));
  });
});

describe('behaviour of the API version asked for', () => {
  const pruned = async (version: string, name: string): Promise<string[]> => {
    const made = await request('POST', `/v1.41/volumes/create`, { Name: name, Labels: { 'berth.test': 'compat' } });
    assert.equal(made.status, 201);
    try {
      const r = await request('POST', `/${version}/volumes/prune?filters=${encodeURIComponent('{"label":["berth.test=compat"]}')}`);
      assert.equal(r.status, 200, JSON.stringify(r.json));
      return (r.json as { VolumesDeleted: string[] | null }).VolumesDeleted ?? [];
    } finally {
      await request('DELETE', `/v1.41/volumes/${name}`);
    }
  };

  it('volume prune under 1.41 removes unused named volumes', async () => {
    const name = `fid-prune41-${process.pid}`;
    assert.ok((await pruned('v1.41', name)).includes(name));
  });

  it('volume prune under 1.43 keeps named volumes (only anonymous ones go)', { skip: e.external && 'the Docker peer here (20.10) speaks API 1.41' }, async () => {
    const name = `fid-prune43-${process.pid}`;
    assert.ok(!(await pruned('v1.43', name)).includes(name));
  });
});

describe('builds', () => {
  it('.dockerignore patterns with -, [ ] and \\ leave out what docker leaves out (docker build)', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fid-ignore-'));
    const tag = `fid-ignore-${process.pid}:v1`;
    try {
      const files: Record<string, string> = {
        Dockerfile: 'FROM busybox\nCOPY . /ctx/\nCMD ["ls", "/ctx"]\n',
        '.dockerignore': 'secret-file\nlog[0-9].txt\nodd\\-name\n',
        'secret-file': 'x', 'log1.txt': 'x', 'odd-name': 'x', 'kept-file': 'x', 'logx.txt': 'x',
      };
      for (const [f, body] of Object.entries(files)) fs.writeFileSync(path.join(dir, f), body);
      const b = e.docker(['build', '-q', '--label', TEST_LABEL, '-t', tag, dir], { timeout: 120_000 });
      assert.equal(b.status, 0, b.stderr);
      const ls = e.docker(['run', '--rm', '--label', TEST_LABEL, tag]);
      assert.equal(ls.status, 0, ls.stderr);
      assert.deepEqual(ls.stdout.split('\n').filter(Boolean).sort(), ['Dockerfile', 'kept-file', 'logx.txt']);
    } finally {
      e.docker(['rmi', '-f', tag]);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('.dockerignore: ** at any depth, ! exceptions (the last match wins), ? and [^…] as Go filepath.Match (docker build)', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fid-ignore2-'));
    const tag = `fid-ignore2-${process.pid}:v1`;
    try {
      const files: Record<string, string> = {
        Dockerfile: 'FROM busybox\nCOPY . /ctx/\nCMD ["find", "/ctx", "-type", "f"]\n',
        '.dockerignore': '**/*.log\n!keep.log\nbuild/**\n!build/out/keep.txt\n*/tmp?\n[^k]x.txt\n# a comment\n./lead\n',
        'a.log': 'x', 'keep.log': 'x', 'sub/deep/b.log': 'x', 'build/out/drop.txt': 'x', 'build/out/keep.txt': 'x',
        'sub/tmp1': 'x', 'sub/tmp12': 'x', 'ax.txt': 'x', 'kx.txt': 'x', lead: 'x', 'sub/lead': 'x',
      };
      for (const [f, body] of Object.entries(files)) {
        fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
        fs.writeFileSync(path.join(dir, f), body);
      }
      const b = e.docker(['build', '-q', '--label', TEST_LABEL, '-t', tag, dir], { timeout: 120_000 });
      assert.equal(b.status, 0, b.stderr);
      const ls = e.docker(['run', '--rm', '--label', TEST_LABEL, tag]);
      assert.equal(ls.status, 0, ls.stderr);
      assert.deepEqual(ls.stdout.split('\n').filter(Boolean).map((f) => f.slice('/ctx/'.length)).sort(), [
        '.dockerignore', 'Dockerfile', 'build/out/keep.txt', 'keep.log', 'kx.txt', 'sub/lead', 'sub/tmp12',
      ]);
    } finally {
      e.docker(['rmi', '-f', tag]);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('bad input', () => {
  it('a malformed escape in the path is 400, not a server error', async () => {
    const r = await request('GET', '/v1.41/containers/%zz/json');
    assert.equal(r.status, 400);
  });
});
