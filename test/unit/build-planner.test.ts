import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { planBuild } from '../../src/build/planner';

const MULTI = `ARG GO=1.22
ARG BASE=alpine:3.19
FROM golang:\${GO} AS build
RUN go build -o /out/app .

FROM node:20 AS web
RUN npm ci && npm run build

FROM debian AS unused
RUN echo never

FROM build AS test
RUN go test ./...

FROM \${BASE}
COPY --from=build /out/app /usr/bin/app
COPY --from=1 /dist /srv/www
COPY --from=nginx:latest /etc/nginx/nginx.conf /etc/nginx/
`;

test('planner: stages, dependencies, skipped stages and parallel levels', () => {
  const plan = planBuild(MULTI, { buildArgs: { GO: '1.23' } });
  assert.deepEqual(plan.stages.map((s) => [s.index, s.name, s.from.image]), [
    [0, 'build', 'golang:1.23'], [1, 'web', 'node:20'], [2, 'unused', 'debian'], [3, 'test', 'build'], [4, undefined, 'alpine:3.19'],
  ]);
  assert.deepEqual(plan.stages[3].base, { kind: 'stage', index: 0 });
  assert.deepEqual(plan.stages[4].base, { kind: 'image', ref: 'alpine:3.19' });
  assert.deepEqual([...plan.stages[4].copyFrom], [
    [0, { kind: 'stage', index: 0 }], [1, { kind: 'stage', index: 1 }], [2, { kind: 'image', ref: 'nginx:latest' }],
  ]);
  assert.deepEqual(plan.stages[4].deps, [0, 1]);
  assert.equal(plan.target, 4);
  assert.deepEqual(plan.needed, [0, 1, 4]);
  assert.deepEqual(plan.levels, [[0, 1], [4]]);
  assert.deepEqual(plan.unusedBuildArgs, []);
});

test('planner: --target selects a stage and what it needs', () => {
  const plan = planBuild(MULTI, { target: 'TEST' });
  assert.equal(plan.target, 3);
  assert.deepEqual(plan.needed, [0, 3]);
  assert.deepEqual(plan.levels, [[0], [3]]);
  assert.throws(() => planBuild(MULTI, { target: 'nope' }), /^Error: target stage "nope" could not be found$/);
});

test('planner: the seed app is one stage, one level', () => {
  const plan = planBuild('FROM python-base\nWORKDIR /app\nCOPY requirements.txt .\nRUN pip install -r requirements.txt\nCOPY . .\nCMD ["python", "app.py"]\n');
  assert.deepEqual([plan.needed, plan.levels, plan.stages[0].instructions.length], [[0], [[0]], 5]);
  assert.deepEqual(plan.stages[0].base, { kind: 'image', ref: 'python-base' });
});

test('planner: global ARGs only reach FROM; stage ARG/ENV resolve COPY --from', () => {
  const plan = planBuild(`ARG SRC=builder
FROM alpine AS builder
FROM alpine AS other
FROM busybox
ARG SRC
COPY --from=$SRC /a /a
ENV X=other
COPY --from=\${X} /b /b
`, { buildArgs: { UNUSED: '1', HTTP_PROXY: 'p' } });
  assert.deepEqual([...plan.stages[2].copyFrom.values()], [{ kind: 'stage', index: 0 }, { kind: 'stage', index: 1 }]);
  assert.deepEqual(plan.globalArgs, new Map([['SRC', 'builder']]));
  assert.deepEqual(plan.unusedBuildArgs, ['UNUSED'], 'proxy args are never reported unused');
});

test('planner: bad references and duplicate names', () => {
  assert.throws(() => planBuild('FROM a\nCOPY --from=0 /x /x\n'), /Dockerfile:2: COPY: invalid from flag value 0: refers to current build stage/);
  assert.throws(() => planBuild('FROM a\nCOPY --from=3 /x /x\n'), /Dockerfile:2: COPY: invalid from flag value 3: index out of bounds/);
  assert.throws(() => planBuild('FROM a AS x\nCOPY --from=x /x /x\n'), /refers to current build stage/);
  assert.throws(() => planBuild('FROM a AS x\nFROM b AS X\n'), /Dockerfile:2: FROM: duplicate name x/);
  assert.throws(() => planBuild('ARG IMG\nFROM $IMG\n'), /Dockerfile:2: FROM: base name \(\$IMG\) should not be blank/);
  // a later stage's name is not a stage reference yet: it is an image name, as in docker's legacy builder
  const plan = planBuild('FROM a\nCOPY --from=later /x /x\nFROM b AS later\n');
  assert.deepEqual(plan.stages[0].copyFrom.get(0), { kind: 'image', ref: 'later' });
});

test('planner: RUN --mount from= makes the stage depend on that stage; a bad mount names the line', () => {
  const plan = planBuild('FROM a AS tools\nFROM b\nARG T=tools\nRUN --mount=type=bind,from=$T,target=/t --mount=type=cache,target=/c,from=img make\n');
  assert.deepEqual(plan.warnings, []);
  assert.deepEqual(plan.stages[1].deps, [0]);
  assert.deepEqual([...(plan.stages[1].mountFrom.get(1) ?? [])], [['tools', { kind: 'stage', index: 0 }], ['img', { kind: 'image', ref: 'img' }]]);
  assert.throws(() => planBuild('FROM a\nRUN --mount=type=nfs,target=/x make\n'), /Dockerfile:2: RUN: unsupported mount type "nfs"/);
});
