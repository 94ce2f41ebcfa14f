/**
 * set_fact: sets variables on the host for the rest of the run (their values are rendered by the
 * engine before the module sees them). Runs on the controller; `cacheable` is accepted and
 * ignored (there is no fact cache between runs).
 */
import { InputError } from '../engine/errors.js';
import type { Module } from '../engine/module.js';

export type SetFactParams = Record<string, unknown> & { cacheable?: unknown };

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export const set_fact: Module<SetFactParams, Record<string, unknown>> = {
  name: 'set_fact',
  local: true,
  schema: { type: 'object', minProperties: 1, additionalProperties: true },

  setsVariables: (params) => Object.keys(factsOf(params)),

  async plan(_ctx, params) {
    const facts = factsOf(params);
    const names = Object.keys(facts);
    if (names.length === 0)
      throw new InputError(undefined, 'set_fact: no variable given', 'write set_fact: {name: value}');
    const bad = names.find((n) => !NAME.test(n));
    if (bad !== undefined) {
      throw new InputError(
        undefined,
        `set_fact: '${bad}' is not a valid variable name`,
        'use letters, digits and _, not starting with a digit',
      );
    }
    return { action: 'none', reason: `sets ${names.join(', ')}`, data: facts };
  },

  async apply(_ctx, plan) {
    const facts = plan.data ?? {};
    return { facts, output: { ansible_facts: facts }, changed: false };
  },
};

export function factsOf(params: SetFactParams): Record<string, unknown> {
  const { cacheable: _ignored, ...facts } = params;
  return facts;
}
