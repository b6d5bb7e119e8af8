#!/usr/bin/env node
/**
 * berthd: owns all state and serves the Docker Engine API on unix sockets, sockets passed by systemd, and TCP with
 * TLS. As a systemd service (Type=notify) it reports READY=1 once listening and STOPPING=1 on shutdown.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { log, setLogFile, setLogFormat, setLogLevel } from '../common/log';
import { isRootless, ROOTLESS_ENV, rootlessPaths } from '../common/rootless';
import { enterRuntimeNamespace, watchWrapper } from '../runtime/cgroups';
import { enterRootless } from '../rootless/enter';
import { parseDaemonArgs, USAGE, type DaemonConfig } from './config';
import { startDaemon } from './daemon';
import { installFailClosed } from './fail-closed';
import { notify, selectFds, takeSystemdEnv } from './activation';
import { listenerOptions, planListener, socketGid } from './listeners';
import { DataRootBusy } from './lock';

const VERSION: string = (require('../../../package.json') as { version: string }).version;

function main(): void {
  let cfg: DaemonConfig | 'help' | 'version';
  const rootless = isRootless() || process.getuid?.() !== 0;
  const paths = rootless ? rootlessPaths(process.env, os.homedir()) : undefined;
  try {
    cfg = parseDaemonArgs(process.argv.slice(2), paths && { dataRoot: paths.dataRoot, execRoot: paths.execRoot });
  } catch (e) {
    process.stderr.write(`berthd: ${(e as Error).message}\n\n${USAGE}`);
    process.exit(125);
  }
  if (cfg === 'help') return void process.stdout.write(USAGE);
  if (cfg === 'version') return void process.stdout.write(`berthd version ${VERSION}\n`);
  if (isRootless()) watchWrapper(Number(process.env[ROOTLESS_ENV]));
  else if (rootless) return enterRootless({ dataRoot: cfg.dataRoot, execRoot: cfg.execRoot });
  else if (!enterRuntimeNamespace()) return;
  setLogLevel(cfg.logLevel);
  setLogFormat(cfg.logFormat);
  if (cfg.logFile) setLogFile(cfg.logFile);
  void run(cfg);
}

async function run(cfg: DaemonConfig): Promise<void> {
  installFailClosed();
  // Every -H is checked (its TLS files read, its group and activated sockets found) before any state is touched.
  let listeners;
  let gid: number | undefined;
  try {
    const activated = takeSystemdEnv();
    listeners = cfg.hosts.map((h) => {
      const plan = planListener(h, cfg.tls);
      const fds = plan.kind === 'fd' ? selectFds(h, activated) : [];
      return { h, plan, fds, options: listenerOptions(plan, cfg.tls) };
    });
    // a rootless daemon's socket is its user's alone (the host's groups are not mapped into its user namespace)
    if (!isRootless() && listeners.some((l) => l.plan.kind === 'unix')) gid = socketGid(cfg.group, readGroupFile());
  } catch (e) {
    log.error((e as Error).message);
    process.exit(1);
  }
  for (const { plan } of listeners) {
    if (plan.kind === 'unix' && (await answers(plan.path))) {
      log.error('another daemon is already listening', { socket: plan.path });
      process.exit(1);
    }
  }
  let daemon: Awaited<ReturnType<typeof startDaemon>>;
  try {
    daemon = await startDaemon(cfg, VERSION);
  } catch (e) {
    if (!(e instanceof DataRootBusy)) throw e;
    process.stderr.write(`berthd: ${e.message}\n`);
    process.exit(1);
  }
  const listening: net.Server[] = [];
  for (const { h, plan, fds, options } of listeners) {
    if (plan.kind === 'fd') {
      for (const { fd, name } of fds) {
        const server = daemon.newServer(options);
        await listen(server, { fd });
        listening.push(server);
        log.info('API listening (socket activation)', { host: h, fd, name, tls: plan.tls });
      }
      continue;
    }
    const server = daemon.newServer(options);
    if (plan.kind === 'unix') {
      fs.mkdirSync(path.dirname(plan.path), { recursive: true, mode: 0o711 });
      fs.rmSync(plan.path, { force: true });
      // root:<group> 0660 as docker's root:docker socket; root only without a group
      const oldMask = process.umask(0o117);
      await listen(server, { path: plan.path });
      process.umask(oldMask);
      if (gid !== undefined) fs.chownSync(plan.path, 0, gid);
    } else {
      await listen(server, { port: plan.port, host: plan.host });
      if (!plan.tls) log.warn('listening on loopback TCP without TLS (--tls=false): any local user can reach the API', { host: h });
      else if (!plan.verify) log.warn('listening on TCP with TLS but without client certificates (--tlsverify not set): anyone who can reach it has root', { host: h });
    }
    listening.push(server);
    log.info('API listening', { host: h, tls: plan.kind === 'tcp' && plan.tls, verify: plan.kind === 'tcp' && plan.verify, ...(plan.kind === 'unix' ? { gid: gid ?? 0 } : {}) });
  }
  // rootless, the main process stays the wrapper that made the namespaces (it relays signals, owns slirp4netns)
  notify(isRootless() ? 'READY=1' : `READY=1\nMAINPID=${process.pid}`);
  const shutdown = (sig: string) => {
    log.info('shutting down; containers keep running', { signal: sig });
    notify('STOPPING=1');
    for (const s of listening) s.close();
    // Releasing networks runs netavark; a stuck tool must not keep a stopping daemon (and its data-root lock) alive.
    setTimeout(() => {
      log.warn('shutdown cleanup did not finish within 20 s; exiting anyway');
      process.exit(0);
    }, 20_000).unref();
    daemon
      .shutdown()
      .catch((e) => log.warn('shutdown cleanup failed', { error: String(e) }))
      .finally(() => process.exit(0));
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

/**
 * Listen, or exit with the reason (an address in use is a start-up failure). Later server errors (accept failing
 * on EMFILE) concern one connection and are logged.
 */
function listen(server: net.Server, at: net.ListenOptions | { fd: number }): Promise<void> {
  return new Promise((resolve) => {
    let up = false;
    server.on('error', (e) => {
      if (up) return log.error('API server error', { error: e.message });
      log.error('cannot listen', { address: 'fd' in at ? `fd ${at.fd}` : at.path ?? `${at.host} ${at.port}`, error: e.message });
      process.exit(1);
    });
    server.listen(at as net.ListenOptions, () => {
      up = true;
      resolve();
    });
  });
}

function readGroupFile(): string {
  try {
    return fs.readFileSync('/etc/group', 'utf8');
  } catch {
    return '';
  }
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
