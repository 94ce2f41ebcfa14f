import { isAlias, isMap, isScalar, isSeq, LineCounter, type Document, type Node } from 'yaml';
import { InputError, type SourcePlace } from '../errors.js';
import { parseYaml, yamlProblem, yamlSyntaxProblems } from '../yaml.js';

/** A parsed YAML file that can still say where each node came from. */
export interface YamlSource {
  file: string;
  text: string;
  doc: Document.Parsed;
  lines: LineCounter;
}

/** Parses YAML in Furrow's one dialect (../yaml.ts). Syntax errors become InputErrors at file:line:column. */
export function parseYamlSource(text: string, file: string): YamlSource {
  const lines = new LineCounter();
  const doc = parseYaml(text, lines);
  const syntax = yamlSyntaxProblems(text, doc)[0];
  if (syntax) {
    const pos = lines.linePos(syntax.offset);
    throw new InputError({ file, line: pos.line, column: pos.col }, syntax.message, syntax.fix);
  }
  const tag = doc.warnings.find((warning) => warning.code === 'TAG_RESOLVE_FAILED');
  if (tag) {
    const pos = tag.linePos?.[0];
    throw new InputError(
      { file, line: pos?.line, column: pos?.col },
      yamlProblem(tag.message),
      'tags such as !vault are not supported; write the plain value',
    );
  }
  return { file, text, doc, lines };
}

export function placeOf(source: YamlSource, node: Node | null | undefined): SourcePlace {
  const offset = node?.range?.[0];
  if (offset === undefined) return { file: source.file };
  const { line, col } = source.lines.linePos(offset);
  return { file: source.file, line, column: col };
}

/** Follows an alias (`*defaults`) to the node it names. */
export function resolveNode(source: YamlSource, node: unknown): unknown {
  return isAlias(node) ? node.resolve(source.doc) : node;
}

/** A node as plain JavaScript data (aliases and merge keys resolved). */
export function toPlain(source: YamlSource, node: unknown): unknown {
  return isAlias(node) || isMap(node) || isSeq(node) || isScalar(node) ? node.toJS(source.doc) : null;
}

/** True for an absent value or an explicit null (`key:` with nothing after it). */
export function isEmptyNode(node: unknown): boolean {
  return node === null || node === undefined || (isScalar(node) && node.value === null);
}

/** A mapping key as written: names like `1.10` or `on` stay as typed, not 1.1 or true. */
export function keyText(source: YamlSource, key: unknown): string | undefined {
  if (!isScalar(key) || key.value === null) return undefined;
  if (typeof key.value === 'string') return key.value;
  const range = key.range;
  return range ? source.text.slice(range[0], range[1]).trim() : String(key.value);
}

export function describeNode(node: unknown): string {
  if (isMap(node)) return 'a mapping';
  if (isSeq(node)) return 'a list';
  if (isScalar(node)) return node.value === null ? 'nothing' : `the ${typeof node.value} '${String(node.value)}'`;
  return 'something else';
}
