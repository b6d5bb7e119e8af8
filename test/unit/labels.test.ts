/** docker's `label` filter: every value given must match (compose filters by project AND service). */
const matchLabels = (labels: Record<string, string> | null, wanted: string[]): boolean => wanted.every((w) => labelMatches(labels, w));
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { labelMatches } from '../../src/common/filters';
import { eventMatches, type EngineEvent } from '../../src/engine/events';

test('label filters given several times are ANDed', () => {
  const labels = { 'com.docker.compose.project': 'p', 'com.docker.compose.service': 'db', flag: '' };
  assert.equal(matchLabels(labels, ['com.docker.compose.project=p', 'com.docker.compose.service=db']), true);
  assert.equal(matchLabels(labels, ['com.docker.compose.project=p', 'com.docker.compose.service=web']), false);
  assert.equal(matchLabels(labels, ['flag', 'com.docker.compose.project']), true);
  assert.equal(matchLabels(labels, ['flag=x']), false);
  assert.equal(matchLabels(null, []), true);
  const ev: EngineEvent = { Type: 'container', Action: 'start', Actor: { ID: 'abc', Attributes: { ...labels, name: 'p-db-1' } }, scope: 'local', time: 0, timeNano: 0 };
  assert.equal(eventMatches(ev, { label: ['com.docker.compose.project=p', 'com.docker.compose.service=db'] }), true);
  assert.equal(eventMatches(ev, { label: ['com.docker.compose.project=p', 'com.docker.compose.service=web'] }), false);
});
