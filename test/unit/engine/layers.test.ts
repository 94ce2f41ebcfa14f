import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

/**
 * The engine is the bottom layer: modules, the cluster operations and the CLI build on it, never
 * the other way round. The module lookup is handed to the engine (RunOptions.modules,
 * LoadOptions.modules), so a module added to src/modules/ needs no change in src/engine/.
 */
const ABOVE_THE_ENGINE = ['src/modules', 'src/cluster', 'src/cli'];

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = path.join(dir, e.name);
    return e.isDirectory() ? sourceFiles(full) : e.name.endsWith('.ts') ? [full] : [];
  });
}

/** Every module specifier a file names: static imports, re-exports and dynamic import(). */
function importedSpecifiers(text: string): string[] {
  const found: string[] = [];
  for (const m of text.matchAll(/(?:\bfrom\s*|\bimport\s*\(?\s*)['"]([^'"]+)['"]/g)) found.push(m[1]!);
  return found;
}

/** The imports of files under `dir` that resolve into one of `forbidden` (relative to the repo). */
function importsInto(dir: string, forbidden: string[]): string[] {
  const root = path.resolve('.');
  const bad: string[] = [];
  for (const file of sourceFiles(path.resolve(dir))) {
    for (const spec of importedSpecifiers(readFileSync(file, 'utf8'))) {
      if (!spec.startsWith('.')) continue;
      const target = path.relative(root, path.resolve(path.dirname(file), spec));
      if (forbidden.some((f) => target === f || target.startsWith(`${f}/`)))
        bad.push(`${path.relative(root, file)} imports ${spec}`);
    }
  }
  return bad;
}

describe('layers', () => {
  test('the check sees every form of import', () => {
    const text =
      'import { a } from \'../../modules/index.js\';\nexport { b } from "../x.js";\nconst c = await ' +
      "import('../../cli/run.js');\nimport type { D } from './d.js';";
    expect(importedSpecifiers(text)).toEqual(['../../modules/index.js', '../x.js', '../../cli/run.js', './d.js']);
  });

  test('no file under src/engine imports from src/modules, src/cluster or src/cli', () => {
    expect(importsInto('src/engine', ABOVE_THE_ENGINE)).toEqual([]);
  });

  test('the check finds such an import (the modules import the engine: the reverse direction)', () => {
    expect(importsInto('src/modules', ['src/engine']).length).toBeGreaterThan(0);
  });
});
