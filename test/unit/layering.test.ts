/** Dependencies point down: the layers under the API edge never import from src/api (type imports included). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';

const SRC = path.resolve(__dirname, '../../../src');
const BELOW_API = ['engine', 'network', 'spec', 'store', 'runtime', 'image', 'build'];

function tsFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? tsFiles(p) : e.name.endsWith('.ts') ? [p] : [];
  });
}

/** Every module specifier of `import … from`, `export … from`, `import('…')` and `require('…')`. */
export function specifiers(source: string): string[] {
  const re = /(?:\bfrom\s*|\bimport\s*\(\s*|\brequire\s*\(\s*|^\s*import\s+)['"]([^'"]+)['"]/gm;
  return [...source.matchAll(re)].map((m) => m[1]);
}

/** The src/ folders a file imports from (relative specifiers only). */
function importedFolders(file: string): string[] {
  return specifiers(fs.readFileSync(file, 'utf8'))
    .filter((s) => s.startsWith('.'))
    .map((s) => path.relative(SRC, path.resolve(path.dirname(file), s)).split(path.sep)[0]);
}

test('specifiers sees every import form', () => {
  const src = `import type { A } from '../api/a';\nimport { B } from "../../api/b";\nexport { C } from '../api/c';\nimport '../api/d';\nconst e = require('../api/e');\nconst f = import('../api/f');`;
  assert.deepEqual(specifiers(src), ['../api/a', '../../api/b', '../api/c', '../api/d', '../api/e', '../api/f']);
});

test(`no file in ${BELOW_API.join(', ')} imports from src/api`, () => {
  const offenders = BELOW_API.flatMap((d) => tsFiles(path.join(SRC, d)))
    .filter((f) => importedFolders(f).includes('api'))
    .map((f) => path.relative(SRC, f));
  assert.deepEqual(offenders, []);
});

test('src/schema is the bottom layer: it imports nothing from src/', () => {
  const offenders = tsFiles(path.join(SRC, 'schema')).filter((f) => importedFolders(f).some((d) => d !== 'schema'));
  assert.deepEqual(offenders.map((f) => path.relative(SRC, f)), []);
});
