import { validatorFor } from '../validators.js';
import { FurrowError } from '../errors.js';
import type { AnyModule } from '../module.js';
import type { Task } from '../playbook/types.js';

/**
 * Params are checked against the module's schema again after templates are rendered, since a
 * template can yield any type. The loader already checked what it could see before any host.
 */
export function checkParams(mod: AnyModule, params: unknown, task: Task): Record<string, unknown> {
  const validate = validatorFor('params-rendered', mod.name, mod.schema);
  // Validation may coerce and fill defaults: work on a copy so the task's raw params stay as written.
  const copy = structuredClone(params) as Record<string, unknown>;
  if (!validate(copy)) {
    const problems = (validate.errors ?? [])
      .map((e) => `${e.instancePath || '(params)'} ${e.message ?? ''}`.trim())
      .join('; ');
    throw new FurrowError(
      'module',
      `${task.place.file}:${task.place.line}: ${mod.name} params after templating: ${problems}`,
    );
  }
  return copy;
}
