import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import {
  familiarName, familiarString, fullString, parseAnyReference, parseNormalizedNamed, tagNameOnly, validateTag,
} from '../../src/image/reference';

const hex = 'a'.repeat(64);
const dgst = `sha256:${'0123456789abcdef'.repeat(4)}`;

const ok: [input: string, full: string, familiar: string][] = [
  ['busybox', 'docker.io/library/busybox', 'busybox'],
  ['busybox:latest', 'docker.io/library/busybox:latest', 'busybox:latest'],
  ['library/busybox:1.36', 'docker.io/library/busybox:1.36', 'busybox:1.36'],
  ['docker.io/library/busybox', 'docker.io/library/busybox', 'busybox'],
  ['index.docker.io/busybox', 'docker.io/library/busybox', 'busybox'],
  ['docker.io/busybox:Latest_1.x-rc', 'docker.io/library/busybox:Latest_1.x-rc', 'busybox:Latest_1.x-rc'],
  ['me/app:v1', 'docker.io/me/app:v1', 'me/app:v1'],
  ['docker.io/me/sub/app', 'docker.io/me/sub/app', 'me/sub/app'],
  ['localhost/app', 'localhost/app', 'localhost/app'],
  ['localhost:5000/app:v1', 'localhost:5000/app:v1', 'localhost:5000/app:v1'],
  ['127.0.0.1:5000/mywebapp:v1', '127.0.0.1:5000/mywebapp:v1', '127.0.0.1:5000/mywebapp:v1'],
  ['[::1]:5000/app', '[::1]:5000/app', '[::1]:5000/app'],
  ['Registry.Example.com/team/app', 'Registry.Example.com/team/app', 'Registry.Example.com/team/app'],
  ['my-registry.io:443/a__b/c.d-e', 'my-registry.io:443/a__b/c.d-e', 'my-registry.io:443/a__b/c.d-e'],
  [`busybox@${dgst}`, `docker.io/library/busybox@${dgst}`, `busybox@${dgst}`],
  [`busybox:1.36@${dgst}`, `docker.io/library/busybox:1.36@${dgst}`, `busybox:1.36@${dgst}`],
  [`127.0.0.1:5000/app@${dgst}`, `127.0.0.1:5000/app@${dgst}`, `127.0.0.1:5000/app@${dgst}`],
];

for (const [input, full, familiar] of ok) {
  test(`parse ${input}`, () => {
    const r = parseNormalizedNamed(input);
    assert.equal(fullString(r), full);
    assert.equal(familiarString(r), familiar);
  });
}

const bad: [input: string, message: string][] = [
  ['Busybox', 'invalid reference format: repository name (library/Busybox) must be lowercase'],
  ['me/App:v1', 'invalid reference format: repository name (me/App) must be lowercase'],
  ['', 'invalid reference format'],
  ['busybox:', 'invalid reference format'],
  [':latest', 'invalid reference format'],
  ['busybox::1', 'invalid reference format'],
  ['bu$ybox', 'invalid reference format'],
  ['-busybox', 'invalid reference format'],
  ['busybox-', 'invalid reference format'],
  ['a//b', 'invalid reference format'],
  ['http://registry/app', 'invalid reference format'],
  [`busybox:${'x'.repeat(129)}`, 'invalid reference format'],
  ['busybox@sha256:abc', 'invalid reference format'],
  [`busybox@sha256:${'a'.repeat(40)}`, 'invalid checksum digest length'],
  [`busybox@md5:${'a'.repeat(32)}`, 'unsupported digest algorithm'],
  [hex, `invalid repository name (${hex}), cannot specify 64-byte hexadecimal strings`],
  [`docker.io/${'a'.repeat(250)}`, 'repository name must not be more than 255 characters'],
];

for (const [input, message] of bad) {
  test(`refuse ${JSON.stringify(input.slice(0, 40))}`, () => {
    assert.throws(() => parseNormalizedNamed(input), { message });
  });
}

test('a 128-character tag is the longest allowed', () => {
  assert.equal(parseNormalizedNamed(`busybox:${'x'.repeat(128)}`).tag?.length, 128);
});

test('tagNameOnly adds latest only when there is neither tag nor digest', () => {
  assert.equal(familiarString(tagNameOnly(parseNormalizedNamed('busybox'))), 'busybox:latest');
  assert.equal(familiarString(tagNameOnly(parseNormalizedNamed('busybox:1'))), 'busybox:1');
  assert.equal(familiarString(tagNameOnly(parseNormalizedNamed(`busybox@${dgst}`))), `busybox@${dgst}`);
});

test('familiarName keeps non-library docker.io paths and other registries whole', () => {
  assert.equal(familiarName(parseNormalizedNamed('docker.io/library/a/b')), 'library/a/b');
  assert.equal(familiarName(parseNormalizedNamed('quay.io/library/a')), 'quay.io/library/a');
});

test('parseAnyReference: ids, sha256 digests and names', () => {
  assert.deepEqual(parseAnyReference(hex), { id: `sha256:${hex}` });
  assert.deepEqual(parseAnyReference(`sha256:${hex}`), { id: `sha256:${hex}` });
  assert.equal(fullString(parseAnyReference('busybox:latest') as never), 'docker.io/library/busybox:latest');
  // a short sha256: prefix is not a digest: docker parses it as the name "sha256" with a tag
  assert.equal(fullString(parseAnyReference('sha256:abc') as never), 'docker.io/library/sha256:abc');
  assert.throws(() => parseAnyReference('Busybox'), /must be lowercase/);
});

test('validateTag', () => {
  assert.equal(validateTag('v1.0-rc_2'), 'v1.0-rc_2');
  for (const t of ['-x', '.x', 'a/b', 'a:b', '', 'x'.repeat(129)]) assert.throws(() => validateTag(t), { message: 'invalid tag format' });
});
