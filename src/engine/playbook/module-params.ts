import type { ValidateFunction } from 'ajv';
import { validatorFor } from '../validators.js';
import { yamlBoolean } from '../yaml.js';
import { InputError } from '../errors.js';
import type { AnyModule } from '../module.js';
import { ajvErrorsToInput, typeOfValue } from './schema.js';
import type { YamlPath, YamlSource } from './yaml-source.js';

/**
 * A task's module params, from the three ways Ansible lets one write them: a mapping, a free-form
 * string for modules that have one (`shell: ls -l chdir=/tmp`), or `key=value` words for the
 * others (`copy: src=a dest=/b`), plus `args:`. Checked against the module's own schema.
 */

/** Mappings are checked as written; key=value words are text, so their values are coerced. */
function validatorOf(mod: AnyModule, form: 'strict' | 'coercing'): ValidateFunction {
  return validatorFor(form === 'strict' ? 'params-strict' : 'params-coercing', mod.name, mod.schema);
}

export interface ParamsInput {
  mod: AnyModule;
  /** The value under the module key, as written. */
  raw: unknown;
  /** The task's `args:` mapping, if any. */
  args?: Record<string, unknown>;
  source: YamlSource;
  /** Path of the module key's value in the file. */
  path: YamlPath;
}

export function moduleParams(input: ParamsInput): { params: Record<string, unknown>; errors: InputError[] } {
  const { mod, raw, source, path } = input;
  let params: Record<string, unknown>;
  let fromWords = false;
  if (raw === null || raw === undefined) params = {};
  else if (typeof raw === 'string') {
    const words = parseWords(raw, mod);
    if ('error' in words)
      return {
        params: {},
        errors: [
          new InputError(
            source.place(path),
            `${mod.name}: ${words.error}`,
            `write the params as a mapping (${mod.name}: {key: value})`,
          ),
        ],
      };
    params = yesNoBooleans(words.params, mod);
    fromWords = true;
  } else if (typeof raw === 'object' && !Array.isArray(raw)) params = { ...(raw as Record<string, unknown>) };
  else {
    const expected = mod.freeForm ? 'a mapping of params or a command string' : 'a mapping of params';
    return {
      params: {},
      errors: [new InputError(source.place(path), `${mod.name}: expected ${expected}, not ${typeOfValue(raw)}`)],
    };
  }
  params = { ...(input.args ?? {}), ...params };
  const validate = validatorOf(mod, fromWords ? 'coercing' : 'strict');
  if (validate(params)) return { params, errors: [] };
  // A templated value ("{{ etcd_cert_days }}") can only be typed once rendered: the runner checks
  // it again then, against the same schema. Here only what is written as a literal is judged.
  const errors = (validate.errors ?? []).filter((e) => !isTemplateString(valueAt(params, e.instancePath)));
  return { params, errors: ajvErrorsToInput(errors, source, path, `${mod.name}: `) };
}

/** The value at a JSON pointer ('/sans/dns/0') inside params; undefined where there is none. */
function valueAt(root: unknown, pointer: string): unknown {
  let value = root;
  for (const raw of pointer.split('/').slice(1)) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

function isTemplateString(value: unknown): boolean {
  return typeof value === 'string' && value.includes('{{');
}

/** Ansible's yes/no/on/off in key=value words, for params the schema says are booleans. */
function yesNoBooleans(params: Record<string, unknown>, mod: AnyModule): Record<string, unknown> {
  const properties = (mod.schema as { properties?: Record<string, { type?: unknown }> }).properties ?? {};
  const out = { ...params };
  for (const [key, value] of Object.entries(params)) {
    if (typeof value !== 'string' || properties[key]?.type !== 'boolean') continue;
    const flag = yamlBoolean(value);
    if (flag !== undefined) out[key] = flag;
  }
  return out;
}

const WORD_KEY = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/s;

/** A free-form string keeps its text; only `key=value` words naming the module's params are taken out. */
function parseWords(text: string, mod: AnyModule): { params: Record<string, unknown> } | { error: string } {
  // A multi-line script is taken as it is: cutting words out of it could change what it does.
  if (mod.freeForm && text.includes('\n')) return { params: { [mod.freeForm]: text } };
  const words = splitKeepingQuotes(text);
  if ('error' in words) return words;
  const known = new Set(Object.keys((mod.schema as { properties?: object }).properties ?? {}));
  const taken: Word[] = [];
  const params: Record<string, unknown> = {};
  for (const word of words.words) {
    const match = WORD_KEY.exec(word.text);
    if (match && (!mod.freeForm || (known.has(match[1]) && match[1] !== mod.freeForm))) {
      params[match[1]] = unquote(match[2]);
      taken.push(word);
    } else if (!mod.freeForm)
      return { error: `expected key=value words, not '${word.text}' (the module takes no free-form text)` };
  }
  let rest = text;
  for (const word of taken.reverse())
    rest = `${rest.slice(0, word.start).trimEnd()} ${rest.slice(word.end).trimStart()}`;
  if (mod.freeForm) params[mod.freeForm] = taken.length > 0 ? rest.trim() : text;
  return { params };
}

interface Word {
  text: string;
  start: number;
  end: number;
}

/** Whitespace-separated words; quotes and {{ }} group but stay in the text (the shell sees them later). */
function splitKeepingQuotes(text: string): { words: Word[] } | { error: string } {
  const words: Word[] = [];
  let i = 0;
  while (i < text.length) {
    if (/\s/.test(text[i])) {
      i++;
      continue;
    }
    const start = i;
    while (i < text.length && !/\s/.test(text[i])) {
      const closer = text.startsWith('{{', i) ? '}}' : text[i] === '"' || text[i] === "'" ? text[i] : undefined;
      if (closer) {
        const close = text.indexOf(closer, i + (closer === '}}' ? 2 : 1));
        if (close < 0) return { error: `no closing ${closer} in '${text}'` };
        i = close + closer.length;
      } else i++;
    }
    words.push({ text: text.slice(start, i), start, end: i });
  }
  return { words };
}

function unquote(value: string): string {
  const quoted = value.length >= 2 && (value[0] === '"' || value[0] === "'") && value[value.length - 1] === value[0];
  return quoted ? value.slice(1, -1) : value;
}
