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

/** A parse error's message without the parser's own "at line L, column C" (the place says it). */
export function yamlProblem(message: string): string {
  return message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
}
