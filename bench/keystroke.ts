/**
 * Interactive latency of an attached TTY, with its own berthd (own data root and socket; leaves nothing behind):
 *  - keystroke round trip through the API (hijacked attach to `busybox sh`): write one byte, read its echo; a
 *    typed character and a backspace alternate so the line stays short; p50/p99 over KEYS keystrokes;
 *  - time from `berth run -it --rm busybox sh` (under a pty from script(1)) to the first byte of the prompt.
 * Docker's numbers go next to them when a dockerd answers on $DOCKER_PEER_SOCK (default /var/run/docker.sock).
 * Run: npx tsc -p . && node dist/bench/keystroke.js   (KEYS=1000 RUNS=10 by default)
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import type { Socket } from 'node:net';
import { EngineClient } from '../src/client/engine';
import { BERTH, TestDaemon } from '../test/helpers/daemon';

const KEYS = Number(process.env.KEYS ?? 1000);
const RUNS = Number(process.env.RUNS ?? 10);
const PROMPT = '/ # ';

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
}

/** Resolves with the output once `want` has appeared in what `sock` sent since the call. */
function until(sock: Socket, want: string | ((seen: string) => boolean)): Promise<string> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const test = typeof want === 'string' ? (s: string) => s.includes(want) : want;
    const onData = (d: Buffer): void => {
      seen += d.toString('latin1');
      if (!test(seen)) return;
      sock.off('data', onData).off('close', onClose);
      resolve(seen);
    };
    const onClose = (): void => reject(new Error(`stream closed before ${String(want)}; got ${JSON.stringify(seen)}`));
    sock.on('data', onData).once('close', onClose);
  });
}

/** Keystroke round trips (ms) on a TTY container attached through the API at `socketPath`. */
async function keystrokes(socketPath: string): Promise<number[]> {
  const client = new EngineClient({ socketPath });
  const { Id } = await client.request<{ Id: string }>('POST', '/containers/create', {
    body: { Image: 'busybox', Cmd: ['sh'], Tty: true, OpenStdin: true, AttachStdin: true, AttachStdout: true, AttachStderr: true, HostConfig: { AutoRemove: true } },
  });
  try {
    const sock = await client.hijack('POST', `/containers/${Id}/attach`, { query: { stream: 1, stdin: 1, stdout: 1, stderr: 1 }, contentType: 'text/plain' });
    const prompt = until(sock, PROMPT);
    await client.request('POST', `/containers/${Id}/start`);
    await client.request('POST', `/containers/${Id}/resize`, { query: { h: 50, w: 200 } });
    await prompt;
    const times: number[] = [];
    for (let i = 0; i < KEYS; i++) {
      // 'a' echoes as itself; DEL erases it with a backspace sequence that starts with \b
      const [key, echo] = i % 2 === 0 ? ['a', 'a'] : ['\x7f', '\b'];
      const echoed = until(sock, echo);
      const t0 = process.hrtime.bigint();
      sock.write(key);
      await echoed;
      times.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    sock.write('exit\r');
    await new Promise((r) => sock.once('close', r));
    return times;
  } finally {
    await client.request('DELETE', `/containers/${Id}`, { query: { force: 1 } }).catch(() => undefined);
    client.close();
  }
}

/** ms from spawning `cli run -it --rm busybox sh` in a pty until the prompt's first byte arrives. */
function timeToPrompt(cmd: string, env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const child = spawn('script', ['-qfec', cmd, '/dev/null'], { env, stdio: ['pipe', 'pipe', 'inherit'] });
    let out = '';
    let at = 0;
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString('latin1');
      if (at || !out.includes(PROMPT)) return;
      at = Number(process.hrtime.bigint() - t0) / 1e6;
      child.stdin.write('exit\r');
    });
    child.on('close', () => (at ? resolve(at) : reject(new Error(`no prompt from ${cmd}: ${JSON.stringify(out)}`))));
  });
}

async function main(): Promise<void> {
  const d = new TestDaemon('keystroke');
  const peer = process.env.DOCKER_PEER_SOCK ?? '/var/run/docker.sock'; // bench/run.sh starts its own dockerd
  const dockerd = fs.existsSync(peer) ? peer : undefined;
  try {
    await d.start();
    d.importBusybox();
    const berthKeys = await keystrokes(d.socket);
    const dockerKeys = dockerd ? await keystrokes(dockerd) : undefined;
    const starts: number[] = [];
    const dockerStarts: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      starts.push(await timeToPrompt(`${BERTH} run -it --rm busybox sh`, d.env));
      if (dockerd) dockerStarts.push(await timeToPrompt('docker run -it --rm busybox sh', { ...process.env, DOCKER_HOST: `unix://${dockerd}` }));
    }
    const fmt = (x: number | undefined): string => (x === undefined ? 'n/a' : x.toFixed(3));
    const ratio = (a: number, b: number | undefined): string => (b === undefined ? 'n/a' : (a / b).toFixed(2));
    const rows: [string, number, number | undefined][] = [
      [`keystroke round trip p50 (ms, ${KEYS} keys)`, quantile(berthKeys, 0.5), dockerKeys && quantile(dockerKeys, 0.5)],
      [`keystroke round trip p99 (ms, ${KEYS} keys)`, quantile(berthKeys, 0.99), dockerKeys && quantile(dockerKeys, 0.99)],
      [`run -it to first prompt byte, median (ms, ${RUNS} runs)`, quantile(starts, 0.5), dockerd ? quantile(dockerStarts, 0.5) : undefined],
    ];
    console.log('| measure | berth | docker | berth/docker |\n|---|---|---|---|');
    for (const [what, b, k] of rows) console.log(`| ${what} | ${fmt(b)} | ${fmt(k)} | ${ratio(b, k)} |`);
    if (!dockerd) console.log('\n(no dockerd on /var/run/docker.sock: docker columns are n/a)');
  } finally {
    await d.stop();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
