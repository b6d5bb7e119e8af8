import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { StageScope } from '../../src/build/expand';
import {
  evaluateInstruction, parseChmod, parseExposedPorts, parseInstructions, parseOnbuildTrigger,
  resolveWorkdir, runCommandLine, type Instruction,
} from '../../src/build/instructions';

/** The instructions of the single stage of `FROM x` + body. */
const stage = (body: string): Instruction[] => parseInstructions(`FROM alpine\n${body}\n`).stages[0].instructions;
const one = (line: string): Instruction => stage(line)[0];

test('instructions: seed app', () => {
  const def = parseInstructions('FROM python-base\nWORKDIR /app\nCOPY requirements.txt .\nRUN pip install -r requirements.txt\nCOPY . .\nCMD ["python", "app.py"]\n');
  assert.equal(def.stages.length, 1);
  assert.equal(def.stages[0].from.image, 'python-base');
  const [wd, copy, run, copy2, cmd] = def.stages[0].instructions;
  assert.deepEqual(wd.kind === 'WORKDIR' && wd.path, '/app');
  assert.ok(copy.kind === 'COPY');
  assert.deepEqual([copy.sources, copy.dest, copy.from], [['requirements.txt'], '.', undefined]);
  assert.ok(run.kind === 'RUN');
  assert.deepEqual([run.cmd, run.shellForm], [['pip install -r requirements.txt'], true]);
  assert.ok(copy2.kind === 'COPY' && copy2.sources[0] === '.');
  assert.ok(cmd.kind === 'CMD');
  assert.deepEqual([cmd.cmd, cmd.shellForm, cmd.loc.startLine], [['python', 'app.py'], false, 6]);
});

test('instructions: errors name file, line and instruction with docker wording', () => {
  const err = (text: string): string => {
    try {
      parseInstructions(text);
    } catch (e) {
      return (e as Error).message;
    }
    return 'no error';
  };
  assert.equal(err('FROM a\nRUN x\nRUNN x\n'), 'Dockerfile:3: unknown instruction: RUNN');
  assert.equal(err('FROM a\n\n\n\nCOPY onlyone\n'),
    'Dockerfile:5: COPY requires at least two arguments, but only one was provided. Destination could not be determined.');
  assert.equal(err('RUN x\n'), 'Dockerfile:1: RUN: no build stage in current context');
  assert.equal(err('FROM a b\n'), 'Dockerfile:1: FROM requires either one or three arguments');
  assert.equal(err('FROM a AS 1x\n'), 'Dockerfile:1: FROM: invalid name for build stage: "1x", name can\'t start with a number or contain symbols');
  assert.equal(err('FROM a\nCOPY --foo=1 a b\n'), 'Dockerfile:2: COPY: Unknown flag: foo');
  assert.equal(err('FROM a\nCOPY --from a b\n'), 'Dockerfile:2: COPY: Missing a value on flag: from');
  assert.equal(err('FROM a\nCOPY --link=maybe a b\n'), 'Dockerfile:2: COPY: Expecting boolean value for flag link, not: maybe');
  assert.equal(err('FROM a\nWORKDIR\n'), 'Dockerfile:2: WORKDIR requires exactly one argument');
  assert.equal(err('FROM a\nSHELL /bin/bash -c\n'), 'Dockerfile:2: SHELL requires the arguments to be in JSON form');
  assert.equal(err('FROM a\nONBUILD ONBUILD RUN x\n'), "Dockerfile:2: Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
  assert.equal(err('FROM a\nONBUILD FROM b\n'), "Dockerfile:2: FROM isn't allowed as an ONBUILD trigger");
  assert.equal(err('FROM a\nHEALTHCHECK NONE x\n'), 'Dockerfile:2: HEALTHCHECK NONE takes no arguments');
  assert.equal(err('FROM a\nHEALTHCHECK --interval=1s NONE\n'), 'Dockerfile:2: HEALTHCHECK: Unknown flag: interval');
  assert.equal(err('FROM a\nHEALTHCHECK FOO x\n'), 'Dockerfile:2: Unknown type "FOO" in HEALTHCHECK (try CMD)');
  assert.equal(err('FROM a\nHEALTHCHECK --interval=1us CMD x\n'), 'Dockerfile:2: HEALTHCHECK: Interval "interval" cannot be less than 1ms');
  assert.equal(err('FROM a\nVOLUME [""]\n'), 'Dockerfile:2: VOLUME specified can not be an empty string');
  assert.equal(err('FROM a\nRUN --network=bridge x\n'), 'Dockerfile:2: RUN: unsupported network mode "bridge"');
  assert.equal(err('FROM a\nCOPY <<EOF <<X\nEOF\nX\n'), 'Dockerfile:2: COPY cannot accept a heredoc as a destination');
});

test('instructions: FROM with name and platform', () => {
  const from = parseInstructions('FROM --platform=linux/arm64 golang:1.22 As Build\n').stages[0].from;
  assert.deepEqual([from.image, from.name, from.platform], ['golang:1.22', 'build', 'linux/arm64']);
});

test('instructions: RUN flags, exec form, heredocs', () => {
  const run = one('RUN --network=none --mount=type=cache,target=/root/.cache --mount=type=tmpfs,target=/t make');
  assert.ok(run.kind === 'RUN');
  assert.deepEqual([run.network, run.mounts, run.cmd], ['none', ['type=cache,target=/root/.cache', 'type=tmpfs,target=/t'], ['make']]);
  const exec = one('RUN ["/bin/echo", "$HOME"]');
  assert.ok(exec.kind === 'RUN');
  assert.deepEqual(runCommandLine(exec), { form: 'exec', argv: ['/bin/echo', '$HOME'] });
  const [lone, shebang, mixed, plain] = stage('RUN <<EOF\necho one\necho two\nEOF\nRUN <<EOF\n#!/usr/bin/env python3\nprint(1)\nEOF\nRUN cat <<EOF > /f\nbody\nEOF\nRUN echo $HOME');
  assert.ok(lone.kind === 'RUN' && shebang.kind === 'RUN' && mixed.kind === 'RUN' && plain.kind === 'RUN');
  assert.deepEqual(runCommandLine(lone), { form: 'shell', command: 'echo one\necho two\n' });
  assert.deepEqual(runCommandLine(shebang), { form: 'script', name: 'EOF', content: '#!/usr/bin/env python3\nprint(1)\n' });
  assert.deepEqual(runCommandLine(mixed), { form: 'shell', command: 'cat <<EOF > /f\nbody\nEOF' });
  assert.deepEqual(runCommandLine(plain), { form: 'shell', command: 'echo $HOME' });
});

test('instructions: COPY/ADD flags and heredoc sources', () => {
  const c = one('COPY --from=build --chown=app:app --chmod=0644 --link a b /dst/');
  assert.ok(c.kind === 'COPY');
  assert.deepEqual([c.from, c.chown, c.chmod, c.link, c.sources, c.dest], ['build', 'app:app', '0644', true, ['a', 'b'], '/dst/']);
  const a = one('ADD --checksum=sha256:abc --keep-git-dir https://x/y.tgz /opt/');
  assert.ok(a.kind === 'ADD');
  assert.deepEqual([a.checksum, a.keepGitDir, a.sources], ['sha256:abc', true, ['https://x/y.tgz']]);
  assert.throws(() => one('ADD --from=x a b'), /Unknown flag: from/);
  const h = one('COPY <<-EOF /etc/app.conf\n\tport=$PORT\n\tEOF');
  assert.ok(h.kind === 'COPY');
  assert.deepEqual([h.sources, h.dest, h.heredocs.map((d) => d.content)], [[], '/etc/app.conf', ['port=$PORT\n']]);
  const json = one('COPY ["a b", "/c d/"]');
  assert.ok(json.kind === 'COPY');
  assert.deepEqual([json.sources, json.dest], [['a b'], '/c d/']);
});

test('instructions: ENV, ARG, LABEL, EXPOSE, VOLUME, USER, STOPSIGNAL, MAINTAINER, SHELL', () => {
  const [env, arg, label, expose, vol, vol2, user, sig, maint, shell] = stage([
    'ENV A=1 B="two words"', 'ARG X Y=2 Z=', 'LABEL version="1.0" maintainer=me', 'EXPOSE 80 443/tcp 53/udp',
    'VOLUME ["/data", "/logs"]', 'VOLUME /a /b', 'USER app:app', 'STOPSIGNAL SIGTERM', 'MAINTAINER Jane <j@x>',
    'SHELL ["/bin/bash", "-o", "pipefail", "-c"]',
  ].join('\n'));
  assert.ok(env.kind === 'ENV' && arg.kind === 'ARG' && label.kind === 'LABEL' && expose.kind === 'EXPOSE');
  assert.deepEqual(env.pairs, [{ key: 'A', value: '1' }, { key: 'B', value: '"two words"' }]);
  assert.deepEqual(arg.args, [{ name: 'X' }, { name: 'Y', value: '2' }, { name: 'Z', value: '' }]);
  assert.deepEqual(label.pairs.map((p) => p.key), ['version', 'maintainer']);
  assert.deepEqual(expose.ports, ['80', '443/tcp', '53/udp']);
  assert.ok(vol.kind === 'VOLUME' && vol2.kind === 'VOLUME' && user.kind === 'USER' && sig.kind === 'STOPSIGNAL');
  assert.deepEqual([vol.volumes, vol2.volumes, user.user, sig.signal], [['/data', '/logs'], ['/a', '/b'], 'app:app', 'SIGTERM']);
  assert.ok(maint.kind === 'MAINTAINER' && shell.kind === 'SHELL');
  assert.deepEqual([maint.maintainer, shell.shell], ['Jane <j@x>', ['/bin/bash', '-o', 'pipefail', '-c']]);
});

test('instructions: HEALTHCHECK', () => {
  const h = one('HEALTHCHECK --interval=30s --timeout=1m30s --start-period=500ms --start-interval=2s --retries=3 CMD curl -f http://localhost/');
  assert.ok(h.kind === 'HEALTHCHECK');
  assert.deepEqual(h.health, {
    Test: ['CMD-SHELL', 'curl -f http://localhost/'], Interval: 30e9, Timeout: 90e9, StartPeriod: 500e6, StartInterval: 2e9, Retries: 3,
  });
  const e = one('HEALTHCHECK CMD ["/bin/check", "-q"]');
  assert.ok(e.kind === 'HEALTHCHECK');
  assert.deepEqual(e.health.Test, ['CMD', '/bin/check', '-q']);
  const n = one('healthcheck none');
  assert.ok(n.kind === 'HEALTHCHECK');
  assert.deepEqual(n.health.Test, ['NONE']);
  assert.throws(() => one('HEALTHCHECK --retries=-1 CMD x'), /--retries cannot be negative \(-1\)/);
  assert.throws(() => one('HEALTHCHECK --timeout=5 CMD x'), /time: missing unit in duration "5"/);
});

test('instructions: ONBUILD stored as text, parsed when triggered', () => {
  const o = one('ONBUILD COPY . /app/src');
  assert.ok(o.kind === 'ONBUILD');
  assert.equal(o.expression, 'COPY . /app/src');
  const t = parseOnbuildTrigger(o.expression);
  assert.ok(t.kind === 'COPY');
  assert.deepEqual(t.sources, ['.']);
  const hd = one('onbuild RUN <<EOF\necho hi\nEOF');
  assert.ok(hd.kind === 'ONBUILD');
  assert.equal(hd.expression, 'RUN <<EOF\necho hi\nEOF');
  const trig = parseOnbuildTrigger(hd.expression);
  assert.ok(trig.kind === 'RUN');
  assert.deepEqual(runCommandLine(trig), { form: 'shell', command: 'echo hi\n' });
  assert.throws(() => one('ONBUILD RUNN x'), /unknown instruction: RUNN/);
});

test('ports, chmod, workdir helpers', () => {
  assert.deepEqual(parseExposedPorts(['80', '8000-8002/udp', '443/TCP']), ['80/tcp', '8000/udp', '8001/udp', '8002/udp', '443/tcp']);
  assert.throws(() => parseExposedPorts(['http']), /invalid containerPort: http/);
  assert.throws(() => parseExposedPorts(['80/icmp']), /invalid proto: icmp/);
  assert.throws(() => parseExposedPorts(['90-80']), /invalid containerPort: 90-80/);
  assert.equal(parseChmod('755'), 0o755);
  assert.throws(() => parseChmod('u+x'), /invalid chmod parameter/);
  assert.throws(() => parseChmod('17777'), /invalid chmod parameter/);
  assert.equal(resolveWorkdir('/', 'app'), '/app');
  assert.equal(resolveWorkdir('/app', 'src/../lib'), '/app/lib');
  assert.equal(resolveWorkdir('/app', '/abs'), '/abs');
  assert.equal(resolveWorkdir('', 'x'), '/x');
});

test('evaluate: builder expands ENV/COPY/WORKDIR/... but not RUN/CMD; ENV sees values from before it', () => {
  const insts = stage([
    'ARG VERSION=1.0', 'ENV APP=/opt/app V=$VERSION', 'ENV A=1 B=$A', 'WORKDIR $APP/${VERSION}',
    'COPY --chown=${USER:-root} --chmod=$MODE src/$VERSION $APP/', 'RUN echo $APP', 'CMD echo $APP',
    'EXPOSE ${PORT:-8080}', 'LABEL v=$VERSION', 'USER ${USER:-nobody}', 'VOLUME $APP/data', 'STOPSIGNAL ${SIG}',
    'COPY <<EOF <<"RAW" /x/', 'v=$VERSION', 'EOF', 'v=$VERSION', 'RAW',
  ].join('\n'));
  const scope = new StageScope({ MODE: '600' }, new Map(), ['SIG=SIGQUIT']);
  scope.declareArg('MODE', undefined);
  const out = insts.map((i) => evaluateInstruction(i, scope).inst);
  const [arg, env, env2, wd, copy, run, cmd, expose, label, user, volume, sig, hd] = out;
  assert.ok(arg.kind === 'ARG' && env.kind === 'ENV' && env2.kind === 'ENV' && wd.kind === 'WORKDIR' && copy.kind === 'COPY');
  assert.deepEqual(env.pairs, [{ key: 'APP', value: '/opt/app' }, { key: 'V', value: '1.0' }]);
  assert.deepEqual(env2.pairs, [{ key: 'A', value: '1' }, { key: 'B', value: '' }]);
  assert.equal(wd.path, '/opt/app/1.0');
  assert.deepEqual([copy.chown, copy.chmod, copy.sources, copy.dest], ['root', '600', ['src/1.0'], '/opt/app/']);
  assert.ok(run.kind === 'RUN' && cmd.kind === 'CMD');
  assert.deepEqual([run.cmd, cmd.cmd], [['echo $APP'], ['echo $APP']]);
  assert.ok(expose.kind === 'EXPOSE' && label.kind === 'LABEL' && user.kind === 'USER' && volume.kind === 'VOLUME' && sig.kind === 'STOPSIGNAL');
  assert.deepEqual([expose.ports, label.pairs[0].value, user.user, volume.volumes, sig.signal],
    [['8080/tcp'], '1.0', 'nobody', ['/opt/app/data'], 'SIGQUIT']);
  assert.ok(hd.kind === 'COPY');
  assert.deepEqual(hd.heredocs.map((h) => h.content), ['v=1.0\n', 'v=$VERSION\n']);
  assert.deepEqual(scope.envList(), ['SIG=SIGQUIT', 'APP=/opt/app', 'V=1.0', 'A=1', 'B=']);
  const bad = stage('COPY --chmod=$M a b')[0];
  const s2 = new StageScope({ M: 'rwx' });
  s2.declareArg('M', undefined);
  assert.throws(() => evaluateInstruction(bad, s2), /Dockerfile:2: COPY: invalid chmod parameter: rwx/);
});
