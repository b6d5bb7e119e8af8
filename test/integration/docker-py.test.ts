/** docker-py (Debian's python3-docker, a real client) against berthd: runs the pytest suite in test/py. */
import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { REPO, TestDaemon } from '../helpers/daemon';

const d = new TestDaemon('dockerpy');
before(async () => {
  await d.start();
  d.importBusybox();
});
after(() => d.stop());

it('docker-py test suite (test/py) passes', async () => {
  // Debian's interpreter and its python3-docker / python3-pytest (scripts/setup.sh installs them), not another python on PATH.
  const out = await new Promise<{ code: number; text: string }>((resolve) => {
    const p = spawn('/usr/bin/python3', ['-m', 'pytest', '-q', '-p', 'no:cacheprovider', '-W', 'ignore::DeprecationWarning', path.join(REPO, 'test/py')], { env: d.env });
    let text = '';
    p.stdout.on('data', (b: Buffer) => (text += b));
    p.stderr.on('data', (b: Buffer) => (text += b));
    p.on('close', (code) => resolve({ code: code ?? -1, text }));
  });
  assert.equal(out.code, 0, out.text);
  assert.match(out.text, /\d+ passed/);
});
