import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

/**
 * No line of code is wider than the formatter's width (biome.json). Biome wraps code but leaves a
 * long string, comment or regex as it is, so this holds the rest of the rule.
 */
const root = path.resolve('.');
const config = JSON.parse(readFileSync(path.join(root, 'biome.json'), 'utf8')) as {
  formatter: { lineWidth: number };
};
const width = config.formatter.lineWidth;

function sources(dir: string): string[] {
  return readdirSync(path.join(root, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && /\.(ts|mjs)$/.test(e.name))
    .map((e) => path.relative(root, path.join(e.parentPath, e.name)));
}

test(`no source line is wider than biome.json's lineWidth`, () => {
  const files = ['src', 'test', 'bench', 'scripts'].flatMap(sources);
  expect(files.length).toBeGreaterThan(300);
  const over = files.flatMap((file) =>
    readFileSync(path.join(root, file), 'utf8')
      .split('\n')
      .flatMap((line, i) => (line.length > width ? [`${file}:${i + 1}: ${line.length} columns`] : [])),
  );
  expect(over).toEqual([]);
});
