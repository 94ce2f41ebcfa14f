import { LineCounter, parseDocument, type Document, type Tags } from 'yaml';

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
