/**
 * docker/cli's formatter.Context: a --format value is either "table ..." (header row + tabwriter alignment),
 * "json" ({{json .}} per line) or a plain template applied per item with a newline after each.
 */
import { HEADER_FUNCS, Template, TemplateError } from './template';
import { tabwrite } from './tabwriter';

export const JSON_FORMAT = '{{json .}}';

/** `\t` and `\n` typed on the command line become real tabs and newlines (docker's preFormat). */
function unescape(f: string): string {
  return f.trim().replace(/\\t/g, '\t').replace(/\\n/g, '\n');
}

/** Thrown for a bad --format; the message carries docker's "template parsing error: " prefix. */
export class FormatError extends Error {}

export const isTableFormat = (f: string): boolean => f.startsWith('table');

/**
 * Renders `items` with `format`. For tables, `header` maps each field name to its column title
 * (docker's SubHeaderContext); the header row is the same template run against it.
 */
export function renderList(format: string, items: unknown[], header: Record<string, unknown>): string {
  const table = isTableFormat(format);
  const src = unescape(table ? format.slice('table'.length) : format === 'json' ? JSON_FORMAT : format);
  let body = '';
  try {
    const tmpl = Template.parse(src);
    for (const item of items) body += tmpl.execute(item) + '\n';
    if (!table) return body;
    const head = Template.parse(src, HEADER_FUNCS).execute(header);
    return tabwrite(head + '\n' + body);
  } catch (e) {
    if (e instanceof TemplateError) throw new FormatError(`template parsing error: ${e.message}`);
    throw e;
  }
}

/** Applies a single-item --format (version, info, inspect -f) as given (no \\t rewriting), plus a newline. */
export function renderOne(format: string, item: unknown): string {
  try {
    return Template.parse(format === 'json' ? JSON_FORMAT : format).execute(item) + '\n';
  } catch (e) {
    if (e instanceof TemplateError) throw new FormatError(`template parsing error: ${e.message}`);
    throw e;
  }
}

/** `inspect` output of any object kind: docker's indented JSON array (`json` too), or the template per item. */
export function renderInspect(format: string | undefined, items: unknown[]): string {
  if (format && format !== 'json') return items.map((i) => renderOne(format, i)).join('');
  return JSON.stringify(items, null, 4) + '\n';
}
