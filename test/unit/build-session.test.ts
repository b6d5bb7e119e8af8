/** BuildKit session requests (POST /session): what opens one, what is refused before the connection is upgraded. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { BuildSessions, sessionInfo } from '../../src/api/session';

describe('build sessions', () => {
  const headers = { upgrade: 'h2c', 'x-docker-expose-session-uuid': 'u1', 'x-docker-expose-session-name': 'ctx' };

  it('reads the id and name; refuses another upgrade and a missing id', () => {
    assert.deepEqual(sessionInfo(headers), { id: 'u1', name: 'ctx' });
    assert.throws(() => sessionInfo({ ...headers, upgrade: 'tcp' }), /the connection must upgrade to h2c/);
    assert.throws(() => sessionInfo({ upgrade: 'h2c' }), /X-Docker-Expose-Session-Uuid is required/);
  });

  it('a build waits for its session, finds it once attached, and refuses a second one with the same id', async () => {
    const sessions = new BuildSessions();
    const waiting = sessions.get('u1');
    const socket = new PassThrough();
    sessions.attach(sessionInfo(headers), socket);
    assert.deepEqual(await waiting, { id: 'u1', name: 'ctx' });
    assert.throws(() => sessions.attach(sessionInfo(headers), new PassThrough()), /session u1 is already open/);
    socket.destroy();
  });
});
