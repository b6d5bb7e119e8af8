/** The parsers in src/common/ that replaced per-caller copies: ports, Go durations, filters. */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { parseGoDuration, parseTimestamp, tryGoDuration } from '../../src/common/duration';
import { checkFilterKeys, labelMatches } from '../../src/common/filters';
import { inBounds, isProtocol, parsePortRange, portKeys, portRange, splitPortProto } from '../../src/common/ports';

test('parseGoDuration follows Go (moved from build-instructions.test.ts)', () => {
  assert.equal(parseGoDuration('0'), 0);
  assert.equal(parseGoDuration('1h2m3s'), 3723e9);
  assert.equal(parseGoDuration('1.5s'), 1.5e9);
  assert.equal(parseGoDuration('.5ms'), 5e5);
  assert.equal(parseGoDuration('10us'), 1e4);
  assert.equal(parseGoDuration('10µs'), 1e4);
  assert.equal(parseGoDuration('-2m'), -120e9);
  assert.throws(() => parseGoDuration(''), /invalid duration ""/);
  assert.throws(() => parseGoDuration('1d'), /unknown unit "d" in duration "1d"/);
  assert.throws(() => parseGoDuration('s'), /invalid duration "s"/);
  assert.throws(() => parseGoDuration('1'), /missing unit/);
});

test('tryGoDuration: nanoseconds or undefined (moved from flags.test.ts, which had milliseconds)', () => {
  assert.equal(tryGoDuration('1h30m'), 5_400e9);
  assert.equal(tryGoDuration('bad'), undefined);
  assert.equal(tryGoDuration('1'), undefined);
});

test('parseTimestamp: unix seconds, RFC 3339, or a Go duration ago', () => {
  const now = 1_700_000_600_000;
  assert.equal(parseTimestamp('1700000000', now), 1_700_000_000_000);
  assert.equal(parseTimestamp('1700000000.5', now), 1_700_000_000_500);
  assert.equal(parseTimestamp('10m', now), 1_700_000_000_000);
  assert.equal(parseTimestamp('1h0m30s', now), now - 3_630_000);
  assert.equal(parseTimestamp('1.5h', now), now - 5_400_000);
  assert.equal(parseTimestamp('2023-11-14T22:13:20Z', now), 1_700_000_000_000);
  assert.throws(() => parseTimestamp('yesterday', now), /failed to parse value as time or duration: "yesterday"/);
  assert.throws(() => parseTimestamp('', now), /failed to parse/);
});

test('splitPortProto: at the last slash, protocol lower-cased, tcp by default', () => {
  assert.deepEqual(splitPortProto('80'), { ports: '80', proto: 'tcp' });
  assert.deepEqual(splitPortProto('80/UDP'), { ports: '80', proto: 'udp' });
  assert.deepEqual(splitPortProto('8000-8010/sctp'), { ports: '8000-8010', proto: 'sctp' });
  assert.deepEqual(splitPortProto('80/'), { ports: '80', proto: '' });
  assert.deepEqual(splitPortProto('80/tcp/x'), { ports: '80/tcp', proto: 'x' });
});

test('isProtocol: tcp, udp and sctp only', () => {
  for (const p of ['tcp', 'udp', 'sctp']) assert.ok(isProtocol(p));
  for (const p of ['', 'icmp', 'TCP']) assert.ok(!isProtocol(p));
});

test('parsePortRange is syntax only; inBounds and portRange check 0/1..65535 and order', () => {
  assert.deepEqual(parsePortRange('80'), { start: 80, end: 80 });
  assert.deepEqual(parsePortRange('8000-8010'), { start: 8000, end: 8010 });
  assert.deepEqual(parsePortRange('90-80'), { start: 90, end: 80 });
  for (const bad of ['', 'http', '80-', '-80', '1.5', '80 ', '0x50']) assert.equal(parsePortRange(bad), undefined, bad);
  assert.ok(inBounds({ start: 0, end: 0 }));
  assert.ok(!inBounds({ start: 0, end: 0 }, 1));
  assert.ok(!inBounds({ start: 90, end: 80 }));
  assert.ok(!inBounds({ start: 1, end: 65536 }));
  assert.deepEqual(portRange('65535'), { start: 65535, end: 65535 });
  assert.equal(portRange('70000'), undefined);
  assert.equal(portRange('0', 1), undefined);
  assert.equal(portRange('90-80'), undefined);
});

test('portKeys: one "port/proto" key per port of a range', () => {
  assert.deepEqual(portKeys({ start: 80, end: 80 }, 'tcp'), ['80/tcp']);
  assert.deepEqual(portKeys({ start: 7000, end: 7002 }, 'udp'), ['7000/udp', '7001/udp', '7002/udp']);
});

test('checkFilterKeys: a 400 naming the unknown key, as docker words it', () => {
  assert.doesNotThrow(() => checkFilterKeys({ label: ['a'], 'label!': ['b'] }, ['label', 'label!']));
  assert.doesNotThrow(() => checkFilterKeys({}, []));
  assert.throws(() => checkFilterKeys({ label: [], bogus: ['1'] }, new Set(['label'])), { status: 400, message: "invalid filter 'bogus'" });
});

test('labelMatches: "key" is presence, "key=value" is equality', () => {
  const labels = { team: 'x', empty: '' };
  assert.ok(labelMatches(labels, 'team'));
  assert.ok(labelMatches(labels, 'team=x'));
  assert.ok(labelMatches(labels, 'empty'));
  assert.ok(labelMatches(labels, 'empty='));
  assert.ok(!labelMatches(labels, 'team=y'));
  assert.ok(!labelMatches(labels, 'other'));
  assert.ok(!labelMatches(labels, 'toString'), 'inherited names are no labels');
  assert.ok(!labelMatches(null, 'team'));
  assert.ok(!labelMatches(undefined, 'team='));
  assert.ok(labelMatches({ 'a=b': 'c' }, 'a=b=c') === false, 'the first "=" splits key and value, as docker does');
});
