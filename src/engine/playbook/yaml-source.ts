import { readFileSync } from 'node:fs';
import { isAlias, isMap, isPair, isScalar, isSeq, LineCounter, type Document, type Node } from 'yaml';
import { InputError } from '../errors.js';
import { parseYaml, yamlSyntaxProblems } from '../yaml.js';
import type { Place } from './types.js';
import { keepParsed, readParsed, type ParsedYaml, type PlaceTree } from './yaml-cache.js';

/**
 * One YAML input file, kept with where each of its nodes starts so any value found while loading can
 * be traced back to file:line:column. Read in Furrow's one YAML dialect (../yaml.ts).
 */
export type YamlPath = readonly (string | number)[];

export class YamlSource {
  private constructor(
    readonly file: string,
    private readonly tree: PlaceTree,
    private readonly lines: LineCounter,
    readonly data: unknown,
  ) {}

  /** Reads and parses a file; syntax errors come back as InputErrors with the parser's place. */
  static async read(file: string): Promise<{ source?: YamlSource; errors: InputError[] }> {
    let text: string;
    try {
      text = readFileSync(file, 'utf8'); // small, and many: see pki/store.ts readIfExists
    } catch (err) {
      const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : String((err as Error).message);
      return { errors: [new InputError({ file }, `cannot read the file: ${reason}`)] };
    }
    return YamlSource.parse(file, text);
  }

  /** Parses `text`, or takes what parsing the same text gave before (yaml-cache.ts). */
  static parse(file: string, text: string): { source?: YamlSource; errors: InputError[] } {
    const kept = readParsed(text);
    if (kept) return { source: YamlSource.of(file, kept), errors: [] };
    const lines = new LineCounter();
    const doc = parseYaml(text, lines);
    const problems = yamlSyntaxProblems(text, doc);
    if (problems.length > 0) {
      const errors = problems.map((p) => {
        const pos = lines.linePos(p.offset);
        return new InputError({ file, line: pos.line, column: pos.col }, `broken YAML: ${p.message}`, p.fix);
      });
      return { errors };
    }
    const parsed = { data: doc.toJS({ maxAliasCount: 1000 }), lineStarts: lines.lineStarts, tree: placeTree(doc) };
    keepParsed(text, parsed);
    return { source: new YamlSource(file, parsed.tree, lines, parsed.data), errors: [] };
  }

  private static of(file: string, parsed: ParsedYaml): YamlSource {
    const lines = new LineCounter();
    for (const start of parsed.lineStarts) lines.addNewLine(start);
    return new YamlSource(file, parsed.tree, lines, parsed.data);
  }

  /** The place of the value at `path`, or of its key (`which = 'key'`); the nearest existing parent otherwise. */
  place(path: YamlPath, which: 'key' | 'value' = 'value'): Place {
    const pos = this.lines.linePos(offsetOf(this.tree, path, which));
    return { file: this.file, line: pos.line, column: pos.col };
  }
}

function offsetOf(tree: PlaceTree, path: YamlPath, which: 'key' | 'value'): number {
  let node = tree;
  let keyAt: number | null | undefined;
  for (const segment of path) {
    const found = childOf(node, segment);
    // A path that goes on past what is written points at the deepest value that is there.
    if (!found) return node.at ?? 0;
    keyAt = found.keyAt;
    node = found.value;
  }
  if (which === 'key' && keyAt != null) return keyAt;
  return node.at ?? keyAt ?? 0;
}

function childOf(node: PlaceTree, segment: string | number): { keyAt?: number | null; value: PlaceTree } | undefined {
  if (node.items && typeof segment === 'number') {
    const item = node.items[segment];
    return item === undefined ? undefined : { value: item };
  }
  const pair = node.pairs?.find(([key]) => key === String(segment));
  return pair && { keyAt: pair[1], value: pair[2] };
}

/**
 * Where each node of `doc` starts, aliases followed (a mapping's key as its text, as a path names it).
 * An alias to a node that holds it stops there: its places are the anchor's own.
 */
function placeTree(doc: Document): PlaceTree {
  const resolve = (node: unknown): unknown => (isAlias(node) ? node.resolve(doc) : node);
  const within = new Set<unknown>();
  const walk = (raw: unknown): PlaceTree => {
    const node = resolve(raw);
    const at = (node as Node | null | undefined)?.range?.[0] ?? null;
    if (within.has(node) || !(isSeq(node) || isMap(node))) return { at };
    within.add(node);
    const tree: PlaceTree = { at };
    if (isSeq(node)) tree.items = node.items.map(walk);
    else {
      tree.pairs = [];
      for (const pair of node.items) {
        if (!isPair(pair)) continue;
        const key = isScalar(pair.key) ? pair.key.value : pair.key;
        tree.pairs.push([String(key), (pair.key as Node | null)?.range?.[0] ?? null, walk(pair.value ?? pair.key)]);
      }
    }
    within.delete(node);
    return tree;
  };
  return walk(doc.contents);
}
