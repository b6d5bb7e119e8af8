/**
 * Berth as a system service (`berth system install|uninstall`: the systemd units of contrib/systemd and the socket
 * group; with --user, the rootless daemon as a systemd user service) and `berth system dial-stdio`, the far end of
 * ssh:// connections (the docker CLI's too).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describeMissing, rootlessMissing } from '../../rootless/check';
import { StatusError, type Command } from '../cli';
import type { ParsedFlags } from '../flags';

const ROOT = path.resolve(__dirname, '../../../..');
const UNITS = ['berth.socket', 'berth.service'];
const GROUP = 'berth';

/** A unit file of contrib/systemd with the path of this install's berthd filled in (pure). */
export function renderUnit(template: string, berthd: string): string {
  return template.replaceAll('@BERTHD@', berthd);
}

const systemdRunning = (): boolean => fs.existsSync('/run/systemd/system');

function run(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.error) throw new StatusError(1, `${cmd} ${args.join(' ')}: ${r.error.message}`);
  if (r.status !== 0) throw new StatusError(1, `${cmd} ${args.join(' ')} failed: ${(r.stderr || r.stdout).trim()}`);
}

function groupExists(name: string): boolean {
  return spawnSync('getent', ['group', name]).status === 0;
}

/** What one install is: the system's units (rootful, socket-activated) or the user's one unit (rootless). */
interface Target {
  dir: string;
  /** Installed name -> template in contrib/systemd. */
  units: [string, string][];
  /** systemctl's scope: the system manager, or the user's (`--user`). */
  scope: string[];
  /** Can systemctl reach the manager that would run the units? */
  managerRunning: () => boolean;
}

const SYSTEM_UNIT_DIR = '/etc/systemd/system';

function target(o: ParsedFlags): Target {
  const given = (o.values['unit-dir'] as string) || undefined;
  if (!o.values.user) {
    return { dir: given ?? SYSTEM_UNIT_DIR, units: UNITS.map((u) => [u, u]), scope: [], managerRunning: systemdRunning };
  }
  if (process.getuid?.() === 0) throw new StatusError(1, '--user installs a rootless berthd for the user running it: run it as that user, not as root');
  const config = process.env.XDG_CONFIG_HOME || path.join(os.homedir(), '.config');
  const bus = process.env.XDG_RUNTIME_DIR && path.join(process.env.XDG_RUNTIME_DIR, 'systemd/private');
  return {
    dir: given ?? path.join(config, 'systemd/user'),
    units: [['berth.service', 'berth-rootless.service']],
    scope: ['--user'],
    managerRunning: () => !!bus && fs.existsSync(bus),
  };
}

const unitDirFlag = { name: 'unit-dir', kind: 'string' as const, usage: `Directory of the unit files (default ${SYSTEM_UNIT_DIR}; with --user, ~/.config/systemd/user)` };
const userFlag = { name: 'user', kind: 'bool' as const, usage: 'The rootless daemon of the user running the command, as a systemd user service' };

export const install: Command = {
  use: 'install [OPTIONS]',
  short: 'Install Berth as a systemd service (berth.socket, berth.service) and create the berth group',
  flags: [unitDirFlag, userFlag, { name: 'no-start', kind: 'bool', usage: 'Do not enable and start the units' }],
  args: [0, 0],
  async run(_ctx, o) {
    const t = target(o);
    if (o.values.user) {
      const missing = rootlessMissing();
      if (missing.length) throw new StatusError(1, describeMissing(missing));
    }
    const berthd = path.join(ROOT, 'bin/berthd');
    try {
      fs.mkdirSync(t.dir, { recursive: true });
      for (const [unit, template] of t.units) {
        fs.writeFileSync(path.join(t.dir, unit), renderUnit(fs.readFileSync(path.join(ROOT, 'contrib/systemd', template), 'utf8'), berthd), { mode: 0o644 });
      }
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      throw new StatusError(1, `cannot write the units to ${t.dir}: ${err.code === 'EACCES' ? 'permission denied; run as root (sudo berth system install)' : err.message}`);
    }
    const names = t.units.map(([u]) => u);
    const paths = names.map((u) => path.join(t.dir, u)).join(' and ');
    if (o.values.user) {
      const sock = path.join(process.env.XDG_RUNTIME_DIR || `/run/user/${process.getuid?.()}`, 'berth/berth.sock');
      process.stdout.write(`Installed ${paths}. The berth CLI finds the daemon by itself; for the docker CLI and other clients:
  export DOCKER_HOST=unix://${sock}
`);
      process.stdout.write(`To keep it running without a login session: loginctl enable-linger ${os.userInfo().username}
`);
    } else {
      if (!groupExists(GROUP)) run('groupadd', ['--system', GROUP]);
      process.stdout.write(`Installed ${paths}; members of the group "${GROUP}" may use Berth (and so have root on this host).
`);
    }
    if (o.values['no-start']) return;
    if (!t.managerRunning()) {
      process.stdout.write(`systemd is not running here: start Berth with \`${['systemctl', ...t.scope, 'enable', '--now', ...names].join(' ')}\` on a systemd host.
`);
      return;
    }
    run('systemctl', [...t.scope, 'daemon-reload']);
    run('systemctl', [...t.scope, 'enable', '--now', ...names]);
    process.stdout.write(`Enabled and started ${names.join(' and ')}.
`);
  },
};

export const uninstall: Command = {
  use: 'uninstall [OPTIONS]',
  short: 'Stop and remove the Berth systemd units (containers, images and the berth group are kept)',
  flags: [unitDirFlag, userFlag],
  args: [0, 0],
  async run(_ctx, o) {
    const t = target(o);
    const names = t.units.map(([u]) => u);
    const managed = t.managerRunning() && !o.values['unit-dir'];
    if (managed) run('systemctl', [...t.scope, 'disable', '--now', ...names]);
    try {
      for (const unit of names) fs.rmSync(path.join(t.dir, unit), { force: true });
    } catch (e) {
      throw new StatusError(1, `cannot remove the units from ${t.dir}: ${(e as Error).message}`);
    }
    if (managed) run('systemctl', [...t.scope, 'daemon-reload']);
    process.stdout.write(`Removed ${names.map((u) => path.join(t.dir, u)).join(' and ')}.
`);
  },
};

export const dialStdio: Command = {
  use: 'dial-stdio',
  short: 'Proxy the stdio stream to the daemon connection. Should not be invoked manually.',
  flags: [],
  args: [0, 0],
  async run(ctx) {
    const client = await ctx.client();
    const { rawConnection } = await import('../../client/engine');
    const conn = await rawConnection(client.endpoint);
    // Half-close each way as docker's dial-stdio: EOF on stdin ends our writes only; the daemon's EOF ends stdout.
    process.stdin.pipe(conn);
    conn.pipe(process.stdout);
    await new Promise<void>((resolve, reject) => {
      conn.on('end', () => process.stdout.end(resolve));
      conn.on('error', reject);
    });
  },
};
