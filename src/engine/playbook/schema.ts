import type { ErrorObject, ValidateFunction } from 'ajv';
import { InputError } from '../errors.js';
import { validatorFor } from '../validators.js';
import { playbookSchemaText } from './playbook-schema.js';
import { didYouMean } from './problems.js';
import type { YamlPath, YamlSource } from './yaml-source.js';

/**
 * Structure checks with the playbook's JSON Schema (playbook-schema.ts, shipped to editors as
 * schemas/playbook.schema.json), so Furrow and editors agree on what a playbook is. Errors are
 * mapped back from ajv's JSON pointers to the YAML nodes they point at.
 */
export type SchemaPart = 'playbook' | 'taskList' | 'roleMeta';

let schemaText: string | undefined;

function validatorOf(part: SchemaPart): ValidateFunction {
  schemaText ??= playbookSchemaText();
  return validatorFor('playbook', part, schemaText, part === 'playbook' ? undefined : `#/definitions/${part}`);
}

/** Every structural problem of a file's data, each at its place. */
export function checkStructure(source: YamlSource, part: SchemaPart): InputError[] {
  const validate = validatorOf(part);
  if (validate(source.data)) return [];
  return ajvErrorsToInput(validate.errors ?? [], source, []);
}

/**
 * ajv errors as InputErrors. `base` is where the validated value sits in the file (module params
 * are validated on their own). `what` prefixes each problem ("copy: " for module params).
 */
export function ajvErrorsToInput(errors: ErrorObject[], source: YamlSource, base: YamlPath, what = ''): InputError[] {
  const seen = new Set<string>();
  const out: InputError[] = [];
  for (const error of mergeAlternatives(errors)) {
    // if/then/else reports the branch's own errors too; the "must match else" line adds nothing.
    if (error.keyword === 'if' || error.keyword === 'propertyNames') continue;
    const described = describe(error, [...base, ...pointerSegments(error.instancePath)]);
    const place = source.place(described.path, described.which);
    const key = `${place.line}:${place.column}:${described.problem}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(new InputError(place, what + described.problem, described.fix));
  }
  return out;
}

interface Described {
  path: YamlPath;
  which: 'key' | 'value';
  problem: string;
  fix?: string;
}

function describe(error: ErrorObject, path: YamlPath): Described {
  const name = nameOf(path);
  const params = error.params as Record<string, unknown>;
  const parent = (error.parentSchema ?? {}) as { properties?: Record<string, unknown>; description?: string };
  switch (error.keyword) {
    case 'additionalProperties': {
      const key = String(params.additionalProperty);
      const known = Object.keys(parent.properties ?? {});
      return {
        path: [...path, key],
        which: 'key',
        problem: `unknown key '${key}'`,
        fix: didYouMean(key, known) ?? `expected one of: ${known.join(', ')}`,
      };
    }
    case 'required':
      return { path, which: 'value', problem: `missing key '${String(params.missingProperty)}'` };
    case 'alternatives': {
      const missing = params.missing as string[];
      if (missing.length > 0)
        return { path, which: 'value', problem: `needs one of the keys ${missing.map((k) => `'${k}'`).join(', ')}` };
      return {
        path,
        which: 'value',
        problem: `${name} must be ${(params.expected as string[]).join(' or ')}, not ${typeOfValue(error.data)}`,
      };
    }
    case 'type':
      return {
        path,
        which: 'value',
        problem: `${name} must be ${typeWords(params.type)}, not ${typeOfValue(error.data)}`,
      };
    case 'enum':
      return {
        path,
        which: 'value',
        problem: `${name} must be one of: ${(params.allowedValues as unknown[]).join(', ')}`,
      };
    case 'pattern': {
      if (error.propertyName !== undefined) {
        return {
          path: [...path, error.propertyName],
          which: 'key',
          problem: `'${error.propertyName}' is not a valid variable name`,
          fix: 'use letters, digits and _ (not starting with a digit)',
        };
      }
      const expected = parent.description ?? `text matching ${String(params.pattern)}`;
      return { path, which: 'value', problem: `${name} must be ${expected}, not ${JSON.stringify(error.data)}` };
    }
    default:
      return { path, which: 'value', problem: `${name} ${error.message ?? 'is not valid'}` };
  }
}

/**
 * anyOf/oneOf report every branch's failure plus their own, which reads as a contradiction
 * ("must be a string", "must be a list"). When the value fits no branch at all, the branch
 * errors become one "must be a string or a list"; when it got into a branch (an error deeper
 * inside the value), those deeper errors say more and are kept alone.
 */
function mergeAlternatives(errors: ErrorObject[]): ErrorObject[] {
  let list = [...errors];
  const alternatives = list.filter(
    (e) =>
      e.keyword === 'anyOf' ||
      (e.keyword === 'oneOf' && (e.params as { passingSchemas?: unknown }).passingSchemas == null),
  );
  alternatives.sort((a, b) => b.schemaPath.length - a.schemaPath.length);
  for (const alt of alternatives) {
    const prefix = `${alt.schemaPath}/`;
    const branches = list.filter((e) => e.schemaPath.startsWith(prefix));
    const deeper = branches.filter((e) => e.instancePath !== alt.instancePath);
    list = list.filter(
      (e) =>
        e !== alt && !(e.schemaPath.startsWith(prefix) && (deeper.length === 0 || e.instancePath === alt.instancePath)),
    );
    if (deeper.length > 0) continue;
    const missing = branches
      .filter((e) => e.keyword === 'required')
      .map((e) => String((e.params as { missingProperty: unknown }).missingProperty));
    const expected = [...new Set(branches.filter((e) => e.keyword !== 'required').flatMap(expectation))];
    list.push({ ...alt, keyword: 'alternatives', params: { missing: expected.length === 0 ? missing : [], expected } });
  }
  return list;
}

function expectation(error: ErrorObject): string[] {
  const params = error.params as Record<string, unknown>;
  const parent = (error.parentSchema ?? {}) as { description?: string };
  switch (error.keyword) {
    case 'type':
      return [typeWords(params.type)];
    case 'enum':
      return [`one of ${(params.allowedValues as unknown[]).join(', ')}`];
    case 'pattern':
      return [parent.description ?? `text matching ${String(params.pattern)}`];
    case 'alternatives':
      return params.expected as string[];
    default:
      return [error.message ?? 'valid'];
  }
}

/** How a problem names the value: 'mode', item 2 of 'name', the file. */
function nameOf(path: YamlPath): string {
  const last = path[path.length - 1];
  if (last === undefined) return 'the file';
  if (typeof last === 'number')
    return path.length > 1 ? `item ${last + 1} of '${String(path[path.length - 2])}'` : `item ${last + 1}`;
  return `'${last}'`;
}

function pointerSegments(pointer: string): (string | number)[] {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

function typeWords(type: unknown): string {
  const list = Array.isArray(type) ? type : String(type).split(',');
  const words = list.map((t) =>
    t === 'object'
      ? 'a mapping'
      : t === 'array'
        ? 'a list'
        : t === 'null'
          ? 'empty'
          : t === 'integer'
            ? 'an integer'
            : `a ${t}`,
  );
  return words.length === 1 ? words[0] : `${words.slice(0, -1).join(', ')} or ${words[words.length - 1]}`;
}

export function typeOfValue(value: unknown): string {
  if (value === null || value === undefined) return 'empty';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return `${typeof value === 'string' ? 'a string' : `a ${typeof value}`} (${JSON.stringify(value)})`;
}
