/** Where a program is on a PATH (executable regular files only), as the shell's `command -v`. */
import * as fs from 'node:fs';
import * as path from 'node:path';

export function which(name: string, PATH = '/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin'): string | undefined {
  for (const dir of PATH.split(':')) {
    const p = path.join(dir || '.', name);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      if (fs.statSync(p).isFile()) return p;
    } catch {
      /* not here */
    }
  }
  return undefined;
}
