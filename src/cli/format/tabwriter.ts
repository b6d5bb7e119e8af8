/**
 * Go's text/tabwriter (flags 0, pad char ' '), the column aligner behind every docker table.
 * Cells are tab-terminated; the last cell of a line never takes part in alignment, and a column block
 * is a run of consecutive lines that have a cell in that column (so a line without tabs splits blocks).
 */
export interface TabOptions { minwidth: number; padding: number }

/** docker's formatter uses NewWriter(out, 10, 1, 3, ' ', 0). */
export const DOCKER_TABLE: TabOptions = { minwidth: 10, padding: 3 };

const width = (s: string): number => {
  let n = 0;
  for (const _ of s) n++;
  return n;
};

export function tabwrite(text: string, opts: TabOptions = DOCKER_TABLE): string {
  const rawLines = text.split('\n');
  const trailing = rawLines.pop() as string; // text after the last newline (usually "")
  const lines = rawLines.map((l) => l.split('\t'));
  const out: string[] = [];
  const widths: number[] = [];

  const writeLines = (from: number, to: number): void => {
    for (let i = from; i < to; i++) {
      const cells = lines[i];
      let s = '';
      for (let j = 0; j < cells.length; j++) {
        s += cells[j];
        if (j < widths.length && j < cells.length - 1) s += ' '.repeat(Math.max(widths[j] - width(cells[j]), 0));
      }
      out.push(s);
    }
  };

  const format = (line0: number, line1: number): void => {
    const column = widths.length;
    for (let i = line0; i < line1; i++) {
      if (column >= lines[i].length - 1) continue;
      writeLines(line0, i);
      line0 = i;
      let w = opts.minwidth;
      for (; i < line1 && column < lines[i].length - 1; i++) w = Math.max(w, width(lines[i][column]) + opts.padding);
      widths.push(w);
      format(line0, i);
      widths.pop();
      line0 = i; // line i has no cell in this column, so the loop increment may skip it
    }
    writeLines(line0, line1);
  };

  format(0, lines.length);
  return out.map((l) => l + '\n').join('') + trailing;
}
