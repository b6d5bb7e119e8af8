import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readInRoot, resolveInRoot } from '../../src/common/rootpath';

test('files are read inside the root: absolute and climbing symlinks never reach the host', (t) => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'rootpath-'));
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  fs.mkdirSync(path.join(root, 'etc'));
  fs.mkdirSync(path.join(root, 'data'));
  fs.writeFileSync(path.join(root, 'data/passwd'), 'inside:x:7:7::/:/bin/sh\n');
  fs.symlinkSync('/data/passwd', path.join(root, 'etc/passwd')); // absolute: the container's /data, not the host's
  fs.symlinkSync('../../../../../../etc/hostname', path.join(root, 'etc/group')); // climbs: stops at the root
  assert.equal(readInRoot(root, 'etc/passwd'), 'inside:x:7:7::/:/bin/sh\n');
  assert.equal(resolveInRoot(root, 'etc/group'), 'etc/hostname');
  assert.equal(readInRoot(root, 'etc/group'), undefined, 'the host /etc/hostname is not read');
  assert.equal(resolveInRoot(root, 'etc/passwd', false), 'etc/passwd');
});
