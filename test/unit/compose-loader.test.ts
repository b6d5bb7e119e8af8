/** berth compose's pure parts: interpolation, merging several files, the loader (env files, profiles, extends, errors with file:line). */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { interpolate, InterpolationError } from '../../src/cli/compose/interpolate';
import { mergeFiles } from '../../src/cli/compose/merge';
import { loadProject, normalizeProjectName, startOrder, type LoadOptions } from '../../src/cli/compose/loader';
import { shellWords } from '../../src/cli/compose/normalize';
import { configHash } from '../../src/cli/compose/convert';

describe('compose interpolation', () => {
  const vars: Record<string, string> = { A: 'a', EMPTY: '' };
  const run = (s: string, unset: string[] = []): string => interpolate(s, { lookup: (n) => vars[n], onUnset: (n) => unset.push(n) });

  it('expands the forms compose knows', () => {
    assert.equal(run('$A ${A} x$A'), 'a a xa');
    assert.equal(run('${NOPE:-def} ${EMPTY:-def} ${EMPTY-def} ${A:-def}'), 'def def  a');
    assert.equal(run('${A:+alt} ${EMPTY:+alt} ${EMPTY+alt} ${NOPE+alt}'), 'alt  alt ');
    assert.equal(run('${NOPE:-${A}-x}'), 'a-x');
    assert.equal(run('$$A $${A} cost: 5$'), '$A ${A} cost: 5$');
  });

  it('warns once per unset variable and uses ""', () => {
    const unset: string[] = [];
    assert.equal(run('[${NOPE}]', unset), '[]');
    assert.deepEqual(unset, ['NOPE']);
  });

  it('refuses :? and ? when unset, and malformed expressions', () => {
    assert.throws(() => run('${NOPE:?give it}'), /required variable NOPE is missing a value: give it/);
    assert.throws(() => run('${EMPTY:?}'), InterpolationError);
    assert.equal(run('${EMPTY?}'), '');
    assert.throws(() => run('${A'), /invalid interpolation format/);
    assert.throws(() => run('${A:-x'), /missing '}'/);
    assert.throws(() => run('${-x}'), /invalid interpolation format/);
  });
});

describe('compose merge', () => {
  it('merges mappings, replaces commands, appends sequences and merges volumes by target', () => {
    const merged = mergeFiles([
      { services: { web: { image: 'a', command: ['x', 'y'], environment: ['A=1', 'B=2'], ports: ['80'], volumes: ['./a:/data', 'v:/v'], labels: { l: '1' } } } },
      { services: { web: { image: 'b', command: ['z'], environment: { B: '3' }, ports: ['81'], volumes: ['./b:/data'] }, db: { image: 'pg' } } },
    ]);
    assert.deepEqual(merged, {
      services: {
        web: { image: 'b', command: ['z'], environment: { A: '1', B: '3' }, ports: ['80', '81'], volumes: ['v:/v', './b:/data'], labels: { l: '1' } },
        db: { image: 'pg' },
      },
    });
  });

  it('splits string commands as shell words', () => {
    assert.deepEqual(shellWords(`sh -c 'echo "hi there"' a\\ b ""`), ['sh', '-c', 'echo "hi there"', 'a b', '']);
    assert.throws(() => shellWords(`echo 'open`), /unterminated quote/);
  });

  it('normalizes project names as compose does', () => {
    assert.equal(normalizeProjectName('My.App_1'), 'myapp_1');
    assert.equal(normalizeProjectName('-x'), 'x');
  });
});

describe('compose loader', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-compose-unit-'));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const write = (name: string, text: string): string => {
    fs.writeFileSync(path.join(dir, name), text);
    return name;
  };
  const load = (o: Partial<LoadOptions>) => loadProject({ files: [], envFiles: [], profiles: [], env: {}, cwd: dir, ...o });

  it('reads .env, lets the process environment win, merges -f files, applies profiles and extends', () => {
    write('.env', 'TAG=fromfile\nexport PORT="8080"\nCOMPOSE_PROJECT_NAME=fromenv\n');
    write('base.yaml', 'services:\n  common:\n    image: busybox\n    environment: [X=1]\n');
    write('compose.yaml', [
      'x-labels: &labels {a: "1"}',
      'services:',
      '  web:',
      '    image: app:${TAG}',
      '    ports: ["${PORT}:80"]',
      '    labels: *labels',
      '    extends: {file: base.yaml, service: common}',
      '  debug:',
      '    image: busybox',
      '    profiles: [debug]',
      '  db:',
      '    image: db',
      '    depends_on: [web]',
    ].join('\n'));
    write('compose.override.yaml', 'services:\n  web:\n    environment: {Y: "2"}\n');
    const p = load({ env: { TAG: 'fromenv' } });
    assert.equal(p.name, 'fromenv');
    assert.deepEqual(p.files, [path.join(dir, 'compose.yaml'), path.join(dir, 'compose.override.yaml')]);
    const web = p.model.services.web;
    assert.equal(web.image, 'app:fromenv');
    assert.deepEqual(web.ports, ['8080:80']);
    assert.deepEqual(web.labels, { a: '1' });
    assert.deepEqual(web.environment, { X: '1', Y: '2' });
    assert.deepEqual(Object.keys(p.model.services).sort(), ['db', 'web']);
    assert.deepEqual(web.networks, { default: null });
    assert.deepEqual(p.model.services.db.depends_on, { web: { condition: 'service_started', required: true } });
    assert.deepEqual(startOrder(p.model.services), ['web', 'db']);
    assert.ok(load({ profiles: ['debug'] }).model.services.debug);
    assert.equal(load({ projectName: 'Given' }).name, 'given');
    fs.rmSync(path.join(dir, '.env'));
    fs.rmSync(path.join(dir, 'compose.override.yaml'));
    assert.equal(load({}).name, normalizeProjectName(path.basename(dir)));
  });

  it('names file:line and key in errors', () => {
    write('bad.yaml', 'services:\n  web:\n    image: busybox\n    depends_on: [nope]\n');
    assert.throws(() => load({ files: ['bad.yaml'] }), /bad\.yaml:4: service "web" depends on undefined service "nope"/);
    write('bad2.yaml', 'services:\n  web:\n    image: busybox\n    restart: 3\n');
    assert.throws(() => load({ files: ['bad2.yaml'] }), /bad2\.yaml:4: services\.web\.restart must be a string/);
    write('include.yaml', 'services: {}\ninclude:\n  - other.yaml\n');
    assert.throws(() => load({ files: ['include.yaml'] }), /include\.yaml:3: include: open .*other\.yaml: no such file or directory/);
    assert.throws(() => load({ files: ['none.yaml'] }), /open .*none\.yaml: no such file or directory/);
    assert.throws(() => load({ files: ['bad.yaml'], envFiles: ['missing.env'] }), /couldn't find env file: .*missing\.env/);
  });

  it('takes an inline Dockerfile, and refuses it beside dockerfile', () => {
    write('inline.yaml', 'services:\n  app:\n    build:\n      context: ctx\n      dockerfile_inline: |\n        FROM busybox\n');
    assert.deepEqual(load({ files: ['inline.yaml'] }).model.services.app.build, { context: path.join(dir, 'ctx'), dockerfile_inline: 'FROM busybox\n' });
    write('inline2.yaml', 'services:\n  app:\n    build:\n      context: .\n      dockerfile: Dockerfile\n      dockerfile_inline: FROM busybox\n');
    assert.throws(() => load({ files: ['inline2.yaml'] }), /inline2\.yaml:3: services\.app\.build: service "app" declares mutually exclusive dockerfile and dockerfile_inline/);
  });

  it('reads secrets and configs from the environment at load, and depends_on restart', () => {
    write('.env', 'TOKEN=from-dotenv\n');
    write('secrets.yaml', [
      'services:',
      '  app: {image: busybox, secrets: [token, key], configs: [conf], depends_on: {db: {condition: service_started, restart: true}}}',
      '  db: {image: busybox}',
      'secrets:',
      '  token: {environment: TOKEN}',
      '  key: {file: ./key.txt}',
      'configs:',
      '  conf: {environment: CONF}',
    ].join('\n'));
    const p = load({ files: ['secrets.yaml'], env: { CONF: 'from-env' } });
    assert.deepEqual(p.model.secrets, { token: { environment: 'TOKEN', content: 'from-dotenv' }, key: { file: path.join(dir, 'key.txt') } });
    assert.deepEqual(p.model.configs, { conf: { environment: 'CONF', content: 'from-env' } });
    assert.deepEqual(p.model.services.app.depends_on, { db: { condition: 'service_started', required: true, restart: true } });
    assert.throws(() => load({ files: ['secrets.yaml'] }), /secrets\.yaml:8: environment variable "CONF" required by config "conf" is not set/);
    fs.rmSync(path.join(dir, '.env'));
  });

  it('includes projects: both forms, paths and variables of their own, conflicts named with both files', () => {
    fs.mkdirSync(path.join(dir, 'inc', 'sub'), { recursive: true });
    write('inc/sub/db.yaml', 'services:\n  db:\n    image: db:${DBTAG}\n    volumes: [./data:/data]\nvolumes:\n  dbdata: {}\n');
    write('inc/sub/.env', 'DBTAG=dotenv\n');
    write('inc/cache.yaml', 'services:\n  cache:\n    build: ./ctx\nnetworks:\n  back: {}\n');
    write('inc/cache.env', 'UNUSED=1\n');
    write('main.yaml', 'include:\n  - inc/sub/db.yaml\n  - path: inc/cache.yaml\n    env_file: inc/cache.env\nservices:\n  web:\n    image: web\n    depends_on: [db, cache]\n');
    const p = load({ files: ['main.yaml'] });
    assert.deepEqual(Object.keys(p.model.services).sort(), ['cache', 'db', 'web']);
    assert.equal(p.model.services.db.image, 'db:dotenv');
    assert.equal((p.model.services.db.volumes as { source: string }[])[0].source, path.join(dir, 'inc', 'sub', 'data'));
    assert.equal((p.model.services.cache.build as { context: string }).context, path.join(dir, 'inc', 'ctx'));
    assert.deepEqual(Object.keys(p.model.volumes as object), ['dbdata']);
    assert.deepEqual(Object.keys(p.model.networks as object), ['back']);
    assert.equal(p.where('db'), `${path.join(dir, 'inc', 'sub', 'db.yaml')}:2`);
    assert.equal(load({ files: ['main.yaml'], env: { DBTAG: 'proc' } }).model.services.db.image, 'db:proc');
    write('clash.yaml', 'include:\n  - inc/sub/db.yaml\nservices:\n  db: {image: other}\n');
    assert.throws(() => load({ files: ['clash.yaml'] }), /inc\/sub\/db\.yaml:2: services\.db conflicts with .*clash\.yaml:4: included resources must have unique names/);
    write('cycle.yaml', 'include: [cycle.yaml]\n');
    assert.throws(() => load({ files: ['cycle.yaml'] }), /cycle\.yaml:1: include cycle detected/);
    write('badinc.yaml', 'include:\n  - path: inc/cache.yaml\n    project: x\n');
    assert.throws(() => load({ files: ['badinc.yaml'] }), /badinc\.yaml:\d+: include\[0\]/);
  });

  it('hashes a service config independently of key order and scale', () => {
    assert.equal(configHash({ image: 'a', environment: { A: '1', B: '2' } }), configHash({ environment: { B: '2', A: '1' }, image: 'a', scale: 3 }));
    assert.notEqual(configHash({ image: 'a', environment: { A: '1' } }), configHash({ image: 'a', environment: { A: '2' } }));
  });
});
