import { LineCounter, Parser, parseDocument, type CST, type Document, type Tags } from 'yaml';

/**
 * The one YAML dialect of every file Furrow reads (playbooks, task files, roles, inventories,
 * group_vars/host_vars, a cluster's config.yml, `-e @file`): YAML 1.1 as Ansible's PyYAML reads
 * it, so a file means the same to Furrow as to Ansible:
 *   yes/no/on/off/true/false (any of their usual cases) are booleans; `0755` is octal (493);
 *   `<<: *anchor` merges; a key written twice is an error.
 * Two exceptions, where 1.1 only bites (docs/playbooks.md, "YAML"): `22:22` (base 60 in 1.1)
 * and dates (`2024-01-01`) stay strings. `y`/`n` stay strings, as in PyYAML.
 */
export function parseYaml(text: string, lineCounter: LineCounter = new LineCounter()): Document.Parsed {
  return parseDocument(text, { version: '1.1', customTags: ansibleTags, merge: true, uniqueKeys: true, lineCounter });
}

/**
 * The words YAML 1.1 (PyYAML, so Ansible) reads as true and false: the one yes/no dialect. A
 * module's yes/no param that reaches it as text (quoted, `key=value` words, a rendered template)
 * accepts exactly these (modules/support/param-values.ts).
 */
export const YAML_BOOLEAN_WORDS: Readonly<Record<'true' | 'false', readonly string[]>> = {
  true: ['yes', 'Yes', 'YES', 'true', 'True', 'TRUE', 'on', 'On', 'ON'],
  false: ['no', 'No', 'NO', 'false', 'False', 'FALSE', 'off', 'Off', 'OFF'],
};

/** The boolean a word means in the YAML dialect, or undefined for any other text. */
export function yamlBoolean(text: string): boolean | undefined {
  return YAML_BOOLEAN_WORDS.true.includes(text) ? true : YAML_BOOLEAN_WORDS.false.includes(text) ? false : undefined;
}

const BOOL_TRUE = new RegExp(`^(?:${YAML_BOOLEAN_WORDS.true.join('|')})$`);
const BOOL_FALSE = new RegExp(`^(?:${YAML_BOOLEAN_WORDS.false.join('|')})$`);

function ansibleTags(tags: Tags): Tags {
  return tags.flatMap((t): Tags => {
    if (typeof t !== 'object') return [t];
    if (t.tag === 'tag:yaml.org,2002:timestamp' || ('format' in t && t.format === 'TIME')) return [];
    if (t.tag !== 'tag:yaml.org,2002:bool' || !('test' in t) || !t.test) return [t];
    return [{ ...t, test: t.test.test('true') ? BOOL_TRUE : BOOL_FALSE }];
  });
}

/** A parse error's message without the parser's own "at line L, column C" (the place says it). */
export function yamlProblem(message: string): string {
  return message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
}

/** A syntax problem as the user should read it: where (an offset in the text), what, and how to fix it. */
export interface YamlSyntaxProblem {
  offset: number;
  message: string;
  fix: string;
}

const GENERIC_FIX = 'fix the YAML syntax at this place (indentation, quotes, brackets)';

/**
 * The syntax problems of a parsed document. A bracket or quote left open makes the parser report
 * several problems lines later, where it ran out; that is one problem, at the opening, saying what
 * is unclosed. Otherwise the parser's own problems.
 */
export function yamlSyntaxProblems(text: string, doc: Document.Parsed): YamlSyntaxProblem[] {
  if (doc.errors.length === 0) return [];
  const quoteTrouble = doc.errors
    .filter((e) => e.code === 'MISSING_CHAR' && /quote/i.test(e.message))
    .map((e) => e.pos[0]);
  const unclosed: YamlSyntaxProblem[] = [];
  for (const token of new Parser().parse(text)) {
    for (const t of cstTokens(token)) {
      if (t.type === 'flow-collection' && !t.end.some((e) => e.type === 'flow-map-end' || e.type === 'flow-seq-end')) {
        const map = t.start.source === '{';
        unclosed.push({
          offset: t.start.offset,
          message:
            `'${t.start.source}' opened here is never closed: the ${map ? 'mapping' : 'list'} needs a ` +
            `'${map ? '}' : ']'}'`,
          fix:
            `close it with '${map ? '}' : ']'}' (on this line, or on a later line indented more than its ` +
            `key), or write the ${map ? 'mapping' : 'list'} in block style`,
        });
      } else if (
        (t.type === 'double-quoted-scalar' || t.type === 'single-quoted-scalar') &&
        quoteTrouble.some((at) => at >= t.offset && at <= t.offset + t.source.length)
      ) {
        const q = t.source[0]!;
        unclosed.push({
          offset: t.offset,
          message: `the ${q === '"' ? 'double' : 'single'} quote opened here is never closed`,
          fix: `end the string with ${q}${q === '"' ? ' (a quote inside it is \\")' : " (a quote inside it is '')"}`,
        });
      }
    }
  }
  if (unclosed.length > 0) return [unclosed.sort((a, b) => a.offset - b.offset)[0]!];
  return doc.errors.map((e) => ({ offset: e.pos[0], message: yamlProblem(e.message), fix: GENERIC_FIX }));
}

/** Every token of a CST document, depth first. */
function* cstTokens(token: CST.Token | undefined): Generator<CST.Token> {
  if (!token) return;
  yield token;
  if (token.type === 'document') yield* cstTokens(token.value);
  if ('items' in token) {
    for (const item of token.items) {
      yield* cstTokens(item.key ?? undefined);
      yield* cstTokens(item.value);
    }
  }
}
