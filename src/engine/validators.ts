import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { Ajv, type Options, type ValidateFunction } from 'ajv';
import { packagePath } from '../package-root.js';
import { getOrAdd } from './get-or-add.js';

/**
 * JSON Schema validators, compiled ahead of time when possible. `npm run build` writes ajv's
 * standalone code for the playbook schema and every module's params (scripts/compile-schemas.mjs)
 * into dist/schemas/<set>.cjs, each validator beside the sha256 of the schema it was made from.
 * One is used only while that still matches; otherwise (or without the file) the schema is
 * compiled here, as before: a compile costs 10-60 ms of every run's start.
 */

/** The ajv settings of each set; the build script compiles with exactly these. */
export const VALIDATOR_SETS = {
  // Module schemas are ours and their tests compile them: no meta-schema check on every run.
  playbook: { allErrors: true, allowUnionTypes: true, verbose: true, validateSchema: false },
  // Params as written in a mapping, checked when the playbook loads.
  'params-strict': { allErrors: true, allowUnionTypes: true, verbose: true, strict: false, validateSchema: false },
  // key=value words are text: their values are coerced to the types the schema asks for.
  'params-coercing': {
    allErrors: true,
    allowUnionTypes: true,
    verbose: true,
    strict: false,
    coerceTypes: true,
    validateSchema: false,
  },
  // After templates are rendered, at run time: coerced, defaults filled.
  'params-rendered': { allErrors: true, strict: false, coerceTypes: true, useDefaults: true, validateSchema: false },
} satisfies Record<string, Options>;

export type ValidatorSet = keyof typeof VALIDATOR_SETS;

export const schemaSha256 = (schema: unknown): string =>
  createHash('sha256')
    .update(typeof schema === 'string' ? schema : JSON.stringify(schema))
    .digest('hex');

type Precompiled = { validators: Record<string, ValidateFunction>; sha256: Record<string, string> };
const loaded = new Map<ValidatorSet, Precompiled | null>();
const instances = new Map<ValidatorSet, Ajv>();

function precompiledSet(set: ValidatorSet): Precompiled | null {
  if (!loaded.has(set)) {
    try {
      loaded.set(set, createRequire(import.meta.url)(packagePath('dist', 'schemas', `${set}.cjs`)) as Precompiled);
    } catch {
      loaded.set(set, null);
    }
  }
  return loaded.get(set)!;
}

/**
 * The validator `name` of a set for `schema` (an object, or a schema file's text): the
 * precompiled one when it was made from the same schema, else compiled now. `ref` picks a
 * definition inside the schema (by $id#/definitions/...).
 */
export function validatorFor(set: ValidatorSet, name: string, schema: object | string, ref?: string): ValidateFunction {
  const key = `${set}\0${name}`;
  const known = memo.get(key);
  if (known?.schema === schema) return known.validate;
  const validate = precompiledFor(set, name, schema) ?? compile(set, schema, ref);
  memo.set(key, { schema, validate });
  return validate;
}

/** Each validator once per process; a different schema object under the same name (tests) is compiled anew. */
const memo = new Map<string, { schema: object | string; validate: ValidateFunction }>();

function precompiledFor(set: ValidatorSet, name: string, schema: object | string): ValidateFunction | undefined {
  const pre = precompiledSet(set);
  return pre && pre.sha256[name] === schemaSha256(schema) ? pre.validators[name] : undefined;
}

function compile(set: ValidatorSet, schema: object | string, ref: string | undefined): ValidateFunction {
  const ajv = getOrAdd(instances, set, () => new Ajv(VALIDATOR_SETS[set]));
  const object = (typeof schema === 'string' ? JSON.parse(schema) : schema) as { $id?: string };
  // A schema with an $id is added once; its parts are found by reference.
  if (!object.$id) return ajv.compile(object);
  if (!ajv.getSchema(object.$id)) ajv.addSchema(object);
  return ajv.getSchema(`${object.$id}${ref ?? ''}`)!;
}
