/** Loopback servers a test runs as child processes (registries, proxies), started once they listen. */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';

async function waitPort(port: number, child: ChildProcess, log: () => string): Promise<void> {
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

/**
 * Runs `cmd` (its output appended to `logFile`) until it listens on 127.0.0.1:`port`; returns that address. The child
 * joins `children`, which the test kills when done.
 */
export async function spawnServer(cmd: string, args: string[], port: number, logFile: string, children: ChildProcess[]): Promise<string> {
  const out = fs.openSync(logFile, 'a');
  const child = spawn(cmd, args, { stdio: ['ignore', out, out] });
  fs.closeSync(out);
  children.push(child);
  await waitPort(port, child, () => fs.readFileSync(logFile, 'utf8'));
  return `127.0.0.1:${port}`;
}
