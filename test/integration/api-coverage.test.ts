/**
 * Every endpoint of the Engine API 1.43, as listed in docs/compatibility.md, is routed: none answers 404 "page not
 * found" (what an unrouted path gets) or 500. Requests name objects that do not exist, so they change nothing.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { REPO, TestDaemon } from '../helpers/daemon';

const d = new TestDaemon('coverage');
before(() => d.start());
after(() => d.stop());

const NOSUCH = 'berth-coverage-nosuch';

/** Query strings that keep a streaming endpoint from streaming forever, or give a required parameter. */
const QUERY: Record<string, string> = {
  'GET /events': `until=${Math.floor(Date.now() / 1000)}`,
  'GET /containers/{id}/stats': 'stream=false',
  'GET /images/search': 'term=',
  'POST /commit': `container=${NOSUCH}`,
  'GET /images/get': `names=${NOSUCH}`,
  'GET /containers/{id}/archive': 'path=/',
  'HEAD /containers/{id}/archive': 'path=/',
  'PUT /containers/{id}/archive': 'path=/',
};

function endpoints(): { method: string; pattern: string }[] {
  const doc = fs.readFileSync(path.join(REPO, 'docs/compatibility.md'), 'utf8');
  return [...doc.matchAll(/^\| `(GET|POST|PUT|DELETE|HEAD) (\/[^`]*)` \|/gm)].map((m) => ({ method: m[1], pattern: m[2] }));
}

function send(method: string, urlPath: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const body = method === 'POST' || method === 'PUT' ? '{}' : undefined;
    const type = urlPath.includes('/archive') ? 'application/x-tar' : 'application/json';
    const req = http.request({ socketPath: d.socket, method, path: urlPath, headers: body ? { 'Content-Type': type } : {}, timeout: 10_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${urlPath}: no answer in 10 s`)));
    req.on('error', reject);
    req.end(body);
  });
}

describe('Engine API 1.43 coverage', () => {
  const list = endpoints();
  it('docs/compatibility.md lists the 107 endpoints of the spec', () => assert.equal(list.length, 107));

  for (const { method, pattern } of list) {
    it(`${method} ${pattern} is routed`, async () => {
      const q = QUERY[`${method} ${pattern}`];
      const urlPath = `/v1.43${pattern.replace(/\{(id|name)\}/g, NOSUCH)}${q ? `?${q}` : ''}`;
      const r = await send(method, urlPath);
      assert.ok(!(r.status === 404 && r.body.includes('page not found')), `${method} ${pattern}: ${r.status} ${r.body}`);
      assert.notEqual(r.status, 405, `${method} ${pattern}: method not allowed`);
      assert.ok(r.status < 500 || r.status === 501 || r.status === 503, `${method} ${pattern}: ${r.status} ${r.body}`);
    });
  }
});
