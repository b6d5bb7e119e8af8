/**
 * Berth as a system service (`berth system install|uninstall`: the systemd units of contrib/systemd and the socket
 * group) and `berth system dial-stdio`, the far end of ssh:// connections (the docker CLI's too).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { StatusError, type Command } from '../cli';

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

const unitDirFlag = { name: 'unit-dir', kind: 'string' as const, usage: 'Directory of the unit files', default: '/etc/systemd/system' };

export const install: Command = {
  use: 'install [OPTIONS]',
  short: 'Install Berth as a systemd service (berth.socket, berth.service) and create the berth group',
  flags: [unitDirFlag, { name: 'no-start', kind: 'bool', usage: 'Do not enable and start the units' }],
  args: [0, 0],
  async run(_ctx, o) {
    const dir = o.values['unit-dir'] as string;
    const berthd = path.join(ROOT, 'bin/berthd');
    try {
      fs.mkdirSync(dir, { recursive: true });
      for (const unit of UNITS) {
        fs.writeFileSync(path.join(dir, unit), renderUnit(fs.readFileSync(path.join(ROOT, 'contrib/systemd', unit), 'utf8'), berthd), { mode: 0o644 });
      }
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      throw new StatusError(1, `cannot write the units to ${dir}: ${err.code === 'EACCES' ? 'permission denied; run as root (sudo berth system install)' : err.message}`);
    }
    if (!groupExists(GROUP)) run('groupadd', ['--system', GROUP]);
    process.stdout.write(`Installed ${UNITS.map((u) => path.join(dir, u)).join(' and ')}; members of the group "${GROUP}" may use Berth (and so have root on this host).\n`);
    if (o.values['no-start']) return;
    if (!systemdRunning()) {
      process.stdout.write('systemd is not running here: start Berth with `systemctl enable --now berth.socket berth.service` on a systemd host.\n');
      return;
    }
    run('systemctl', ['daemon-reload']);
    run('systemctl', ['enable', '--now', ...UNITS]);
    process.stdout.write('Enabled and started berth.socket and berth.service.\n');
  },
};

export const uninstall: Command = {
  use: 'uninstall [OPTIONS]',
  short: 'Stop and remove the Berth systemd units (containers, images and the berth group are kept)',
  flags: [unitDirFlag],
  args: [0, 0],
  async run(_ctx, o) {
    const dir = o.values['unit-dir'] as string;
    if (systemdRunning() && dir === unitDirFlag.default) run('systemctl', ['disable', '--now', ...UNITS]);
    try {
      for (const unit of UNITS) fs.rmSync(path.join(dir, unit), { force: true });
    } catch (e) {
      throw new StatusError(1, `cannot remove the units from ${dir}: ${(e as Error).message}`);
    }
    if (systemdRunning() && dir === unitDirFlag.default) run('systemctl', ['daemon-reload']);
    process.stdout.write(`Removed ${UNITS.map((u) => path.join(dir, u)).join(' and ')}.\n`);
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
