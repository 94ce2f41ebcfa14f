import { readFileSync } from 'node:fs';
import { isAlias, isMap, isPair, isScalar, isSeq, LineCounter, type Document, type Node } from 'yaml';
import { InputError } from '../errors.js';
import { parseYaml, yamlSyntaxProblems } from '../yaml.js';
import type { Place } from './types.js';

/**
 * One YAML input file, kept with its syntax tree so any value found while loading can be traced
 * back to file:line:column. Read in Furrow's one YAML dialect (../yaml.ts).
 */
export type YamlPath = readonly (string | number)[];

export class YamlSource {
  private constructor(
    readonly file: string,
    private readonly doc: Document,
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

  static parse(file: string, text: string): { source?: YamlSource; errors: InputError[] } {
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
    return { source: new YamlSource(file, doc, lines, doc.toJS({ maxAliasCount: 1000 })), errors: [] };
  }

  /** The place of the value at `path`, or of its key (`which = 'key'`); the nearest existing parent otherwise. */
  place(path: YamlPath, which: 'key' | 'value' = 'value'): Place {
    const offset = this.offsetOf(path, which);
    const pos = this.lines.linePos(offset);
    return { file: this.file, line: pos.line, column: pos.col };
  }

  private offsetOf(path: YamlPath, which: 'key' | 'value'): number {
    let node: unknown = this.doc.contents;
    let keyNode: unknown;
    for (const segment of path) {
      const found = childOf(this.resolve(node), segment);
      // A path that goes on past what is written points at the deepest value that is there.
      if (!found) return (this.resolve(node) as Node | undefined)?.range?.[0] ?? 0;
      keyNode = found.key;
      node = found.value;
    }
    const target = which === 'key' && keyNode ? keyNode : (this.resolve(node) ?? keyNode);
    return (target as Node | undefined)?.range?.[0] ?? 0;
  }

  private resolve(node: unknown): unknown {
    return isAlias(node) ? node.resolve(this.doc) : node;
  }
}

function childOf(node: unknown, segment: string | number): { key?: unknown; value: unknown } | undefined {
  if (isSeq(node) && typeof segment === 'number') {
    const item = node.items[segment];
    return item === undefined ? undefined : { value: item };
  }
  if (isMap(node)) {
    for (const pair of node.items) {
      if (!isPair(pair)) continue;
      const key = isScalar(pair.key) ? pair.key.value : pair.key;
      if (String(key) === String(segment)) return { key: pair.key, value: pair.value ?? pair.key };
    }
  }
  return undefined;
}
