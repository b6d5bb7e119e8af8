/**
 * The hostile-input corpus (issue #14): every crafted input goes to a real berthd (load, pull from a stub registry on
 * 127.0.0.1, build, raw API requests on the socket, cp) or to a real `berth registry serve`. Each must be refused with
 * a 4xx and a clear message (or accepted where docker accepts it), and none may cause a 500, a daemon crash, a hang,
 * a byte written in the watched canary tree outside, or the canary's secret in a reply. The figures are the suite's last line.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import { BERTH, TestDaemon, ping } from '../helpers/daemon';
import { apiInputs, cpInputs } from './corpus-api';
import { buildInputs } from './corpus-build';
import { layerInputs } from './corpus-layers';
import { registryCorpus } from './corpus-registry';
import { Canary, StubRegistry, classify, request, type Body, type Ctx, type HostileInput, type Outcome, type Reply } from './harness';
import { freePort } from '../helpers/ports';

const all: HostileInput[] = [...layerInputs, ...registryCorpus, ...buildInputs, ...apiInputs, ...cpInputs];
/** BERTH_HOSTILE_ONLY=<regex>: run only the matching entries while working on a fix (the figures line says so). */
const only = process.env.BERTH_HOSTILE_ONLY;
/** CI runs the short form, every second entry of the corpus (each area keeps half its inputs); BERTH_HOSTILE_FULL=1
 *  runs them all. */
const stride = only || process.env.BERTH_HOSTILE_FULL ? 1 : 2;
const corpus = all.filter((i, n) => (only ? new RegExp(only).test(i.name) : n % stride === 0));

/** A daemon that answers within 10 s (on a loaded machine a 1 s ping may miss a daemon that is fine). */
async function alive(socket: string): Promise<boolean> {
  for (let i = 0; i < 10; i++) if (await ping(socket)) return true;
  return false;
}

interface Result {
  input: HostileInput;
  reply: Reply;
  outcome: Outcome;
  outsideBytes: number;
  outsidePaths: string[];
  leaked: boolean;
  crashed: boolean;
  failure?: string;
}


/** Why a result does not meet its entry's expectation (undefined: it does). */
function judge(i: HostileInput, r: Reply, outcome: Outcome): string | undefined {
  const said = r.message ? `: ${r.message.slice(0, 200)}` : '';
  if (outcome === '5xx' || outcome === 'hang' || outcome === 'broken' || outcome === 'unclear') return `${outcome} (status ${r.status}${said}${r.broken ? `: ${r.broken}` : ''})`;
  if (i.expect === 'refused' && outcome !== 'refused') return `accepted with ${r.status}, expected a refusal`;
  if (i.expect === 'accepted' && outcome !== 'accepted') return `refused with ${r.status}${said}, docker accepts it`;
  if (outcome === 'refused' && i.status !== undefined && r.status !== i.status) return `status ${r.status}, expected ${i.status}${said}`;
  if (outcome === 'refused' && i.message && !i.message.test(r.message ?? '')) return `message does not match ${i.message}${said}`;
  return undefined;
}

describe('hostile inputs', { timeout: 1_800_000 }, () => {
  const d = new TestDaemon('hostile');
  const work = fs.mkdtempSync('/var/tmp/berth-hostile-');
  const canary = new Canary(work);
  const ctx: Ctx = canary.ctx;
  const stub = new StubRegistry();
  let registry: ChildProcess | undefined;
  let registryPort = 0;
  let registryCrashes = 0;
  let ctr = '';
  const results: Result[] = [];

  const startRegistry = async () => {
    registryPort = await freePort();
    const log = fs.openSync(path.join(work, 'registry.log'), 'a');
    registry = spawn(BERTH, ['registry', 'serve', '--addr', `127.0.0.1:${registryPort}`, '--root', path.join(work, 'reg')], { stdio: ['ignore', log, log] });
    fs.closeSync(log);
    for (let i = 0; i < 300 && (await request({ host: '127.0.0.1', port: registryPort }, 'GET', '/v2/', undefined, {}, 1000)).status !== 200; i++) {
      if (registry.exitCode !== null) throw new Error(`registry exited: ${fs.readFileSync(path.join(work, 'registry.log'), 'utf8')}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  before(async () => {
    await d.start();
    d.importBusybox();
    await stub.start();
    await startRegistry();
    const sock = { socketPath: d.socket };
    const created = await request(sock, 'POST', '/containers/create?name=hostile-cp', JSON.stringify({ Image: 'busybox', Cmd: ['sleep', '3600'] }), { 'Content-Type': 'application/json' });
    assert.equal(created.status, 201, created.body.toString());
    ctr = (JSON.parse(created.body.toString()) as { Id: string }).Id;
    assert.equal((await request(sock, 'POST', `/containers/${ctr}/start`)).status, 204);
  });

  after(async () => {
    await stub.stop();
    if (registry && registry.exitCode === null) {
      const gone = new Promise((r) => registry!.once('exit', r));
      registry.kill('SIGTERM');
      await gone;
    }
    await d.stop();
    fs.rmSync(work, { recursive: true, force: true });
    const sum = (rs: Result[], f: (r: Result) => number) => rs.reduce((n, r) => n + f(r), 0);
    const figures = {
      inputs: results.length,
      refused4xx: results.filter((r) => r.outcome === 'refused').length,
      accepted: results.filter((r) => r.outcome === 'accepted').length,
      '500s': results.filter((r) => r.outcome === '5xx').length,
      bytesOutside: sum(results, (r) => r.outsideBytes),
      daemonCrashes: results.filter((r) => r.crashed).length + registryCrashes,
      hangs: results.filter((r) => r.outcome === 'hang').length,
      secretsLeaked: results.filter((r) => r.leaked).length,
    };
    console.log(`hostile figures${only ? ` (only ${only})` : stride > 1 ? ' (short form)' : ''}: ${Object.entries(figures).map(([k, v]) => `${k}=${v}`).join(' ')}`);
  });

  it(`${corpus.length} crafted inputs: refused with a 4xx and a clear message, no 500, no crash, nothing written outside`, { timeout: 1_800_000 }, async () => {
    const sock = { socketPath: d.socket };
    const reg = { host: '127.0.0.1', port: registryPort };
    for (const [n, input] of corpus.entries()) {
      const p = input.payload;
      let reply: Reply;
      try {
        switch (p.kind) {
          case 'load':
            reply = await request(sock, 'POST', '/images/load?quiet=1', await p.archive(ctx), { 'Content-Type': 'application/x-tar' });
            break;
          case 'pull': {
            stub.add(`hostile/p${n}`, await p.repo(ctx));
            reply = await request(sock, 'POST', `/images/create?fromImage=${encodeURIComponent(`127.0.0.1:${stub.port}/hostile/p${n}`)}&tag=${p.tag ?? 'latest'}`, '');
            break;
          }
          case 'build':
            reply = await request(sock, 'POST', `/build?rm=1&forcerm=1${p.query ? `&${p.query}` : ''}`, await p.context(ctx), { 'Content-Type': 'application/x-tar' });
            break;
          case 'api': {
            // a function body is either an async builder (given the context) or a stream maker: call it to know
            let body: Body | undefined;
            if (typeof p.body === 'function') {
              const made = (p.body as (c: Ctx) => Promise<Buffer> | Readable)(ctx);
              body = made instanceof Promise ? await made : () => made;
            } else body = p.body;
            const urlPath = (typeof p.path === 'function' ? p.path(ctx) : p.path).replaceAll('{ctr}', ctr);
            reply = await request(sock, p.method, urlPath, body, p.headers);
            break;
          }
          case 'registry': {
            let urlPath = p.path;
            if (urlPath === '{upload}') {
              const started = await request(reg, 'POST', '/v2/hostile/blobs/uploads/', '');
              urlPath = String(started.headers?.location ?? '');
            }
            reply = await request(reg, p.method, urlPath, p.body, p.headers);
            break;
          }
        }
      } catch (e) {
        assert.fail(`corpus entry ${JSON.stringify(input.name)} could not be built: ${(e as Error).stack}`);
      }
      const outcome = classify(reply);
      const outside = canary.check();
      const leaked = reply.body.includes(canary.secret);
      // died: the process is gone (a slow answer on a loaded machine is not a crash; a wedged daemon fails the next ping)
      const died = d.pid === undefined;
      const wedged = !died && !(await alive(d.socket));
      if (wedged) await d.crash(); // counted as a crash: a daemon that stops answering is as down as a dead one
      if (died || wedged) await d.start();
      const crashed = died || wedged;
      if (registry?.exitCode !== null) {
        registryCrashes++;
        await startRegistry();
      }
      let failure = judge(input, reply, outcome);
      if (outside.bytes) failure = `${outside.bytes} bytes written outside: ${outside.paths.join(', ')}; ${failure ?? ''}`;
      if (leaked) failure = `the canary secret is in the reply; ${failure ?? ''}`;
      if (crashed) failure = `berthd ${died ? 'died' : 'stopped answering'}; ${failure ?? ''}`;
      results.push({ input, reply, outcome, outsideBytes: outside.bytes, outsidePaths: outside.paths, leaked, crashed, failure });
    }
    const failures = results.filter((r) => r.failure).map((r) => `${r.input.name}: ${r.failure}`);
    assert.deepEqual(failures, [], `${failures.length} hostile inputs were not handled:\n${failures.join('\n')}`);
  });
});
