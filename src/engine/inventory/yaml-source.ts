import { isAlias, isMap, isScalar, isSeq, LineCounter, type Document, type Node } from 'yaml';
import { InputError, type SourcePlace } from '../errors.js';
import { parseYaml, yamlProblem } from '../yaml.js';

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
  const problem = doc.errors[0] ?? doc.warnings.find((warning) => warning.code === 'TAG_RESOLVE_FAILED');
  if (problem) {
    const pos = problem.linePos?.[0];
    const summary = yamlProblem(problem.message);
    const fix = problem.code === 'TAG_RESOLVE_FAILED'
      ? 'tags such as !vault are not supported; write the plain value'
      : 'fix the YAML syntax at that place (indentation, quotes, brackets)';
    throw new InputError({ file, line: pos?.line, column: pos?.col }, summary, fix);
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
