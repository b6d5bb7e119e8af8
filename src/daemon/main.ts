#!/usr/bin/env node
/** berthd: owns all state and serves the Docker Engine API on a unix socket. */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { log, setLogLevel } from '../common/log';
import { enterRuntimeNamespace } from '../runtime/cgroups';
import { parseDaemonArgs, USAGE, type DaemonConfig } from './config';
import { startDaemon } from './daemon';

const VERSION: string = (require('../../../package.json') as { version: string }).version;

function main(): void {
  let cfg: DaemonConfig | 'help' | 'version';
  try {
    cfg = parseDaemonArgs(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`berthd: ${(e as Error).message}\n\n${USAGE}`);
    process.exit(125);
  }
  if (cfg === 'help') return void process.stdout.write(USAGE);
  if (cfg === 'version') return void process.stdout.write(`berthd version ${VERSION}\n`);
  if (process.getuid?.() !== 0) {
    process.stderr.write('berthd: must run as root\n');
    process.exit(1);
  }
  if (!enterRuntimeNamespace()) return;
  setLogLevel(cfg.logLevel);
  void run(cfg);
}

async function run(cfg: DaemonConfig): Promise<void> {
  const sockets = cfg.hosts.filter((h) => h.startsWith('unix://')).map((h) => h.slice('unix://'.length));
  for (const s of sockets) {
    if (await answers(s)) {
      log.error('another daemon is already listening', { socket: s });
      process.exit(1);
    }
  }
  const daemon = await startDaemon(cfg, VERSION);
  const listening: net.Server[] = [];
  for (const h of cfg.hosts) {
    const server = daemon.newServer();
    if (h.startsWith('unix://')) {
      const sock = h.slice('unix://'.length);
      fs.mkdirSync(path.dirname(sock), { recursive: true, mode: 0o711 });
      fs.rmSync(sock, { force: true });
      // Not world-writable: the socket is root's (docker's is root:docker 0660).
      const oldMask = process.umask(0o117);
      await new Promise<void>((resolve) => server.listen(sock, resolve));
      process.umask(oldMask);
    } else if (h.startsWith('tcp://')) {
      const u = new URL(h.replace(/^tcp:/, 'http:'));
      await new Promise<void>((resolve) => server.listen(Number(u.port || 2375), u.hostname, resolve));
      log.warn('listening on TCP without TLS', { host: h });
    } else {
      throw new Error(`unsupported host ${h}: use unix:// or tcp://`);
    }
    listening.push(server);
    log.info('API listening', { host: h });
  }
  // One request's failure (a client gone mid-stream, a bug in a handler) must never take the daemon and its
  // bookkeeping down: log it and go on, as dockerd does.
  process.on('unhandledRejection', (e) => log.error('unhandled rejection', { error: String((e as Error)?.stack ?? e) }));
  process.on('uncaughtException', (e) => log.error('uncaught exception', { error: String(e?.stack ?? e) }));
  const shutdown = (sig: string) => {
    log.info('shutting down; containers keep running', { signal: sig });
    for (const s of listening) s.close();
    daemon
      .shutdown()
      .catch((e) => log.warn('shutdown cleanup failed', { error: String(e) }))
      .finally(() => process.exit(0));
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

function answers(sock: string): Promise<boolean> {
  return new Promise((resolve) => {
    const c = net.connect(sock);
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
}

main();
