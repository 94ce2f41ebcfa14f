/**
 * The module reference, rendered from each module's JSON Schema (ansible-doc's job): the schemas
 * are what ajv checks a task's params against, so a reference built from them cannot disagree
 * with what Furrow accepts. Pure functions: the CLI (`furrow modules`) and the docs test feed them.
 */
import { YAML_BOOLEAN_WORDS } from '../engine/yaml.js';

/** What the renderer needs of a module: the registry's `Module` fits, plus a one-line summary. */
export interface ModuleDocInput {
  name: string;
  schema: unknown;
  freeForm?: string;
  secret?: string[];
  local?: boolean;
  summary?: string;
}

export interface ParamDoc {
  /** Dotted below a mapping param: `spec.name`. */
  name: string;
  type: string;
  required: boolean;
  default?: unknown;
  choices?: unknown[];
  /** Values as a task would write them (the schema's `examples`). */
  examples: unknown[];
  /** The schema's description, then constraints the type does not show ("at least 1"). */
  notes: string[];
}

export interface ModuleDoc {
  name: string;
  summary?: string;
  params: ParamDoc[];
  /** Groups of params of which at least one must be given (`path`, `dest` or `name`). */
  oneOfRequired: string[][];
  /** Keys beyond `params` are accepted (set_fact: each key is a variable). */
  anyKeys: boolean;
  minKeys?: number;
  freeForm?: string;
  secret: string[];
  local: boolean;
}

type Schema = Record<string, unknown>;

const isSchema = (v: unknown): v is Schema => typeof v === 'object' && v !== null && !Array.isArray(v);
const schemaList = (v: unknown): Schema[] => (Array.isArray(v) ? v.filter(isSchema) : []);
const unique = (items: string[]) => [...new Set(items)];

/** The YAML dialect's words for true and false, which yes/no params (`flagSchema`) accept beside booleans. */
const BOOLEAN_WORDS = new Set([...YAML_BOOLEAN_WORDS.true, ...YAML_BOOLEAN_WORDS.false]);

/** `anyOf: [boolean, string enum of yes/no words]`: a boolean written either way. */
function isBooleanWords(s: Schema): boolean {
  const branches = schemaList(s.anyOf ?? s.oneOf);
  if (branches.length !== 2 || !branches.some((b) => b.type === 'boolean')) return false;
  const words = branches.find((b) => b.type === 'string')?.enum;
  return Array.isArray(words) && words.every((w) => typeof w === 'string' && BOOLEAN_WORDS.has(w));
}

function typeName(type: string, s: Schema): string {
  if (type === 'array') {
    if (!isSchema(s.items) || !Object.keys(s.items).length) return 'list';
    const item = describeType(s.items);
    return item.includes(' | ') ? `list of (${item})` : `list of ${item}`;
  }
  if (type === 'object') return 'mapping';
  return type;
}

/** A schema's type in words: `string`, `string | integer`, `list of string`, `boolean`, `any`. */
export function describeType(schema: unknown): string {
  if (!isSchema(schema)) return 'any';
  if (isBooleanWords(schema)) return 'boolean';
  const branches = schemaList(schema.anyOf ?? schema.oneOf);
  if (branches.length) return unique(branches.map(describeType)).join(' | ');
  if (Array.isArray(schema.type)) return schema.type.map((t) => typeName(String(t), schema)).join(' | ');
  if (typeof schema.type === 'string') return typeName(schema.type, schema);
  if (Array.isArray(schema.enum)) return unique(schema.enum.map((v) => (v === null ? 'null' : typeof v))).join(' | ');
  return 'any';
}

/** The allowed values, from the schema or (for a list) from its items. Boolean words are not choices. */
function choicesOf(s: Schema): unknown[] | undefined {
  if (Array.isArray(s.enum)) return s.enum;
  if (s.type === 'array' && isSchema(s.items) && Array.isArray(s.items.enum)) return s.items.enum;
  if (isBooleanWords(s)) return undefined;
  const enums = schemaList(s.anyOf ?? s.oneOf).flatMap((b) => (Array.isArray(b.enum) ? b.enum : []));
  return enums.length ? enums : undefined;
}

function notesOf(s: Schema): string[] {
  const notes: string[] = [];
  if (typeof s.description === 'string') notes.push(s.description.trim());
  if (typeof s.minimum === 'number') notes.push(`at least ${s.minimum}`);
  if (typeof s.maximum === 'number') notes.push(`at most ${s.maximum}`);
  if (typeof s.pattern === 'string') notes.push(`matches \`${s.pattern}\``);
  if (typeof s.minItems === 'number' && s.minItems > 1) notes.push(`at least ${s.minItems} items`);
  return notes;
}

/** Params of an object schema in the schema's order; a mapping's own properties follow it, dotted. */
function paramsOf(s: Schema, prefix: string): ParamDoc[] {
  const properties = isSchema(s.properties) ? s.properties : {};
  const required = new Set(Array.isArray(s.required) ? s.required.map(String) : []);
  return Object.entries(properties).flatMap(([key, value]) => {
    const prop = isSchema(value) ? value : {};
    const name = prefix + key;
    const choices = choicesOf(prop);
    const doc: ParamDoc = {
      name,
      type: describeType(prop),
      required: required.has(key),
      ...(prop.default !== undefined ? { default: prop.default } : {}),
      ...(choices ? { choices } : {}),
      examples: Array.isArray(prop.examples) ? prop.examples : [],
      notes: notesOf(prop),
    };
    return [doc, ...(isSchema(prop.properties) ? paramsOf(prop, `${name}.`) : [])];
  });
}

/** `anyOf: [{required: [path]}, {required: [dest]}]`: one of these must be given. */
function requiredAlternatives(s: Schema): string[][] {
  const groups: string[][] = [];
  for (const key of ['anyOf', 'oneOf'] as const) {
    const branches = schemaList(s[key]);
    const names = branches.map((b) =>
      Array.isArray(b.required) && Object.keys(b).length === 1 ? b.required.map(String) : undefined,
    );
    if (branches.length && names.every((n) => n?.length === 1)) groups.push(names.map((n) => n![0]!));
  }
  return groups;
}

export function describeModule(m: ModuleDocInput): ModuleDoc {
  const schema = isSchema(m.schema) ? m.schema : {};
  const params = paramsOf(schema, '');
  return {
    name: m.name,
    ...(m.summary
      ? { summary: m.summary }
      : typeof schema.description === 'string'
        ? { summary: schema.description }
        : {}),
    params,
    oneOfRequired: requiredAlternatives(schema),
    anyKeys:
      schema.additionalProperties !== false && (schema.additionalProperties !== undefined || params.length === 0),
    ...(typeof schema.minProperties === 'number' ? { minKeys: schema.minProperties } : {}),
    ...(m.freeForm ? { freeForm: m.freeForm } : {}),
    secret: m.secret ?? [],
    local: !!m.local,
  };
}

/** `yes`, `one of path, dest, name` for a param in a group of alternatives, or empty. */
function requiredText(doc: ModuleDoc, p: ParamDoc): string {
  if (p.required) return 'yes';
  const group = doc.oneOfRequired.find((g) => g.includes(p.name));
  return group ? `one of ${group.join(', ')}` : '';
}

// A text of several lines is shown as a JSON string: one line, its newlines visible.
const show = (v: unknown) => (typeof v === 'string' && !v.includes('\n') ? v : JSON.stringify(v));

/** The lines about the module as a whole, shared by the text and Markdown forms. */
function moduleFacts(doc: ModuleDoc, code: (s: string) => string): string[] {
  const facts: string[] = [];
  if (doc.local) facts.push('Runs on the controller; no connection to the host is needed.');
  if (doc.freeForm)
    facts.push(
      `Free form: \`${doc.name}: TEXT\` sets ${code(doc.freeForm)}; key=value words in TEXT naming a parameter set it.`,
    );
  for (const group of doc.oneOfRequired) facts.push(`Needs one of: ${group.map(code).join(', ')}.`);
  if (doc.secret.length) facts.push(`Never printed: ${doc.secret.map(code).join(', ')}.`);
  if (doc.anyKeys)
    facts.push(
      `Takes any keys${doc.params.length ? ' besides these' : ''}${doc.minKeys ? ` (at least ${doc.minKeys})` : ''}.`,
    );
  return facts;
}

/** `furrow modules`: one line per module, name and summary. */
export function renderModuleList(docs: ModuleDoc[]): string {
  const width = Math.max(...docs.map((d) => d.name.length)) + 2;
  return `${docs.map((d) => (d.summary ? `${d.name.padEnd(width)}${d.summary}` : d.name)).join('\n')}\n`;
}

/** `furrow modules NAME`: the module in ansible-doc's shape. */
export function renderModuleText(doc: ModuleDoc): string {
  const lines = [`> ${doc.name.toUpperCase()}`, ''];
  if (doc.summary) lines.push(`  ${doc.summary}`, '');
  const facts = moduleFacts(doc, (s) => s);
  if (facts.length) lines.push(...facts.map((f) => `  ${f}`), '');
  lines.push(doc.params.length ? 'PARAMETERS' : 'PARAMETERS: none');
  for (const p of doc.params) {
    const required = requiredText(doc, p);
    // As ansible-doc: what it is first, then its type, choices, default and examples.
    lines.push(
      `  ${p.name}${required ? ` (required${required === 'yes' ? '' : `: ${required}`})` : ''}`,
      ...p.notes.map((note) => `    ${note}`),
      `    type: ${p.type}`,
    );
    if (p.choices) lines.push(`    choices: ${p.choices.map(show).join(', ')}`);
    if (p.default !== undefined) lines.push(`    default: ${show(p.default)}`);
    for (const example of p.examples) lines.push(`    example: ${show(example)}`);
  }
  return `${lines.join('\n')}\n`;
}

const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\n+/g, ' ');
const codeCell = (v: unknown) => `\`${show(v)}\``;

function markdownSection(doc: ModuleDoc): string[] {
  const lines = [`## ${doc.name}`, ''];
  if (doc.summary) lines.push(doc.summary, '');
  const facts = moduleFacts(doc, (s) => `\`${s}\``);
  if (facts.length) lines.push(...facts.map((f) => `- ${f}`), '');
  if (!doc.params.length) return lines;
  lines.push(
    '| parameter | type | required | default | choices | example | notes |',
    '| --- | --- | --- | --- | --- | --- | --- |',
  );
  for (const p of doc.params) {
    const choices = p.choices ? p.choices.map(codeCell).join(', ') : '';
    const row = [
      `\`${p.name}\``,
      p.type,
      requiredText(doc, p),
      p.default !== undefined ? codeCell(p.default) : '',
      choices,
      p.examples.map(codeCell).join(', '),
      p.notes.join('; '),
    ];
    lines.push(`| ${row.map(cell).join(' | ')} |`);
  }
  lines.push('');
  return lines;
}

/** The whole reference, docs/modules.md. */
export function renderModulesMarkdown(docs: ModuleDoc[]): string {
  const lines = [
    '# Module reference',
    '',
    "<!-- Generated from the modules' schemas by `node dist/cli/furrow.js modules --markdown > docs/modules.md`. Do " +
      'not edit by hand. -->',
    '',
    'Every module Furrow has, with the parameters its schema accepts. Params are checked against these',
    'schemas when the playbook loads, before any host is touched. `boolean` params also take, as text',
    "(quoted, in `key=value` words, or rendered from a template), the words the playbook's YAML reads",
    'as booleans: `yes`/`no`, `true`/`false`, `on`/`off`, each lowercase, Capitalized or UPPERCASE',
    '(not `y`/`n` nor `1`/`0`). The same text is shown by `npx furrow modules NAME`.',
    '',
    '| module | what it does |',
    '| --- | --- |',
    ...docs.map((d) => `| [\`${d.name}\`](#${d.name}) | ${cell(d.summary ?? '')} |`),
    '',
    ...docs.flatMap(markdownSection),
  ];
  return `${lines.join('\n').replace(/\n+$/, '')}\n`;
}
