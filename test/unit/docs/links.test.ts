import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

/**
 * The docs hold together: docs/README.md links every page, and every relative link in the docs
 * (and the top README) reaches a file that exists and, with a #fragment, a heading in it.
 */
const DOCS = path.resolve('docs');
const pages = readdirSync(DOCS).filter((f) => f.endsWith('.md'));
const sources = [...pages.map((p) => path.join(DOCS, p)), path.resolve('README.md')];

/** Markdown without its fenced code blocks, where `#` lines and `](` are not Markdown. */
const prose = (text: string) => text.replace(/^```[\s\S]*?^```$/gm, '');

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to dashes. */
function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

function anchors(file: string): Set<string> {
  const headings = [...prose(readFileSync(file, 'utf8')).matchAll(/^#{1,6} (.+)$/gm)].map((m) => slug(m[1]!));
  return new Set(headings);
}

test('GitHub anchors', () => {
  expect(slug('Extra vars (`-e`)')).toBe('extra-vars--e');
  expect(slug('furrow deploy')).toBe('furrow-deploy');
  expect(slug('JSON events (`--json`)')).toBe('json-events---json');
});

test('docs/README.md links every page of docs/', () => {
  const index = readFileSync(path.join(DOCS, 'README.md'), 'utf8');
  const linked = new Set([...index.matchAll(/\]\(([^)#]+\.md)\)/g)].map((m) => m[1]));
  const unlisted = pages.filter((p) => p !== 'README.md' && !linked.has(p));
  if (unlisted.length)
    throw new Error(`docs/README.md does not link ${unlisted.join(', ')}: add a row for each to its index`);
});

test('every relative link reaches a file, and a #fragment a heading of it', () => {
  const broken: string[] = [];
  for (const source of sources) {
    for (const m of prose(readFileSync(source, 'utf8')).matchAll(/\]\(([^)\s]+)\)/g)) {
      const target = m[1]!;
      if (/^[a-z]+:/.test(target)) continue; // https:, mailto:
      const [file, fragment] = target.split('#') as [string, string | undefined];
      const resolved = file ? path.resolve(path.dirname(source), file) : source;
      const where = `${path.relative(process.cwd(), source)}: ${target}`;
      if (!existsSync(resolved)) broken.push(`${where} (no such file)`);
      else if (fragment && resolved.endsWith('.md') && !anchors(resolved).has(fragment))
        broken.push(`${where} (no such heading)`);
    }
  }
  expect(broken).toEqual([]);
});
