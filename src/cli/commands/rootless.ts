/** `berth system rootless-check`: what this user lacks to run rootless Berth, and how to fix it (no daemon needed). */
import { StatusError, type Command } from '../cli';
import { describeMissing, rootlessMissing } from '../../rootless/check';

export const rootlessCheck: Command = {
  use: 'rootless-check',
  short: 'Check that this user can run a rootless berthd, naming what is missing and the fix',
  flags: [],
  args: [0, 0],
  async run() {
    if (process.getuid?.() === 0) {
      process.stdout.write('You are root: berthd runs rootful (rootless Berth is for non-root users).\n');
      return;
    }
    const missing = rootlessMissing();
    if (missing.length) {
      process.stderr.write(`${describeMissing(missing)}\n`);
      throw new StatusError(1);
    }
    process.stdout.write('Rootless Berth can run for this user: start berthd (or any berth command starts it).\n');
  },
};
