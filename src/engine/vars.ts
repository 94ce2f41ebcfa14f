/**
 * Variables: a VarScope stacks layers by Ansible's precedence and resolves values lazily. A value
 * may hold templates ("{{ base_dir }}/bin"); it is rendered when first read, against the whole
 * scope, and the result is cached. Cycles (a -> b -> a) are reported as input errors.
 */
import { readFileSync } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import YAML from 'yaml';
import { parseYaml, yamlProblem } from './yaml.js';
import { InputError } from './errors.js';
import { compileTemplate, isTemplate, type TemplateSource } from './template.js';

/**
 * Precedence levels, lowest first. `inventory` is one layer of already merged inventory vars
 * (all < parent group < child group < host). `registered` holds register and set_fact results.
 */
export const VAR_LEVELS = [
  'role_defaults',
  'inventory',
  'facts',
  'play',
  'role',
  'task',
  'registered',
  'extra',
] as const;
export type VarLevel = (typeof VAR_LEVELS)[number];

export interface VarLayer {
  level: VarLevel;
  vars: Record<string, unknown>;
  /** The file the vars were read from, for messages; the level's name when absent. */
  source?: string;
}

/**
 * An immutable view of variables for one host at one point of a run. `with` returns a new scope;
 * a layer joins the others of its level above them, so the caller may add layers in any order.
 * Values are shared with the layers: treat what `get` returns as read-only.
 */
export class VarScope {
  private readonly layers: readonly VarLayer[];
  private readonly resolved = new Map<string, unknown>();
  private readonly resolving: string[] = [];

  constructor(layers: readonly VarLayer[] = []) {
    const rank = (layer: VarLayer) => VAR_LEVELS.indexOf(layer.level);
    // Array.prototype.sort is stable: within one level the given order decides.
    this.layers = [...layers].sort((a, b) => rank(a) - rank(b));
  }

  with(...layers: VarLayer[]): VarScope {
    return new VarScope([...this.layers, ...layers]);
  }

  has(name: string): boolean {
    return this.layers.some((layer) => Object.hasOwn(layer.vars, name));
  }

  /** Every variable name, once. */
  names(): string[] {
    return [...new Set(this.layers.flatMap((layer) => Object.keys(layer.vars)))];
  }

  /** The resolved value of `name`, or undefined when no layer defines it. */
  get(name: string): unknown {
    if (this.resolved.has(name)) return this.resolved.get(name);
    const layer = this.layerOf(name);
    if (!layer) return undefined;
    const cycleStart = this.resolving.indexOf(name);
    if (cycleStart >= 0) {
      const cycle = [...this.resolving.slice(cycleStart), name].join(' -> ');
      throw new InputError(
        { file: sourceOf(layer) },
        `variable cycle: ${cycle}`,
        'give one of these variables a value that does not refer back to the others',
      );
    }
    this.resolving.push(name);
    try {
      const value = this.resolveValue(layer.vars[name], {
        file: sourceOf(layer),
        embedded: true,
        context: `the value of '${name}'`,
      });
      this.resolved.set(name, value);
      return value;
    } finally {
      this.resolving.pop();
    }
  }

  /** Every variable resolved: for `hostvars`, debug output and the like. */
  resolveAll(): Record<string, unknown> {
    return Object.fromEntries(this.names().map((name) => [name, this.get(name)]));
  }

  /** Renders a template (a file's text or a string from a task) against this scope. */
  render(text: string, source: TemplateSource): string {
    if (!isTemplate(text)) return text;
    const template = compileTemplate(text, source);
    return template.render(this.pick(template.names));
  }

  /**
   * Resolves templates inside a value, through nested lists and maps. A string that is exactly
   * one expression ("{{ nodes }}") keeps the expression's type, as in Ansible.
   */
  resolveValue(value: unknown, source: TemplateSource): unknown {
    if (typeof value === 'string') {
      if (!isTemplate(value)) return value;
      const template = compileTemplate(value, source);
      return template.value(this.pick(template.names));
    }
    if (Array.isArray(value))
      return mapUnlessSame(
        value,
        value.map((item) => this.resolveValue(item, source)),
      );
    if (isPlainObject(value)) {
      const entries = Object.entries(value).map(([key, item]) => [key, this.resolveValue(item, source)] as const);
      return entries.every(([key, item]) => item === value[key]) ? value : Object.fromEntries(entries);
    }
    return value;
  }

  /** The resolved values of those names that are defined; the template reports the others. */
  private pick(names: Iterable<string>): Record<string, unknown> {
    const context: Record<string, unknown> = {};
    for (const name of names) if (this.has(name)) context[name] = this.get(name);
    return context;
  }

  private layerOf(name: string): VarLayer | undefined {
    for (let i = this.layers.length - 1; i >= 0; i--)
      if (Object.hasOwn(this.layers[i].vars, name)) return this.layers[i];
    return undefined;
  }
}

function sourceOf(layer: VarLayer): string {
  return layer.source ?? `${layer.level} vars`;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object') return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** Keeps the original list when nothing in it changed (no copy for template-free data). */
function mapUnlessSame(original: unknown[], mapped: unknown[]): unknown[] {
  return mapped.every((item, i) => item === original[i]) ? original : mapped;
}

/**
 * Extra vars from `-e` arguments, later ones winning: `k=v` pairs (several per argument, quotes
 * group words), `@file.yml` or `@file.json`, or an inline JSON/YAML object `{"k": 1}`.
 */
export function parseExtraVars(args: readonly string[], cwd: string): Record<string, unknown> {
  const vars: Record<string, unknown> = {};
  for (const arg of args) Object.assign(vars, parseExtraVarsArg(arg, cwd));
  return vars;
}

function parseExtraVarsArg(arg: string, cwd: string): Record<string, unknown> {
  if (arg.startsWith('@')) return readVarsFile(resolvePath(cwd, arg.slice(1)));
  if (arg.trim().startsWith('{')) return parseMapping(arg, { file: `-e '${arg}'` });
  const vars: Record<string, unknown> = {};
  for (const word of splitWords(arg)) {
    const equals = word.indexOf('=');
    const key = equals > 0 ? word.slice(0, equals) : word;
    if (equals <= 0 || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) {
      throw new InputError(
        undefined,
        `-e '${arg}': '${word}' is not key=value with a variable name as key`,
        'write -e name=value, -e @vars.yml or -e \'{"name": "value"}\'',
      );
    }
    vars[key] = typedValue(word.slice(equals + 1));
  }
  return vars;
}

/**
 * The YAML type of a `k=v` value when it reads back as written: 3, true, null, [a, b] and
 * {a: 1} are typed; "1.20", "007" and "yes" stay strings, so versions are not mangled.
 */
export function typedValue(text: string): unknown {
  if (text === '') return '';
  let value: unknown;
  try {
    value = YAML.parse(text);
  } catch {
    return text;
  }
  if (value === null) return text === 'null' || text === '~' ? null : text;
  if (typeof value === 'boolean') return text === 'true' || text === 'false' ? value : text;
  if (typeof value === 'number') return String(value) === text ? value : text;
  if (typeof value === 'object') return /^[[{]/.test(text.trim()) ? value : text;
  return text;
}

function readVarsFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new InputError(
      { file: path },
      `cannot read extra vars file: ${(err as Error).message}`,
      'give -e @ a path to a YAML or JSON file, relative to the current folder',
    );
  }
  return parseMapping(text, { file: path });
}

function parseMapping(text: string, place: { file: string }): Record<string, unknown> {
  const document = parseYaml(text);
  const [error] = document.errors;
  if (error) {
    const [position] = error.linePos ?? [];
    throw new InputError(
      { ...place, line: position?.line, column: position?.col },
      `extra vars are not valid YAML or JSON: ${yamlProblem(error.message)}`,
    );
  }
  const value: unknown = document.toJS();
  if (!isPlainObject(value)) {
    throw new InputError(
      place,
      `extra vars must be a mapping of names to values, got ${Array.isArray(value) ? 'a list' : JSON.stringify(value)}`,
      'write name: value pairs (YAML) or a JSON object',
    );
  }
  return value;
}

/** Whitespace separates words; single or double quotes group and are removed (`msg="a b"`). */
function splitWords(text: string): string[] {
  const words: string[] = [];
  let word: string | undefined;
  let quote: string | undefined;
  for (const char of text) {
    if (quote) {
      if (char === quote) quote = undefined;
      else word = (word ?? '') + char;
    } else if (char === '"' || char === "'") {
      quote = char;
      word ??= '';
    } else if (/\s/.test(char)) {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else {
      word = (word ?? '') + char;
    }
  }
  if (quote)
    throw new InputError(
      undefined,
      `-e '${text}': no closing ${quote}`,
      'close the quote or quote the whole argument for the shell',
    );
  if (word !== undefined) words.push(word);
  return words;
}
