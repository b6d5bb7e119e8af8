/**
 * The subset of Go's text/template that docker's --format uses, with docker's extra functions
 * (json, join, split, title, lower, upper, pad, truncate) and Go's builtins (index, len, print*, eq…, and/or/not, slice).
 * Values follow Go's rules as seen through encoding/json: plain objects behave like maps (a missing key prints
 * "<no value>"), class instances like structs (a missing field is an error), and printing mimics fmt's %v.
 * Over ~400 lines: one interpreter (lexer, parser, evaluator) of the template language docker's --format needs whole.
 */
import { goQuote } from '../../common/units';

export class TemplateError extends Error {}

export type TemplateFunc = (...args: unknown[]) => unknown;

type Arg =
  | { k: 'field'; names: string[]; pos: number }
  | { k: 'var'; name: string; names: string[]; pos: number }
  | { k: 'dot'; pos: number }
  | { k: 'ident'; name: string; pos: number }
  | { k: 'lit'; value: unknown; pos: number }
  | { k: 'pipe'; pipe: Pipe; names: string[]; pos: number };
interface Cmd { args: Arg[] }
interface Pipe { decl: string[]; assign: boolean; cmds: Cmd[]; pos: number }
interface Block { k: 'if' | 'with' | 'range'; pipe: Pipe; list: Node[]; elseList: Node[] | null }
type Node = { k: 'text'; text: string } | { k: 'action'; pipe: Pipe } | Block | { k: 'break' | 'continue' };

/* ---------------------------------------------------------------- lexing */

type Tok =
  | { t: 'field'; v: string; pos: number; adj: boolean } // ".Name" (v without the dot); adj: no space before it
  | { t: 'dot'; pos: number }
  | { t: 'var'; v: string; pos: number } // "$x" or "$"
  | { t: 'ident'; v: string; pos: number }
  | { t: 'str' | 'num' | 'char'; v: unknown; pos: number }
  | { t: '|' | '(' | ')' | ':=' | '=' | ','; pos: number }
  | { t: 'end'; pos: number };

const IDENT = /[A-Za-z_][A-Za-z0-9_]*/y;
const NUMBER = /[+-]?(0[xX][0-9a-fA-F_]+|0[bB][01_]+|0[oO][0-7_]+|(\d[\d_]*)?\.?\d[\d_]*([eE][+-]?\d+)?)/y;

function lexAction(src: string, start: number, stop: number, err: (pos: number, m: string) => never): Tok[] {
  const toks: Tok[] = [];
  let i = start;
  let lastEnd = -1; // where the previous token ended, to tell ".A.B" and "(x).A" from ".A .B"
  while (i < stop) {
    const c = src[i];
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') { i++; continue; }
    const pos = i;
    if (c === '|' || c === '(' || c === ',' || c === '=') { toks.push({ t: c, pos }); i++; continue; }
    if (c === ')') { toks.push({ t: c, pos }); lastEnd = ++i; continue; }
    if (c === ':' && src[i + 1] === '=') { toks.push({ t: ':=', pos }); i += 2; continue; }
    if (c === '.' && !/[0-9]/.test(src[i + 1] ?? '')) {
      IDENT.lastIndex = i + 1;
      const m = IDENT.exec(src);
      if (m && m.index === i + 1) { toks.push({ t: 'field', v: m[0], pos, adj: pos === lastEnd }); i += 1 + m[0].length; }
      else { toks.push({ t: 'dot', pos }); i++; }
      lastEnd = i;
      continue;
    }
    if (c === '$') {
      IDENT.lastIndex = i + 1;
      const m = IDENT.exec(src);
      const name = m && m.index === i + 1 ? m[0] : '';
      toks.push({ t: 'var', v: '$' + name, pos });
      i += 1 + name.length;
      lastEnd = i;
      continue;
    }
    if (c === '"') {
      let j = i + 1;
      while (j < stop && src[j] !== '"') { if (src[j] === '\\') j++; if (src[j] === '\n') err(pos, 'unterminated quoted string'); j++; }
      if (j >= stop) err(pos, 'unterminated quoted string');
      toks.push({ t: 'str', v: unquote(src.slice(i + 1, j), () => err(pos, `invalid syntax in quoted string`)), pos });
      i = j + 1;
      continue;
    }
    if (c === '`') {
      const j = src.indexOf('`', i + 1);
      if (j < 0 || j >= stop) err(pos, 'unterminated raw quoted string');
      toks.push({ t: 'str', v: src.slice(i + 1, j), pos });
      i = j + 1;
      continue;
    }
    if (c === "'") {
      let j = i + 1;
      while (j < stop && src[j] !== "'") { if (src[j] === '\\') j++; j++; }
      const s = unquote(src.slice(i + 1, j), () => err(pos, 'invalid character constant'));
      toks.push({ t: 'char', v: s.codePointAt(0) ?? 0, pos });
      i = j + 1;
      continue;
    }
    if (/[0-9+-]/.test(c) || (c === '.' && /[0-9]/.test(src[i + 1] ?? ''))) {
      NUMBER.lastIndex = i;
      const m = NUMBER.exec(src);
      if (!m || m[0] === '' || m[0] === '+' || m[0] === '-') err(pos, `unexpected "${c}" in command`);
      const text = m[0].replace(/_/g, '');
      const v = /^[+-]?0[oO]/.test(text) ? parseInt(text.replace(/0[oO]/, ''), 8) : /^[+-]?0[bB]/.test(text) ? parseInt(text.replace(/0[bB]/, ''), 2) : Number(text);
      if (Number.isNaN(v)) err(pos, `bad number syntax: "${m[0]}"`);
      toks.push({ t: 'num', v, pos });
      i += m[0].length;
      continue;
    }
    IDENT.lastIndex = i;
    const m = IDENT.exec(src);
    if (m && m.index === i) { toks.push({ t: 'ident', v: m[0], pos }); i += m[0].length; continue; }
    err(pos, `unexpected ${JSON.stringify(c)} in command`);
  }
  toks.push({ t: 'end', pos: stop });
  return toks;
}

function unquote(body: string, bad: () => never): string {
  try {
    return JSON.parse('"' + body.replace(/\\x([0-9a-fA-F]{2})/g, '\\u00$1').replace(/\\a/g, '\\u0007').replace(/\\v/g, '\\u000b').replace(/\\'/g, "'") + '"') as string;
  } catch {
    return bad();
  }
}

/* ---------------------------------------------------------------- parsing */

const KEYWORDS = new Set(['if', 'else', 'end', 'range', 'with', 'break', 'continue', 'define', 'template', 'block', 'nil', 'true', 'false']);

interface Frame { kind: 'root' | 'if' | 'with' | 'range'; node: Node | null; list: Node[]; inElse: boolean }

export class Template {
  private constructor(private readonly root: Node[], private readonly src: string, private readonly funcs: Record<string, TemplateFunc>) {}

  /** Parses `src`; throws TemplateError("template: :1: function \"x\" not defined") on bad input. */
  static parse(src: string, extraFuncs: Record<string, TemplateFunc> = {}): Template {
    const funcs = { ...BUILTINS, ...extraFuncs };
    const err = (pos: number, m: string): never => {
      throw new TemplateError(`template: :${lineOf(src, pos)}: ${m}`);
    };
    const stack: Frame[] = [{ kind: 'root', node: null, list: [], inElse: false }];
    const top = (): Frame => stack[stack.length - 1];
    let i = 0;
    let trimNext = false;
    let rangeDepth = 0;
    while (i < src.length) {
      let open = src.indexOf('{{', i);
      if (open < 0) open = src.length;
      let text = src.slice(i, open);
      if (trimNext) text = text.replace(/^[ \t\r\n]+/, '');
      trimNext = false;
      if (open < src.length && src.startsWith('{{- ', open)) text = text.replace(/[ \t\r\n]+$/, '');
      if (text) top().list.push({ k: 'text', text });
      if (open >= src.length) break;
      let start = open + 2;
      if (src.startsWith('- ', start)) start += 2;
      const close = findClose(src, start);
      if (close === -2) err(open, 'unterminated quoted string');
      if (close < 0) err(open, 'unclosed action');
      let stop = close;
      if (src.slice(close - 2, close) === ' -') { stop = close - 2; trimNext = true; }
      i = close + 2;
      const inner = src.slice(start, stop).trim();
      if (inner.startsWith('/*')) {
        if (!inner.endsWith('*/')) err(open, 'unclosed comment');
        continue;
      }
      const toks = lexAction(src, start, stop, err);
      const first = toks[0];
      const kw = first.t === 'ident' && KEYWORDS.has(first.v) ? first.v : '';
      const P = new PipeParser(toks, funcs, err);
      if (kw === 'if' || kw === 'with' || kw === 'range') {
        P.next();
        const pipe = P.pipeline(kw === 'range' ? 2 : 1, kw);
        const node: Block = { k: kw, pipe, list: [], elseList: null };
        top().list.push(node);
        stack.push({ kind: kw, node, list: node.list, inElse: false });
        if (kw === 'range') rangeDepth++;
      } else if (kw === 'else') {
        const f = top();
        if (f.kind === 'root' || f.inElse) return err(first.pos, 'unexpected {{else}}');
        const kind = f.kind;
        P.next();
        const n = f.node as Block;
        n.elseList = [];
        const chain = P.peek();
        if (kind !== 'range' && chain.t === 'ident' && chain.v === kind) {
          // "else if" / "else with": a nested node that shares our {{end}}
          P.next();
          const pipe = P.pipeline(1, kind);
          const inner2: Block = { k: kind, pipe, list: [], elseList: null };
          n.elseList.push(inner2);
          stack[stack.length - 1] = { kind, node: inner2, list: inner2.list, inElse: false };
        } else {
          P.expectEnd('else');
          f.list = n.elseList;
          f.inElse = true;
        }
      } else if (kw === 'end') {
        P.next();
        P.expectEnd('end');
        const f = stack.pop() as Frame;
        if (f.kind === 'root') err(first.pos, 'unexpected {{end}}');
        if (f.kind === 'range') rangeDepth--;
      } else if (kw === 'break' || kw === 'continue') {
        if (rangeDepth === 0) err(first.pos, `{{${kw}}} outside {{range}}`);
        P.next();
        P.expectEnd(kw);
        top().list.push({ k: kw });
      } else if (kw === 'define' || kw === 'template' || kw === 'block') {
        err(first.pos, `{{${kw}}} is not supported`);
      } else {
        top().list.push({ k: 'action', pipe: P.pipeline(Infinity, 'command') });
      }
    }
    if (stack.length > 1) err(src.length, `unexpected EOF`);
    return new Template(stack[0].list, src, funcs);
  }

  /** Runs the template on `data`; throws TemplateError with Go's "executing" wording on a runtime error. */
  execute(data: unknown): string {
    const st = new Exec(this.src, this.funcs, data);
    st.walk(this.root, data);
    return st.out;
  }
}

function lineOf(src: string, pos: number): number {
  return src.slice(0, pos).split('\n').length;
}

/** Index of the "}}" closing an action; -1 if there is none, -2 if a quoted string runs off its line. */
function findClose(src: string, from: number): number {
  let i = from;
  while (i < src.length) {
    const c = src[i];
    if (c === '"' || c === "'") {
      i++;
      while (i < src.length && src[i] !== c) {
        if (src[i] === '\n') return -2;
        if (src[i] === '\\') i++;
        i++;
      }
      if (i >= src.length) return -2;
    } else if (c === '`') {
      i = src.indexOf('`', i + 1);
      if (i < 0) return -1;
    } else if (c === '}' && src[i + 1] === '}') return i;
    i++;
  }
  return -1;
}

class PipeParser {
  private i = 0;
  constructor(private readonly toks: Tok[], private readonly funcs: Record<string, TemplateFunc>, private readonly err: (pos: number, m: string) => never) {}
  peek(): Tok { return this.toks[this.i]; }
  next(): Tok { return this.toks[this.i++]; }
  expectEnd(ctx: string): void {
    const t = this.peek();
    if (t.t !== 'end') this.err(t.pos, `unexpected ${desc(t)} in ${ctx}`);
  }

  /** pipeline := [decl] command { "|" command } ; maxDecl = variables allowed (2 for range). */
  pipeline(maxDecl: number, ctx: string, closer: 'end' | ')' = 'end'): Pipe {
    const pos = this.peek().pos;
    const decl: string[] = [];
    let assign = false;
    // look ahead for "$x :=" / "$x, $y :=" / "$x ="
    const save = this.i;
    const names: string[] = [];
    while (this.peek().t === 'var') {
      names.push((this.next() as { v: string }).v);
      const t = this.peek().t;
      if (t === ',' && names.length < maxDecl) { this.next(); continue; }
      if (t === ':=' || (t === '=' && names.length === 1)) { assign = t === '='; this.next(); decl.push(...names); }
      break;
    }
    if (decl.length === 0) this.i = save;
    const cmds: Cmd[] = [];
    for (;;) {
      const args: Arg[] = [];
      while (this.peek().t !== '|' && this.peek().t !== closer && this.peek().t !== 'end') args.push(this.operand());
      if (args.length === 0) this.err(this.peek().pos, `missing value for ${ctx}`);
      cmds.push({ args });
      const t = this.next();
      if (t.t === closer) break;
      if (t.t !== '|') this.err(t.pos, `unexpected ${desc(t)} in ${ctx}`);
    }
    this.i--; // leave the closer for the caller
    if (closer === 'end') this.expectEnd(ctx);
    return { decl, assign, cmds, pos };
  }

  private operand(): Arg {
    const t = this.next();
    let a: Arg;
    switch (t.t) {
      case 'field': {
        const names = [t.v];
        while (this.adjacentField()) names.push((this.next() as { v: string }).v);
        return { k: 'field', names, pos: t.pos };
      }
      case 'dot': return { k: 'dot', pos: t.pos };
      case 'var': a = { k: 'var', name: t.v, names: [], pos: t.pos }; break;
      case 'str': case 'num': case 'char': return { k: 'lit', value: t.v, pos: t.pos };
      case 'ident':
        if (t.v === 'true' || t.v === 'false') return { k: 'lit', value: t.v === 'true', pos: t.pos };
        if (t.v === 'nil') return { k: 'lit', value: null, pos: t.pos };
        if (KEYWORDS.has(t.v)) this.err(t.pos, `unexpected <${t.v}> in command`);
        if (!(t.v in this.funcs)) this.err(t.pos, `function "${t.v}" not defined`);
        return { k: 'ident', name: t.v, pos: t.pos };
      case '(': {
        const pipe = this.pipeline(Infinity, 'parenthesized pipeline', ')');
        this.next();
        a = { k: 'pipe', pipe, names: [], pos: t.pos };
        break;
      }
      default: return this.err(t.pos, `unexpected ${desc(t)} in operand`);
    }
    while (this.adjacentField()) a.names.push((this.next() as { v: string }).v);
    return a;
  }

  private adjacentField(): boolean {
    const t = this.peek();
    return t.t === 'field' && t.adj;
  }
}

function desc(t: Tok): string {
  switch (t.t) {
    case 'end': return '"}}"';
    case 'field': return `<.${t.v}>`;
    case 'ident': case 'var': return `<${t.v}>`;
    case 'str': return `quoted string`;
    case 'num': case 'char': return `number`;
    case 'dot': return '<.>';
    default: return `"${t.t}"`;
  }
}

/* ---------------------------------------------------------------- execution */

class LoopSignal { constructor(readonly kind: 'break' | 'continue') {} }

class Exec {
  out = '';
  private vars: [string, unknown][];
  constructor(private readonly src: string, private readonly funcs: Record<string, TemplateFunc>, data: unknown) {
    this.vars = [['$', data]];
  }

  private fail(pos: number, what: string, m: string): never {
    const col = pos - (this.src.lastIndexOf('\n', pos - 1) + 1);
    throw new TemplateError(`template: :${lineOf(this.src, pos)}:${col}: executing "" at <${what}>: ${m}`);
  }

  walk(list: Node[], dot: unknown): void {
    for (const n of list) {
      switch (n.k) {
        case 'text': this.out += n.text; break;
        case 'action': {
          // a declaration prints nothing; its variable lives until the enclosing {{end}}
          const v = this.pipe(n.pipe, dot);
          if (n.pipe.decl.length === 0) this.out += printValue(v);
          break;
        }
        case 'break': case 'continue': throw new LoopSignal(n.k);
        case 'if': case 'with': {
          const mark = this.vars.length;
          const v = this.pipe(n.pipe, dot);
          if (truth(v)) this.walk(n.list, n.k === 'with' ? v : dot);
          else if (n.elseList) this.walk(n.elseList, dot);
          this.vars.length = mark;
          break;
        }
        case 'range': this.range(n, dot); break;
      }
    }
  }

  private range(n: Block, dot: unknown): void {
    const mark = this.vars.length;
    const decl = n.pipe.decl;
    const v = this.pipe({ ...n.pipe, decl: [] }, dot);
    let entries: [unknown, unknown][];
    if (Array.isArray(v)) entries = v.map((x, i) => [i, x]);
    else if (isMap(v)) entries = Object.keys(v).sort().map((k) => [k, (v as Record<string, unknown>)[k]]);
    else if (typeof v === 'number' && Number.isInteger(v)) entries = Array.from({ length: Math.max(v, 0) }, (_, i) => [i, i]);
    else if (v === null || v === undefined) entries = [];
    else return this.fail(n.pipe.pos, 'range', `range can't iterate over ${printValue(v)}`);
    if (entries.length === 0) {
      if (n.elseList) this.walk(n.elseList, dot);
      this.vars.length = mark;
      return;
    }
    for (const [key, val] of entries) {
      this.vars.length = mark;
      if (decl.length === 1) this.vars.push([decl[0], val]);
      if (decl.length === 2) this.vars.push([decl[0], key], [decl[1], val]);
      try {
        this.walk(n.list, val);
      } catch (e) {
        if (!(e instanceof LoopSignal)) throw e;
        if (e.kind === 'break') break;
      }
    }
    this.vars.length = mark;
  }

  private pipe(p: Pipe, dot: unknown): unknown {
    let v: unknown = undefined;
    let first = true;
    for (const c of p.cmds) {
      v = this.command(c, dot, first ? NO_FINAL : v);
      first = false;
    }
    for (const name of p.decl) {
      if (p.assign) {
        const slot = [...this.vars].reverse().find((x) => x[0] === name);
        if (!slot) this.fail(p.pos, name, `undefined variable: ${name}`);
        slot[1] = v;
      } else this.vars.push([name, v]);
    }
    return v;
  }

  private command(c: Cmd, dot: unknown, final: unknown): unknown {
    const [head, ...rest] = c.args;
    const withFinal = (args: unknown[]): unknown[] => (final === NO_FINAL ? args : [...args, final]);
    switch (head.k) {
      case 'field':
        return this.fieldChain(dot, head.names, head.pos, '.' + head.names.join('.'), withFinal(rest.map((a) => this.arg(a, dot))));
      case 'ident': {
        const args = withFinal(rest.map((a) => this.arg(a, dot)));
        try {
          return this.funcs[head.name](...args);
        } catch (e) {
          if (e instanceof TemplateError) throw e;
          return this.fail(head.pos, head.name, `error calling ${head.name}: ${(e as Error).message}`);
        }
      }
      default:
        if (rest.length || final !== NO_FINAL) {
          this.fail(head.pos, argName(head), `can't give argument to non-function ${argName(head)}`);
        }
        return this.arg(head, dot);
    }
  }

  private arg(a: Arg, dot: unknown): unknown {
    switch (a.k) {
      case 'dot': return dot;
      case 'lit': return a.value;
      case 'field': return this.fieldChain(dot, a.names, a.pos, '.' + a.names.join('.'), []);
      case 'ident': return this.funcs[a.name]();
      case 'var': {
        const slot = [...this.vars].reverse().find((x) => x[0] === a.name);
        if (!slot) return this.fail(a.pos, a.name, `undefined variable: ${a.name}`);
        return a.names.length ? this.fieldChain(slot[1], a.names, a.pos, a.name + '.' + a.names.join('.'), []) : slot[1];
      }
      case 'pipe': {
        const v = this.pipe(a.pipe, dot);
        return a.names.length ? this.fieldChain(v, a.names, a.pos, '.' + a.names.join('.'), []) : v;
      }
    }
  }

  private fieldChain(recv: unknown, names: string[], pos: number, what: string, args: unknown[]): unknown {
    let v = recv;
    for (let i = 0; i < names.length; i++) {
      const last = i === names.length - 1;
      v = this.field(v, names[i], last ? args : [], pos, what);
    }
    return v;
  }

  private field(recv: unknown, name: string, args: unknown[], pos: number, what: string): unknown {
    if (recv === null || recv === undefined) return this.fail(pos, what, `nil pointer evaluating interface {}.${name}`);
    if (typeof recv === 'object' && !Array.isArray(recv)) {
      const obj = recv as Record<string, unknown>;
      const isStruct = !isMap(recv);
      if (!(name in obj)) {
        if (isStruct) return this.fail(pos, what, `can't evaluate field ${name} in type ${typeName(recv)}`);
        if (args.length) return this.fail(pos, what, `${name} is not a method but has arguments`);
        return undefined;
      }
      const v = obj[name];
      if (typeof v === 'function') return (v as TemplateFunc).apply(obj, args);
      if (args.length) return this.fail(pos, what, `${name} has arguments but cannot be invoked as function`);
      return v;
    }
    return this.fail(pos, what, `can't evaluate field ${name} in type ${typeName(recv)}`);
  }
}

const NO_FINAL = Symbol('no-final');

function argName(a: Arg): string {
  switch (a.k) {
    case 'var': return a.name;
    case 'dot': return '.';
    case 'lit': return printValue(a.value);
    default: return '(pipeline)';
  }
}

/* ---------------------------------------------------------------- values */

/** A plain object (JSON map) as opposed to a class instance standing in for a Go struct. */
function isMap(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

function typeName(v: unknown): string {
  if (Array.isArray(v)) return '[]interface {}';
  if (isMap(v)) return 'map[string]interface {}';
  if (typeof v === 'object' && v) return `*${(v as object).constructor.name}`;
  return typeof v === 'number' ? 'float64' : typeof v;
}

/** Go's truth: false, 0, nil, and empty strings, slices and maps are false. */
export function truth(v: unknown): boolean {
  if (v === null || v === undefined || v === false || v === 0 || v === '') return false;
  if (Array.isArray(v)) return v.length > 0;
  if (isMap(v)) return Object.keys(v).length > 0;
  return true;
}

/** fmt's %v as a template prints a pipeline's value. */
export function printValue(v: unknown): string {
  return v === undefined ? '<no value>' : fmtValue(v, false);
}

function fmtValue(v: unknown, inMap: boolean): string {
  if (v === null || v === undefined) return '<nil>';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  if (Array.isArray(v)) return '[' + v.map((x) => fmtValue(x, false)).join(' ') + ']';
  if (typeof v === 'function') return '<func>';
  const obj = v as Record<string, unknown>;
  const keys = Object.keys(obj);
  if (isMap(v)) {
    // Objects whose keys are all Go-exported names stand for structs ({a b}); others are maps (map[k:v]).
    if (keys.length === 0) return inMap ? '{}' : 'map[]';
    if (keys.every((k) => /^[A-Z]/.test(k))) return '{' + keys.map((k) => fmtValue(obj[k], false)).join(' ') + '}';
    return 'map[' + keys.sort().map((k) => `${k}:${fmtValue(obj[k], true)}`).join(' ') + ']';
  }
  return '{' + keys.map((k) => fmtValue(obj[k], false)).join(' ') + '}';
}

/* ---------------------------------------------------------------- functions */

const str = (v: unknown): string => (typeof v === 'string' ? v : printValue(v));

function cmp(a: unknown, b: unknown): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'string' && typeof b === 'string') return a < b ? -1 : a > b ? 1 : 0;
  throw new Error('incompatible types for comparison');
}

function goPrint(args: unknown[]): string {
  // fmt.Sprint adds spaces between operands when neither side is a string
  let s = '';
  args.forEach((a, i) => {
    if (i > 0 && typeof a !== 'string' && typeof args[i - 1] !== 'string') s += ' ';
    s += printValue(a);
  });
  return s;
}

/** A small fmt.Sprintf: %v %s %d %q %t %x %X %f %%, with width and "-" / "0" flags. */
export function goSprintf(format: string, ...args: unknown[]): string {
  let ai = 0;
  return format.replace(/%([-0+ #]*)(\d+)?(?:\.(\d+))?([vsdqtxXfeg%])/g, (_m, flags: string, w?: string, prec?: string, verb?: string) => {
    if (verb === '%') return '%';
    if (ai >= args.length) return `%!${verb}(MISSING)`;
    const a = args[ai++];
    let s: string;
    switch (verb) {
      case 'd': s = typeof a === 'number' ? String(Math.trunc(a)) : `%!d(${typeName(a)}=${printValue(a)})`; break;
      case 'q': s = goQuote(str(a)); break;
      case 'x': case 'X': s = typeof a === 'number' ? a.toString(16) : Buffer.from(str(a)).toString('hex'); if (verb === 'X') s = s.toUpperCase(); break;
      case 'f': s = typeof a === 'number' ? a.toFixed(prec ? Number(prec) : 6) : printValue(a); break;
      case 's': s = prec ? str(a).slice(0, Number(prec)) : str(a); break;
      default: s = printValue(a);
    }
    const width = w ? Number(w) : 0;
    if (s.length < width) s = flags.includes('-') ? s.padEnd(width) : s.padStart(width, flags.includes('0') && verb !== 's' ? '0' : ' ');
    return s;
  }) + (ai < args.length ? `%!(EXTRA ${args.slice(ai).map((a) => `${typeName(a)}=${printValue(a)}`).join(', ')})` : '');
}

function index(item: unknown, ...keys: unknown[]): unknown {
  let v = item;
  for (const k of keys) {
    if (Array.isArray(v) || typeof v === 'string') {
      if (typeof k !== 'number' || k < 0 || k >= v.length) throw new Error(`index out of range: ${printValue(k)}`);
      v = typeof v === 'string' ? v.charCodeAt(k) : v[k];
    } else if (v && typeof v === 'object') {
      const o = v as Record<string, unknown>;
      v = Object.prototype.hasOwnProperty.call(o, String(k)) ? o[String(k)] : '';
    } else if (v === null || v === undefined) throw new Error('index of untyped nil');
    else throw new Error(`can't index item of type ${typeName(v)}`);
  }
  return v;
}

const BUILTINS: Record<string, TemplateFunc> = {
  and: (...a) => a.find((x) => !truth(x)) ?? a[a.length - 1],
  or: (...a) => a.find((x) => truth(x)) ?? a[a.length - 1],
  not: (a) => !truth(a),
  len: (a) => {
    if (typeof a === 'string' || Array.isArray(a)) return typeof a === 'string' ? Buffer.byteLength(a) : a.length;
    if (a && typeof a === 'object') return Object.keys(a).length;
    throw new Error(`len of type ${typeName(a)}`);
  },
  index: (item, ...keys) => index(item, ...keys),
  slice: (item, ...ix) => {
    if (typeof item !== 'string' && !Array.isArray(item)) throw new Error(`can't slice item of type ${typeName(item)}`);
    const [a = 0, b = item.length] = ix as number[];
    return item.slice(a, b);
  },
  print: (...a) => goPrint(a),
  println: (...a) => a.map((x) => printValue(x)).join(' ') + '\n',
  printf: (f, ...a) => goSprintf(str(f), ...a),
  eq: (a, ...bs) => bs.some((b) => a === b),
  ne: (a, b) => a !== b,
  lt: (a, b) => cmp(a, b) < 0,
  le: (a, b) => cmp(a, b) <= 0,
  gt: (a, b) => cmp(a, b) > 0,
  ge: (a, b) => cmp(a, b) >= 0,
  urlquery: (...a) => encodeURIComponent(goPrint(a)),
  html: (...a) => goPrint(a).replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&#39;', '"': '&#34;' })[c] as string),
  js: (...a) => JSON.stringify(goPrint(a)).slice(1, -1),
  call: (fn, ...a) => {
    if (typeof fn !== 'function') throw new Error(`non-function of type ${typeName(fn)}`);
    return (fn as TemplateFunc)(...a);
  },
  // docker/cli templates.basicFunctions
  json: (v) => (v === undefined ? 'null' : JSON.stringify(v) ?? 'null'),
  split: (s, sep) => str(s).split(str(sep)),
  join: (l, sep) => {
    if (!Array.isArray(l)) throw new Error(`wrong type for value; expected []string; got ${typeName(l)}`);
    return l.map((x) => str(x)).join(str(sep));
  },
  title: (s) => str(s).replace(/(^|[^\p{L}\p{N}_'])(\p{L})/gu, (_m, p: string, c: string) => p + c.toUpperCase()),
  lower: (s) => str(s).toLowerCase(),
  upper: (s) => str(s).toUpperCase(),
  pad: (s, pre, post) => ' '.repeat(Number(pre)) + str(s) + ' '.repeat(Number(post)),
  truncate: (s, n) => Array.from(str(s)).slice(0, Number(n)).join(''),
};

/** docker's HeaderFunctions: in a table header every formatting function returns its input unchanged. */
export const HEADER_FUNCS: Record<string, TemplateFunc> = Object.fromEntries(
  ['json', 'split', 'join', 'title', 'lower', 'upper', 'pad', 'truncate'].map((n) => [n, (v: unknown) => str(v)]),
);

/** Parses and executes in one go (the common case). */
export function renderTemplate(src: string, data: unknown): string {
  return Template.parse(src).execute(data);
}
