/** Loopback TCP ports for the servers a test starts (registries, TLS listeners, stubs). */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { BERTH } from './daemon';

/** A port on 127.0.0.1 that nothing listens on now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/** Wait until something listens on 127.0.0.1:port; fails early when `child` (the server) exits, showing its log. */
export async function waitPort(port: number, child: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`server exited early:\n${log()}`);
    const ok = await new Promise<boolean>((resolve) => {
      const c = net.connect(port, '127.0.0.1', () => (c.end(), resolve(true)));
      c.on('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`server did not listen on ${port}:\n${log()}`);
}

/** A loopback server process (a registry, a proxy) with its output in `logFile`, once it listens on `port`. */
export async function startServer(cmd: string, args: string[], port: number, logFile: string): Promise<ChildProcess> {
  const out = fs.openSync(logFile, 'a');
  const child = spawn(cmd, args, { stdio: ['ignore', out, out] });
  fs.closeSync(out);
  try {
    await waitPort(port, child, () => fs.readFileSync(logFile, 'utf8'));
  } catch (e) {
    child.kill('SIGKILL');
    throw e;
  }
  return child;
}

/** `berth registry serve` on a free loopback port, its storage and log under `dir`: its host:port and process. */
export async function berthRegistry(dir: string): Promise<{ address: string; proc: ChildProcess }> {
  const port = await freePort();
  const proc = await startServer(BERTH, ['registry', 'serve', '--addr', `127.0.0.1:${port}`, '--root', path.join(dir, 'registry')], port, path.join(dir, 'registry.log'));
  return { address: `127.0.0.1:${port}`, proc };
}
