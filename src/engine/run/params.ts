import { Ajv, type ValidateFunction } from 'ajv';
import { FurrowError } from '../errors.js';
import type { Module } from '../module.js';
import type { Task } from '../playbook/types.js';

/**
 * Params are checked against the module's schema again after templates are rendered, since a
 * template can yield any type. The loader already checked what it could see before any host.
 */
// Module schemas are ours (their tests compile them): skip the per-run meta-schema compile.
const ajv = new Ajv({ allErrors: true, strict: false, coerceTypes: true, useDefaults: true, validateSchema: false });
const compiled = new WeakMap<object, ValidateFunction>();

export function checkParams(mod: Module<any, any>, params: unknown, task: Task): Record<string, unknown> {
  let validate = compiled.get(mod);
  if (!validate) {
    validate = ajv.compile(mod.schema as object);
    compiled.set(mod, validate);
  }
  // Validation may coerce and fill defaults: work on a copy so the task's raw params stay as written.
  const copy = structuredClone(params) as Record<string, unknown>;
  if (!validate(copy)) {
    const problems = (validate.errors ?? []).map((e) => `${e.instancePath || '(params)'} ${e.message ?? ''}`.trim()).join('; ');
    throw new FurrowError('module', `${task.place.file}:${task.place.line}: ${mod.name} params after templating: ${problems}`);
  }
  return copy;
}
