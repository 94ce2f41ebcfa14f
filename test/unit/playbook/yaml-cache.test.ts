import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isAlias, isMap, isPair, isScalar, isSeq, LineCounter, type Document, type Node } from 'yaml';
import { isPlainData, MAX_ENTRIES } from '../../../src/engine/playbook/yaml-cache.js';
import { YamlSource, type YamlPath } from '../../../src/engine/playbook/yaml-source.js';
import { parseYaml } from '../../../src/engine/yaml.js';
import { packagePath } from '../../../src/package-root.js';

let cache: string;
const saved = process.env.FURROW_CACHE_DIR;
beforeEach(() => {
  cache = mkdtempSync(path.join(os.tmpdir(), 'furrow-yaml-cache-'));
  process.env.FURROW_CACHE_DIR = cache;
});
afterEach(() => {
  rmSync(cache, { recursive: true, force: true });
  if (saved === undefined) delete process.env.FURROW_CACHE_DIR;
  else process.env.FURROW_CACHE_DIR = saved;
});

const entries = () => readdirSync(path.join(cache, 'yaml'), { withFileTypes: true }).filter((e) => e.isFile());

/** The place of `path` read straight off the parser's nodes: what every YamlSource must answer. */
function placeFromNodes(doc: Document, lines: LineCounter, at: YamlPath, which: 'key' | 'value'): string {
  const resolve = (n: unknown): unknown => (isAlias(n) ? n.resolve(doc) : n);
  let node: unknown = doc.contents;
  let keyNode: unknown;
  let offset: number | undefined;
  for (const segment of at) {
    const here = resolve(node);
    let found: { key?: unknown; value: unknown } | undefined;
    if (isSeq(here) && typeof segment === 'number') {
      const item = here.items[segment];
      found = item === undefined ? undefined : { value: item };
    } else if (isMap(here)) {
      const pair = here.items.find(
        (p) => isPair(p) && String(isScalar(p.key) ? p.key.value : p.key) === String(segment),
      );
      found = pair && { key: pair.key, value: pair.value ?? pair.key };
    }
    if (!found) {
      offset = (here as Node | undefined)?.range?.[0] ?? 0;
      break;
    }
    keyNode = found.key;
    node = found.value;
  }
  if (offset === undefined) {
    const target = which === 'key' && keyNode ? keyNode : (resolve(node) ?? keyNode);
    offset = (target as Node | undefined)?.range?.[0] ?? 0;
  }
  const pos = lines.linePos(offset);
  return `${pos.line}:${pos.col}`;
}

/** Every path to a value in `data`, and one step past each (a key that is not there). */
function pathsOf(data: unknown, prefix: YamlPath = []): YamlPath[] {
  const out: YamlPath[] = [prefix, [...prefix, 'not-there'], [...prefix, 999]];
  if (Array.isArray(data)) for (const [i, v] of data.entries()) out.push(...pathsOf(v, [...prefix, i]));
  else if (data && typeof data === 'object')
    for (const [k, v] of Object.entries(data)) out.push(...pathsOf(v, [...prefix, k]));
  return out;
}

function yamlFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && /\.ya?ml$/.test(e.name))
    .map((e) => path.join(e.parentPath, e.name));
}

describe('parsed YAML kept between runs', () => {
  test("every role's and playbook's places and values are the parser's, parsed or read back from the cache", () => {
    const files = [...yamlFiles(packagePath('roles')), ...yamlFiles(packagePath('playbooks'))];
    expect(files.length).toBeGreaterThan(40);
    let checked = 0;
    for (const file of files) {
      const text = readFileSync(file, 'utf8');
      const lines = new LineCounter();
      const doc = parseYaml(text, lines);
      const fresh = YamlSource.parse(file, text).source!;
      const kept = YamlSource.parse(file, text).source!;
      expect(kept.data).toEqual(doc.toJS());
      expect(fresh.data).toEqual(kept.data);
      for (const at of pathsOf(fresh.data)) {
        for (const which of ['key', 'value'] as const) {
          const want = placeFromNodes(doc, lines, at, which);
          for (const source of [fresh, kept]) {
            const p = source.place(at, which);
            expect(`${file} ${JSON.stringify(at)} ${which}: ${p.line}:${p.column}`).toBe(
              `${file} ${JSON.stringify(at)} ${which}: ${want}`,
            );
          }
          checked++;
        }
      }
    }
    expect(checked).toBeGreaterThan(5000);
    // One entry per distinct text whose values JSON keeps as they are (an empty file's too), read back above.
    const texts = new Set(files.map((f) => readFileSync(f, 'utf8')));
    const plain = [...texts].filter((t) => isPlainData(parseYaml(t).toJS()));
    expect(plain.length).toBeGreaterThan(texts.size - 3);
    expect(entries().length).toBe(plain.length);
  });

  test('an edit is a miss: the new text is parsed, and its errors are found', () => {
    const text = '- hosts: all\n  tasks: []\n';
    expect(YamlSource.parse('a.yml', text).source!.data).toEqual([{ hosts: 'all', tasks: [] }]);
    expect(entries()).toHaveLength(1);
    const edited = text.replace('tasks: []', 'tasks: [');
    expect(YamlSource.parse('a.yml', edited).errors.map((e) => e.place?.line)).toEqual([2]);
    expect(entries()).toHaveLength(1); // a broken file is never kept
    const read = YamlSource.parse('b.yml', text).source!;
    expect([read.data, read.place([0, 'tasks'])]).toEqual([
      [{ hosts: 'all', tasks: [] }],
      { file: 'b.yml', line: 2, column: 10 },
    ]);
  });

  test('a broken or unreadable entry is a miss, never an error', () => {
    const text = 'key: value\n';
    YamlSource.parse('a.yml', text);
    const [entry] = entries();
    writeFileSync(path.join(cache, 'yaml', entry!.name), '{"lineStarts": [0], "tre');
    expect(YamlSource.parse('a.yml', text).source!.data).toEqual({ key: 'value' });
    process.env.FURROW_CACHE_DIR = path.join(cache, 'yaml', entry!.name, 'not-a-folder');
    expect(YamlSource.parse('a.yml', `${text}more: 1\n`).source!.data).toEqual({ key: 'value', more: 1 });
  });

  test('a write that fails leaves no temporary file behind', () => {
    const text = 'key: value\n';
    YamlSource.parse('a.yml', text);
    const [entry] = entries();
    const target = path.join(cache, 'yaml', entry!.name);
    rmSync(target);
    mkdirSync(target); // the rename onto it fails
    expect(YamlSource.parse('a.yml', text).source!.data).toEqual({ key: 'value' });
    expect(readdirSync(path.join(cache, 'yaml'))).toEqual([entry!.name]);
  });

  test('values JSON would change are not kept: shared objects (aliases, merges), .nan, sets', () => {
    expect(isPlainData({ a: [1, 'x', true, null, { b: 2.5 }] })).toBe(true);
    const shared = { x: 1 };
    expect(isPlainData({ a: shared, b: shared })).toBe(false);
    expect(isPlainData({ a: Number.NaN })).toBe(false);
    expect(isPlainData({ a: new Set([1]) })).toBe(false);
    expect(isPlainData({ a: new Uint8Array(1) })).toBe(false);
    YamlSource.parse('a.yml', 'base: &b {x: 1}\nother: *b\n');
    YamlSource.parse('a.yml', 'a: .nan\n');
    expect(readdirSync(cache)).toEqual([]);
  });

  test(`the folder keeps at most ${MAX_ENTRIES} entries`, () => {
    for (let i = 0; i <= MAX_ENTRIES; i++) YamlSource.parse('a.yml', `n: ${i}\n`);
    expect(entries().length).toBe(MAX_ENTRIES / 2);
  });
});
