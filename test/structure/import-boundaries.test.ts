/**
 * What ships (src/) and the scripts beside it never reach into test/: test code may change or vanish
 * without breaking a build, a benchmark or `cleave` itself.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { describe, it } from 'node:test';

const ROOT = process.cwd();
const TEST_DIR = join(ROOT, 'test');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sourceFiles(path) : /\.(ts|mjs|js)$/.test(name) ? [path] : [];
  });
}

/** Relative module specifiers of `text`: static imports and re-exports, dynamic imports, `new URL(...)`. */
function relativeSpecifiers(text: string): string[] {
  const found: string[] = [];
  for (const match of text.matchAll(/(?:\bfrom\s*|\bimport\s*\(?\s*|\bnew URL\(\s*)['"](\.{1,2}\/[^'"]*)['"]/g)) found.push(match[1]!);
  return found;
}

/** Each `file: specifier` of src/ and scripts/ that resolves into test/. */
function importsOfTest(): string[] {
  const offending: string[] = [];
  for (const top of ['src', 'scripts']) {
    for (const file of sourceFiles(join(ROOT, top))) {
      for (const specifier of relativeSpecifiers(readFileSync(file, 'utf8'))) {
        const target = resolve(dirname(file), specifier);
        if (target === TEST_DIR || target.startsWith(TEST_DIR + sep)) offending.push(`${relative(ROOT, file)}: ${specifier}`);
      }
    }
  }
  return offending;
}

describe('import boundaries', () => {
  it('finds static, dynamic and URL imports', () => {
    const text = "import { a } from '../test/a.js';\nexport * from \"./b.js\";\nawait import('../c.js');\nnew URL('../d.js', import.meta.url);\nimport x from 'node:fs';";
    assert.deepEqual(relativeSpecifiers(text), ['../test/a.js', './b.js', '../c.js', '../d.js']);
  });

  it('no file in src/ or scripts/ imports from test/', () => {
    assert.deepEqual(importsOfTest(), []);
  });
});
