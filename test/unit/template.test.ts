import { test } from 'node:test';
import assert from 'node:assert/strict';
import { printValue, renderTemplate, Template, TemplateError } from '../../src/cli/format/template';

// A slice of `docker inspect` output, as encoding/json decodes it.
const inspect = {
  Id: 'abc123',
  Name: '/web',
  Args: ['-f', '-p', '5000'],
  State: { Status: 'running', Running: true, Pid: 4242, ExitCode: 0 },
  Config: { Labels: { b: '2', a: '1' }, ExposedPorts: { '5000/tcp': {} }, Env: ['A=1', 'B=2'], Entrypoint: null, Cmd: ['httpd'] },
  HostConfig: { RestartPolicy: { Name: 'no', MaximumRetryCount: 0 }, CapAdd: null },
  NetworkSettings: { Networks: { bridge: { IPAddress: '172.17.0.2' } } },
  Mounts: [{ Source: '/home/me/webapp', Destination: '/app' }, { Source: '/v', Destination: '/data' }],
};
const t = (src: string, data: unknown = inspect): string => renderTemplate(src, data);

test('fields, nested fields and literal text', () => {
  assert.equal(t('{{.Name}}'), '/web');
  assert.equal(t('pid={{.State.Pid}} running={{.State.Running}}'), 'pid=4242 running=true');
  assert.equal(t('{{.NetworkSettings.Networks.bridge.IPAddress}}'), '172.17.0.2');
});

test('Go printing of maps, struct-like objects, slices, nil and missing keys', () => {
  assert.equal(t('{{.Config.Labels}}'), 'map[a:1 b:2]');
  assert.equal(t('{{.Config.ExposedPorts}}'), 'map[5000/tcp:{}]');
  assert.equal(t('{{.HostConfig.RestartPolicy}}'), '{no 0}');
  assert.equal(t('{{.Args}}'), '[-f -p 5000]');
  assert.equal(t('{{.Config.Entrypoint}}'), '<nil>');
  assert.equal(t('{{.Nope}}'), '<no value>');
  assert.equal(printValue({}), 'map[]');
});

test('json, index, join, split, upper/lower/title, len, pipes', () => {
  assert.equal(t('{{json .Config.Labels}}'), '{"b":"2","a":"1"}');
  assert.equal(t('{{json .State}}'), JSON.stringify(inspect.State));
  assert.equal(t('{{index .Config.Labels "a"}}'), '1');
  assert.equal(t('{{index .Config.Labels "zz"}}'), '');
  assert.equal(t('{{index .Args 1}}'), '-p');
  assert.equal(t('{{join .Config.Env ","}}'), 'A=1,B=2');
  assert.equal(t('{{split "a:b" ":"}}'), '[a b]');
  assert.equal(t('{{.State.Status | upper}}'), 'RUNNING');
  assert.equal(t('{{upper .State.Status | lower}}'), 'running');
  assert.equal(t('{{title "hello wide world"}}'), 'Hello Wide World');
  assert.equal(t('{{len .Mounts}}'), '2');
  assert.equal(t('{{.Config | json}}'), JSON.stringify(inspect.Config));
  assert.equal(t('{{(index .Mounts 1).Destination}}'), '/data');
  assert.equal(t('{{pad "x" 1 2}}|{{truncate "abcdef" 3}}'), ' x  |abc');
});

test('range, if/else if/else, with, variables, break', () => {
  assert.equal(t('{{range .Mounts}}{{.Source}}:{{.Destination}} {{end}}'), '/home/me/webapp:/app /v:/data ');
  assert.equal(t('{{range $k, $v := .Config.Labels}}{{$k}}={{$v}};{{end}}'), 'a=1;b=2;');
  assert.equal(t('{{range $i, $m := .Mounts}}{{$i}}{{$m.Destination}}{{end}}'), '0/app1/data');
  assert.equal(t('{{range .HostConfig.CapAdd}}x{{else}}none{{end}}'), 'none');
  assert.equal(t('{{range .Args}}{{if eq . "-p"}}{{break}}{{end}}{{.}}{{end}}'), '-f');
  assert.equal(t('{{if .State.Running}}up{{else}}down{{end}}'), 'up');
  assert.equal(t('{{if eq .State.ExitCode 1}}one{{else if eq .State.ExitCode 0}}zero{{else}}other{{end}}'), 'zero');
  assert.equal(t('{{if and .State.Running (not .HostConfig.CapAdd)}}ok{{end}}'), 'ok');
  assert.equal(t('{{if ne .State.Status .Name}}differ{{end}}'), 'differ'); // two operands, not one chain
  assert.equal(t('{{$s := .State}}{{$s.Status}} {{(index .Mounts 0).Source}}'), 'running /home/me/webapp');
  assert.equal(t('{{with .State}}{{.Status}}{{end}}'), 'running');
  assert.equal(t('{{$n := .Name}}{{range .Args}}{{$n}}{{end}}'), '/web/web/web');
  assert.equal(t('{{range .Mounts}}{{$.Name}}{{end}}'), '/web/web');
});

test('println, printf, print and whitespace trimming', () => {
  assert.equal(t('{{println .Name}}'), '/web\n');
  assert.equal(t('{{printf "%s has %d args" .Name (len .Args)}}'), '/web has 3 args');
  assert.equal(t('{{printf "%-6s|%5d|%q" "ab" 42 "x"}}'), 'ab    |   42|"x"');
  assert.equal(t('{{print 1 2}} {{print "a" "b"}}'), '1 2 ab');
  assert.equal(t('a  {{- .Name -}}  b'), 'a/webb');
  assert.equal(t('{{/* a comment */}}x'), 'x');
});

test('methods with arguments and struct-like class instances', () => {
  class Row {
    get ID(): string { return 'abc'; }
    Label(k: string): string { return k === 'app' ? 'web' : ''; }
  }
  assert.equal(t('{{.ID}} {{.Label "app"}}', new Row()), 'abc web');
  assert.throws(() => t('{{.Nope}}', new Row()), (e: Error) =>
    e instanceof TemplateError && e.message === 'template: :1:2: executing "" at <.Nope>: can\'t evaluate field Nope in type *Row');
});

test('parse errors name the problem as Go does', () => {
  const parseErr = (src: string): string => {
    try {
      Template.parse(src);
    } catch (e) {
      assert.ok(e instanceof TemplateError);
      return e.message;
    }
    return assert.fail(`no error for ${src}`);
  };
  assert.equal(parseErr('{{.Name'), 'template: :1: unclosed action');
  assert.equal(parseErr('{{foo .Name}}'), 'template: :1: function "foo" not defined');
  assert.equal(parseErr('{{end}}'), 'template: :1: unexpected {{end}}');
  assert.equal(parseErr('{{if .A}}x'), 'template: :1: unexpected EOF');
  assert.equal(parseErr('{{else}}'), 'template: :1: unexpected {{else}}');
  assert.equal(parseErr('{{break}}'), 'template: :1: {{break}} outside {{range}}');
  assert.equal(parseErr('{{"abc}}'), 'template: :1: unterminated quoted string');
  assert.match(parseErr('{{.A | }}'), /missing value for command/);
});

test('execution errors name the action', () => {
  assert.throws(() => t('{{.Nope.Deeper}}'), /executing "" at <.Nope.Deeper>: nil pointer evaluating interface \{\}.Deeper/);
  assert.throws(() => t('{{index .Args 9}}'), /error calling index: index out of range: 9/);
  assert.throws(() => t('{{join .Name ","}}'), /error calling join/);
});
