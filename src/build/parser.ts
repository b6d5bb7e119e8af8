/**
 * Dockerfile syntax: parser directives, comments, line continuations, builder flags, heredocs and the per-instruction
 * argument shapes (JSON vs shell form). Follows the reference parser's rules; it produces untyped nodes that
 * instructions.ts turns into typed instructions.
 */
import { processWord } from './expand';

export interface Heredoc {
  /** Delimiter word with quotes removed. */
  name: string;
  /** Raw body: every line up to the terminator, newlines included, tabs not yet stripped. */
  content: string;
  /** False when any part of the delimiter was quoted (`<<"EOF"`, `<<'EOF'`): no variable expansion. */
  expand: boolean;
  /** `<<-`: leading tabs are stripped from body lines. */
  chomp: boolean;
  /** File descriptor prefix (`3<<EOF`), 0 when absent. */
  fd: number;
}

export interface Location {
  file: string;
  startLine: number;
  endLine: number;
}

export interface Node {
  /** Lower-case instruction name as written (unknown names kept: instructions.ts rejects them). */
  cmd: string;
  /** The logical line: continuation lines joined, comments removed. */
  original: string;
  /** Raw `--name[=value]` tokens before the arguments. */
  flags: string[];
  /** Arguments, shaped per instruction (see dispatch below). */
  args: string[];
  /** Exec (JSON array) form. */
  json: boolean;
  heredocs: Heredoc[];
  /** ONBUILD's trigger. */
  sub?: Node;
  loc: Location;
}

export interface ParseResult {
  nodes: Node[];
  escapeToken: string;
  /** `# syntax=` value, if any (informational: there is one frontend). */
  syntax?: string;
  warnings: string[];
}

/** A Dockerfile error: `Dockerfile:3: unknown instruction: RUNN`. */
export class DockerfileError extends Error {
  constructor(readonly file: string, readonly line: number, readonly reason: string, readonly instruction?: string) {
    super(`${file}:${line}: ${instruction && !reason.includes(instruction) ? `${instruction}: ` : ''}${reason}`);
    this.name = 'DockerfileError';
  }
}

const HEREDOC_CMDS = new Set(['run', 'copy', 'add']);
/** The frontends Berth's built-in one stands for: docker/dockerfile 1.x (any 1.x tag, -labs, a pinned digest). */
const BUILTIN_FRONTEND = /^(?:docker\.io\/)?docker\/dockerfile(?:-upstream)?(?::1(?:\.\d+){0,2}(?:-labs)?)?(?:@sha256:[a-f0-9]{64})?$/;

/** `# syntax=`: the built-in frontend is used without fetching anything; another frontend image is refused. */
function checkSyntax(value: string, file: string, lineNo: number): string {
  if (BUILTIN_FRONTEND.test(value)) return value;
  throw new DockerfileError(file, lineNo, `syntax directive names the frontend image ${JSON.stringify(value)}: Berth builds with its ` +
    'built-in Dockerfile frontend (docker/dockerfile:1.x) and fetches no other frontend; remove the line or name docker/dockerfile:1');
}

const RE_DIRECTIVE = /^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$/;
const RE_HEREDOC = /^(\d*)<<(-?)([^<]*)$/;
const RE_WS = /[\t\v\f\r ]+/;

type ArgParser = (rest: string, escape: string) => { args: string[]; json: boolean; sub?: Node };

/** Whitespace-splits words but keeps quotes and escapes (they are processed at expansion time). */
function parseWords(rest: string, escape: string): string[] {
  const words: string[] = [];
  let word = '';
  let blankOK = false;
  let quote = '';
  let inWord = false;
  const chars = Array.from(rest);
  for (let i = 0; i < chars.length; i++) {
    let c = chars[i];
    if (!inWord) {
      if (/\s/u.test(c)) continue;
      inWord = true;
    }
    if (quote === '') {
      if (/\s/u.test(c)) {
        if (blankOK || word !== '') words.push(word);
        word = '';
        blankOK = false;
        inWord = false;
        continue;
      }
      if (c === "'" || c === '"') {
        quote = c;
        blankOK = true;
      } else if (c === escape) {
        if (i + 1 === chars.length) continue;
        word += c;
        c = chars[++i];
      }
      word += c;
      continue;
    }
    if (c === quote) quote = '';
    else if (c === escape && quote !== "'") {
      if (i + 1 === chars.length) {
        quote = '';
        continue;
      }
      word += c;
      c = chars[++i];
    }
    word += c;
  }
  if (inWord && (blankOK || word !== '')) words.push(word);
  return words;
}

/** Parses a JSON array of strings; undefined when the text is not one (shell form is used then). */
function parseJSONArray(rest: string): string[] | undefined {
  const text = rest.trimStart();
  if (!text.startsWith('[')) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!Array.isArray(value)) return undefined;
  if (value.some((v) => typeof v !== 'string')) {
    throw new Error('when using JSON array syntax, arrays must be comprised of strings only');
  }
  return value as string[];
}

const whitespaceList: ArgParser = (rest) => ({ args: rest === '' ? [] : rest.split(RE_WS), json: false });
const wholeString: ArgParser = (rest) => ({ args: rest === '' ? [] : [rest], json: false });
const maybeJSON: ArgParser = (rest) => {
  if (rest === '') return { args: [], json: false };
  const arr = parseJSONArray(rest);
  return arr ? { args: arr, json: true } : { args: [rest], json: false };
};
const maybeJSONToList: ArgParser = (rest, escape) => {
  const arr = parseJSONArray(rest);
  return arr ? { args: arr, json: true } : whitespaceList(rest, escape);
};

/** ENV and LABEL: `KEY value` (old form) or `KEY=value KEY2="v 2"`; args are flat key,value pairs. */
function nameValue(instruction: string): ArgParser {
  return (rest, escape) => {
    const words = parseWords(rest, escape);
    if (words.length === 0) return { args: [], json: false };
    if (!words[0].includes('=')) {
      const parts = rest.split(RE_WS);
      if (parts.length < 2) throw new Error(`${instruction} must have two arguments`);
      const key = parts[0];
      return { args: [key, rest.slice(key.length).replace(/^[\t\v\f\r ]+/, '')], json: false };
    }
    const args: string[] = [];
    for (const w of words) {
      const i = w.indexOf('=');
      if (i < 0) throw new Error(`Syntax error - can't find = in "${w}". Must be of the form: name=value`);
      args.push(w.slice(0, i), w.slice(i + 1));
    }
    return { args, json: false };
  };
}

const healthcheck: ArgParser = (rest, escape) => {
  const m = /^(\S+)\s*(.*)$/s.exec(rest);
  if (!m) return { args: [], json: false };
  const cmd = maybeJSON(m[2], escape);
  return { args: [m[1], ...cmd.args], json: cmd.json };
};

const DISPATCH: Record<string, ArgParser> = {
  add: maybeJSONToList,
  arg: (rest, escape) => ({ args: parseWords(rest, escape), json: false }),
  cmd: maybeJSON,
  copy: maybeJSONToList,
  entrypoint: maybeJSON,
  env: nameValue('ENV'),
  expose: whitespaceList,
  from: whitespaceList,
  healthcheck,
  label: nameValue('LABEL'),
  maintainer: wholeString,
  run: maybeJSON,
  shell: maybeJSON,
  stopsignal: wholeString,
  user: wholeString,
  volume: maybeJSONToList,
  workdir: wholeString,
};

/** Splits leading `--flag[=value]` words (quotes and backslashes processed) from the rest of the line. */
export function extractFlags(line: string): { flags: string[]; rest: string } {
  const flags: string[] = [];
  let pos = 0;
  for (;;) {
    while (pos < line.length && /\s/.test(line[pos])) pos++;
    if (!line.startsWith('--', pos)) return { flags, rest: line.slice(pos) };
    let word = '';
    let quote = '';
    for (; pos < line.length; pos++) {
      const c = line[pos];
      if (quote === '' && /\s/.test(c)) break;
      if (quote === '' && (c === '"' || c === "'")) quote = c;
      else if (quote !== '' && c === quote) quote = '';
      else if (c === '\\' && pos + 1 < line.length) word += line[++pos];
      else if (c !== '\\') word += c;
    }
    if (word === '--') return { flags, rest: line.slice(pos).trimStart() };
    flags.push(word);
  }
}

function nodeFromLine(line: string, escape: string, loc: Location): Node {
  const trimmed = line.trim();
  const m = /^(\S+)\s*([\s\S]*)$/.exec(trimmed);
  const cmd = (m ? m[1] : trimmed).toLowerCase();
  const afterCmd = m ? m[2] : '';
  const { flags, rest } = extractFlags(afterCmd);
  const args = rest.trim();
  const node: Node = { cmd, original: line, flags, args: [], json: false, heredocs: [], loc };
  try {
    if (cmd === 'onbuild') {
      if (args !== '') node.sub = nodeFromLine(args, escape, loc);
    } else {
      const parsed = (DISPATCH[cmd] ?? (() => ({ args: [], json: false })))(args, escape);
      node.args = parsed.args;
      node.json = parsed.json;
    }
  } catch (err) {
    throw new DockerfileError(loc.file, loc.startLine, (err as Error).message, cmd.toUpperCase());
  }
  return node;
}

/** Finds heredoc markers (`<<EOF`, `<<-"EOF"`, `3<<EOF`) among the words of a line. */
export function heredocsInLine(line: string): Heredoc[] {
  let words: string[];
  try {
    words = processWord(line, () => undefined, { raw: true }).words;
  } catch {
    return [];
  }
  const docs: Heredoc[] = [];
  for (const w of words) {
    const h = parseHeredocMarker(w);
    if (h) docs.push(h);
  }
  return docs;
}

/** Parses one heredoc marker word; undefined when the word is not one. */
export function parseHeredocMarker(word: string): Heredoc | undefined {
  const m = RE_HEREDOC.exec(word);
  if (!m || m[3] === '') return undefined;
  const keep = () => undefined;
  const plain = processWord(m[3], keep).words;
  if (plain.length !== 1) return undefined;
  const rawWords = processWord(m[3], keep, { raw: true }).words;
  const quotes = (s: string): number => (s.match(/["']/g) ?? []).length;
  return {
    name: plain[0],
    content: '',
    expand: quotes(plain[0]) === quotes(rawWords[0] ?? ''),
    chomp: m[2] === '-',
    fd: m[1] === '' ? 0 : Number(m[1]),
  };
}

/** The heredoc body as the instruction uses it (`<<-` strips leading tabs). */
export function heredocBody(h: Heredoc): string {
  return h.chomp ? h.content.replace(/^\t+/gm, '') : h.content;
}

function canContainHeredoc(node: Node): boolean {
  const n = node.cmd === 'onbuild' && node.sub ? node.sub : node;
  return HEREDOC_CMDS.has(n.cmd) && !n.json;
}

/** Parses Dockerfile text into nodes. `file` names the file in errors (`Dockerfile:3: ...`). */
export function parseDockerfile(text: string, file = 'Dockerfile'): ParseResult {
  // Lines keep their "\n" so heredoc bodies keep their exact bytes.
  const lines = text.replace(/^\uFEFF/, '').match(/[^\n]*\n|[^\n]+$/g) ?? [];
  let escape = '\\';
  let continuation = /(?:^|[^\\])\\[ \t]*$/;
  let directivesDone = false;
  let syntax: string | undefined;
  const seen = new Set<string>();
  const nodes: Node[] = [];
  const warnings: string[] = [];
  let i = 0;

  const stripEol = (s: string): string => s.replace(/[\r\n]+$/, '');
  const isComment = (s: string): boolean => /^#/.test(stripEol(s).trimStart());

  const directive = (raw: string, lineNo: number): void => {
    if (directivesDone) return;
    const m = RE_DIRECTIVE.exec(raw);
    const key = m?.[1].toLowerCase();
    if (!m || (key !== 'escape' && key !== 'syntax')) {
      directivesDone = true;
      return;
    }
    if (seen.has(key)) throw new DockerfileError(file, lineNo, `only one ${key} parser directive can be used`);
    seen.add(key);
    if (key === 'syntax') syntax = checkSyntax(m[2], file, lineNo);
    else {
      if (m[2] !== '`' && m[2] !== '\\') {
        throw new DockerfileError(file, lineNo, `invalid escape token '${m[2]}' does not match \` or \\`);
      }
      escape = m[2];
      const e = escape === '\\' ? '\\\\' : '`';
      continuation = new RegExp(`(?:^|[^${e}])${e}[ \\t]*$`);
    }
  };
  /** Strips a trailing continuation escape; `done` is false when the next line continues this one. */
  const trimContinuation = (s: string): { text: string; done: boolean } =>
    continuation.test(s)
      ? { text: s.replace(new RegExp(`\\${escape}[ \\t]*$`), ''), done: false }
      : { text: s, done: true };

  while (i < lines.length) {
    const raw = stripEol(lines[i]).trimStart();
    directive(raw, i + 1);
    i++;
    const startLine = i;
    let { text: line, done } = trimContinuation(raw.replace(/^#.*$/, ''));
    if (done && line === '') continue;
    let emptyContinuation = false;
    while (!done && i < lines.length) {
      const next = stripEol(lines[i]);
      directive(next, i + 1);
      i++;
      if (isComment(next)) continue;
      if (next.trim() === '') {
        emptyContinuation = true;
        continue;
      }
      const t = trimContinuation(next);
      line += t.text;
      done = t.done;
    }
    if (emptyContinuation) warnings.push(`[WARNING]: Empty continuation line found in:\n    ${line}`);
    const loc: Location = { file, startLine, endLine: i };
    const node = nodeFromLine(line, escape, loc);
    if (canContainHeredoc(node)) {
      let docs: Heredoc[];
      try {
        docs = heredocsInLine(line);
      } catch (err) {
        throw new DockerfileError(file, startLine, (err as Error).message, node.cmd.toUpperCase());
      }
      for (const doc of docs) {
        let terminated = false;
        while (i < lines.length) {
          const body = lines[i++];
          let candidate = stripEol(body);
          if (doc.chomp) candidate = candidate.replace(/^\t+/, '');
          if (candidate === doc.name) {
            terminated = true;
            break;
          }
          doc.content += body;
        }
        if (!terminated) throw new DockerfileError(file, startLine, 'unterminated heredoc', node.cmd.toUpperCase());
        node.heredocs.push(doc);
      }
      loc.endLine = i;
    }
    nodes.push(node);
  }
  if (warnings.length > 0) warnings.push('[WARNING]: Empty continuation lines will become errors in a future release.');
  if (nodes.length === 0) throw new DockerfileError(file, lines.length, 'file with no instructions');
  return { nodes, escapeToken: escape, syntax, warnings };
}
