import { readFile } from 'node:fs/promises';
import { isAlias, isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node, type Tags } from 'yaml';
import { InputError } from '../errors.js';
import type { Place } from './types.js';

/**
 * One YAML input file, kept with its syntax tree so any value found while loading can be traced
 * back to file:line:column. Parsed as YAML 1.1 the way Ansible's PyYAML reads it (`yes`/`no`
 * booleans, `0644` octal, `<<` merge keys), minus the surprises PyYAML does not have either
 * (`y`/`n` as booleans) or that only bite (`22:22` as a base-60 number, dates as Date objects).
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
      text = await readFile(file, 'utf8');
    } catch (err) {
      const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : String((err as Error).message);
      return { errors: [new InputError({ file }, `cannot read the file: ${reason}`)] };
    }
    return YamlSource.parse(file, text);
  }

  static parse(file: string, text: string): { source?: YamlSource; errors: InputError[] } {
    const lines = new LineCounter();
    const doc = parseDocument(text, { version: '1.1', customTags: ansibleTags, merge: true, lineCounter: lines, prettyErrors: false, uniqueKeys: true });
    if (doc.errors.length > 0) {
      const errors = doc.errors.map((e) => {
        const pos = lines.linePos(e.pos[0]);
        return new InputError({ file, line: pos.line, column: pos.col }, `broken YAML: ${firstLine(e.message)}`, 'fix the YAML syntax at this place');
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

function firstLine(message: string): string {
  return message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '');
}

const BOOL_TRUE = /^(?:[Yy]es|YES|[Tt]rue|TRUE|[Oo]n|ON)$/;
const BOOL_FALSE = /^(?:[Nn]o|NO|[Ff]alse|FALSE|[Oo]ff|OFF)$/;

function ansibleTags(tags: Tags): Tags {
  return tags.flatMap((t): Tags => {
    if (typeof t !== 'object') return [t];
    if (t.tag === 'tag:yaml.org,2002:timestamp' || ('format' in t && t.format === 'TIME')) return [];
    if (t.tag !== 'tag:yaml.org,2002:bool' || !('test' in t) || !t.test) return [t];
    return [{ ...t, test: t.test.test('true') ? BOOL_TRUE : BOOL_FALSE }];
  });
}
