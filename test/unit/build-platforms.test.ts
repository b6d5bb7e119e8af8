import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { canRun, noEmulator, stagePlatforms } from '../../src/build/platforms';
import { planBuild, platformArgs } from '../../src/build/planner';
import { configPlatform, parsePlatformList, platformMatches } from '../../src/image/platform';

const amd64 = { os: 'linux', architecture: 'amd64' };
const arm64 = { os: 'linux', architecture: 'arm64' };

test('a --platform list: normalized, duplicates dropped, order kept; a bad entry refused', () => {
  assert.deepEqual(parsePlatformList('linux/amd64, linux/arm64/v8,linux/aarch64'), [amd64, arm64]);
  assert.deepEqual(parsePlatformList('linux/arm/v7'), [{ os: 'linux', architecture: 'arm', variant: 'v7' }]);
  assert.throws(() => parsePlatformList(','), /invalid platform/);
  assert.throws(() => parsePlatformList('linux/amd64,windows/amd64'), /only linux images/);
});

test('an image config platform and what it serves', () => {
  assert.deepEqual(configPlatform({ os: 'linux', architecture: 'aarch64', variant: 'v8' }), arm64);
  assert.deepEqual(configPlatform({ os: 'windows', architecture: 'amd64' }), { os: 'windows', architecture: 'amd64' });
  assert.deepEqual(configPlatform({ os: '', architecture: '' }).os, 'linux');
  assert.ok(platformMatches({ os: 'linux', architecture: 'arm', variant: 'v7' }, { os: 'linux', architecture: 'arm' }));
  assert.ok(!platformMatches({ os: 'linux', architecture: 'arm', variant: 'v6' }, { os: 'linux', architecture: 'arm', variant: 'v7' }));
  assert.ok(!platformMatches(amd64, arm64));
});

test('stage platforms: FROM --platform (args expanded), else the base stage, else the target', () => {
  const text = `FROM --platform=$BUILDPLATFORM busybox AS tools
FROM tools AS more
FROM busybox
FROM --platform=linux/arm/v7 busybox
`;
  const plan = planBuild(text, { automaticArgs: platformArgs('linux/arm64', 'linux/amd64') });
  assert.deepEqual(stagePlatforms(plan, arm64), [amd64, amd64, arm64, { os: 'linux', architecture: 'arm', variant: 'v7' }]);
  const bad = planBuild('FROM --platform=linux/a:b busybox\n');
  assert.throws(() => stagePlatforms(bad, arm64), /Dockerfile:1: FROM: invalid platform/);
});

test('RUN on a platform: natively, or through an enabled qemu binfmt_misc handler only', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-binfmt-'));
  try {
    assert.ok(canRun(amd64, amd64, dir));
    assert.ok(canRun({ ...amd64, variant: 'v3' }, amd64, dir));
    assert.ok(!canRun(arm64, amd64, dir));
    fs.writeFileSync(path.join(dir, 'qemu-aarch64'), 'disabled\ninterpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\n');
    assert.ok(!canRun(arm64, amd64, dir));
    fs.writeFileSync(path.join(dir, 'qemu-aarch64'), 'enabled\ninterpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\n');
    assert.ok(canRun(arm64, amd64, dir));
    assert.ok(!canRun({ os: 'linux', architecture: 'wasm32' }, amd64, dir));
    assert.match(noEmulator(arm64, amd64), /no emulator for linux\/arm64 \(this builder runs linux\/amd64\): no enabled qemu-aarch64 handler/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
