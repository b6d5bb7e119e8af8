import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { DockerfileError, extractFlags, heredocBody, parseDockerfile, parseHeredocMarker } from '../../src/build/parser';

const SEED = `FROM python-base
WORKDIR /app
COPY requirements.txt .
RUN pip install -r requirements.txt
COPY . .
CMD ["python", "app.py"]
`;

test('parser: the seed app Dockerfile', () => {
  const r = parseDockerfile(SEED);
  assert.deepEqual(r.nodes.map((n) => [n.cmd, n.args, n.json, n.loc.startLine]), [
    ['from', ['python-base'], false, 1],
    ['workdir', ['/app'], false, 2],
    ['copy', ['requirements.txt', '.'], false, 3],
    ['run', ['pip install -r requirements.txt'], false, 4],
    ['copy', ['.', '.'], false, 5],
    ['cmd', ['python', 'app.py'], true, 6],
  ]);
  assert.equal(r.escapeToken, '\\');
  assert.deepEqual(r.warnings, []);
  assert.equal(r.nodes[0].loc.file, 'Dockerfile');
});

test('parser: instruction names are case-insensitive, comments and blank lines are skipped', () => {
  const r = parseDockerfile('# a comment\n\nfrom alpine\n  # indented comment\nRuN echo hi # not a comment\n');
  assert.deepEqual(r.nodes.map((n) => n.cmd), ['from', 'run']);
  assert.deepEqual(r.nodes[1].args, ['echo hi # not a comment']);
  assert.equal(r.nodes[1].loc.startLine, 5);
});

test('parser: directives only at the top', () => {
  const r = parseDockerfile('# syntax=docker/dockerfile:1\n# escape=`\nFROM alpine\nRUN echo a `\n  b\n');
  assert.equal(r.syntax, 'docker/dockerfile:1');
  assert.equal(r.escapeToken, '`');
  assert.deepEqual(r.nodes[1].args, ['echo a   b']);
  assert.equal(r.nodes[1].loc.endLine, 5);
  // after a comment, an instruction or a blank line, "# escape=" is just a comment
  assert.equal(parseDockerfile('# hello\n# escape=`\nFROM a\n').escapeToken, '\\');
  assert.equal(parseDockerfile('\n# escape=`\nFROM a\n').escapeToken, '\\');
  assert.equal(parseDockerfile('FROM a\n# escape=`\nRUN x\n').escapeToken, '\\');
  assert.throws(() => parseDockerfile('# escape=`\n# escape=\\\nFROM a\n'), /Dockerfile:2: only one escape parser directive can be used/);
  assert.throws(() => parseDockerfile('# escape=x\nFROM a\n'), /invalid escape token 'x'/);
});

test('parser: backslash continuations, comments inside, empty continuation lines warn', () => {
  const r = parseDockerfile('FROM alpine\nRUN apk add \\\n    # comment in the middle\n    curl \\\n\n    git\nRUN echo "c:\\\\"\n');
  assert.deepEqual(r.nodes[1].args, ['apk add     curl     git']);
  assert.equal(r.nodes[1].loc.startLine, 2);
  assert.equal(r.nodes[1].loc.endLine, 6);
  assert.equal(r.warnings.length, 2);
  assert.match(r.warnings[0], /Empty continuation line found in/);
  assert.equal(r.nodes[2].loc.startLine, 7);
  // an escaped backslash at the end of a line is not a continuation
  assert.deepEqual(r.nodes[2].args, ['echo "c:\\\\"']);
});

test('parser: CRLF line endings and a BOM are tolerated', () => {
  const r = parseDockerfile('\uFEFFFROM alpine\r\nRUN echo a \\\r\n  b\r\n');
  assert.deepEqual(r.nodes.map((n) => n.args), [['alpine'], ['echo a   b']]);
});

test('parser: exec form, shell form and invalid JSON falling back to shell form', () => {
  const r = parseDockerfile('FROM a\nCMD ["a", "b c"]\nCMD [not json]\nENTRYPOINT ["x",]\nRUN  [ "sh" , "-c", "x" ]\n');
  assert.deepEqual(r.nodes.slice(1).map((n) => [n.args, n.json]), [
    [['a', 'b c'], true],
    [['[not json]'], false],
    [['["x",]'], false],
    [['sh', '-c', 'x'], true],
  ]);
  assert.throws(() => parseDockerfile('FROM a\nCMD ["a", 1]\n'), /Dockerfile:2: .*arrays must be comprised of strings only/);
});

test('parser: ENV and LABEL forms', () => {
  const r = parseDockerfile('FROM a\nENV A 1 2  3\nENV B=1 C="x y" D=\nLABEL "com.x"="a b" k=v\n');
  assert.deepEqual(r.nodes[1].args, ['A', '1 2  3']);
  assert.deepEqual(r.nodes[2].args, ['B', '1', 'C', '"x y"', 'D', '']);
  assert.deepEqual(r.nodes[3].args, ['"com.x"', '"a b"', 'k', 'v']);
  assert.throws(() => parseDockerfile('FROM a\nENV A=1 B\n'), /Dockerfile:2: ENV: Syntax error - can't find = in "B"/);
  assert.throws(() => parseDockerfile('FROM a\nENV A\n'), /Dockerfile:2: ENV must have two arguments/);
});

test('parser: builder flags', () => {
  assert.deepEqual(extractFlags('--from=build --chown="1:1" a b'), { flags: ['--from=build', '--chown=1:1'], rest: 'a b' });
  assert.deepEqual(extractFlags('--link -- --weird dest'), { flags: ['--link'], rest: '--weird dest' });
  const n = parseDockerfile('FROM --platform=linux/amd64 alpine AS base\n').nodes[0];
  assert.deepEqual([n.flags, n.args], [['--platform=linux/amd64'], ['alpine', 'AS', 'base']]);
});

test('parser: heredocs (RUN, <<-, quoted delimiters, several on a line, COPY)', () => {
  const text = [
    'FROM alpine',
    'RUN <<EOF',
    'echo $HOME',
    'EOF',
    'RUN <<-"END" cat > /x',
    '\tindented',
    '\tEND',
    'RUN cat <<A <<\'B\'',
    'one',
    'A',
    'two',
    'B',
    'COPY <<EOF /etc/conf',
    'k=v',
    'EOF',
    'RUN ["echo", "<<EOF"]',
    'CMD x',
  ].join('\n') + '\n';
  const n = parseDockerfile(text).nodes;
  assert.deepEqual(n.map((x) => x.cmd), ['from', 'run', 'run', 'run', 'copy', 'run', 'cmd']);
  assert.deepEqual(n[1].heredocs, [{ name: 'EOF', content: 'echo $HOME\n', expand: true, chomp: false, fd: 0 }]);
  assert.deepEqual([n[1].loc.startLine, n[1].loc.endLine], [2, 4]);
  assert.equal(n[2].heredocs[0].name, 'END');
  assert.equal(n[2].heredocs[0].expand, false);
  assert.equal(n[2].heredocs[0].chomp, true);
  assert.equal(heredocBody(n[2].heredocs[0]), 'indented\n');
  assert.deepEqual(n[3].heredocs.map((h) => [h.name, h.content, h.expand]), [['A', 'one\n', true], ['B', 'two\n', false]]);
  assert.deepEqual(n[4].heredocs.map((h) => h.content), ['k=v\n']);
  assert.deepEqual(n[5].heredocs, []); // exec form never has heredocs
  assert.equal(n[6].loc.startLine, 17);
  assert.throws(() => parseDockerfile('FROM a\nRUN <<EOF\necho\n'), /Dockerfile:2: RUN: unterminated heredoc/);
});

test('parser: heredoc markers', () => {
  assert.equal(parseHeredocMarker('<<EOF')?.expand, true);
  assert.equal(parseHeredocMarker('<<"EOF"')?.expand, false);
  assert.equal(parseHeredocMarker("<<'E'OF")?.name, 'EOF');
  assert.equal(parseHeredocMarker('3<<EOF')?.fd, 3);
  assert.equal(parseHeredocMarker('<<'), undefined);
  assert.equal(parseHeredocMarker('a<<EOF'), undefined);
});

test('parser: ONBUILD keeps its trigger as a sub node', () => {
  const n = parseDockerfile('FROM a\nONBUILD RUN echo hi\n').nodes[1];
  assert.equal(n.sub?.cmd, 'run');
  assert.deepEqual(n.sub?.args, ['echo hi']);
});

test('parser: empty file and errors carry file and line', () => {
  assert.throws(() => parseDockerfile('# only a comment\n', 'build/Dockerfile.dev'), (e: unknown) =>
    e instanceof DockerfileError && e.file === 'build/Dockerfile.dev' && /file with no instructions/.test(e.message));
});
