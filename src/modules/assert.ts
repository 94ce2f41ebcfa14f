/**
 * assert: fails the task when a condition does not hold. Conditions are the engine's conditions
 * (CEL, plus Ansible's common forms, see src/engine/expr.ts), read against the task's variables.
 * Runs on the controller; it is evaluated in check mode too.
 */
import type { JSONSchema } from 'json-schema-to-ts';
import { evaluateCondition } from '../engine/expr.js';
import type { Module, ParamsOf } from '../engine/module.js';
import { flagSchema, toFlag } from './support/param-values.js';

export type AssertParams = ParamsOf<typeof schema>;

const condition = { type: ['string', 'boolean'] } as const;

const schema = {
  type: 'object',
  required: ['that'],
  properties: {
    that: {
      anyOf: [condition, { type: 'array', items: condition, minItems: 1 }],
      description: 'Conditions (expressions, as in `when`) that must all be true; one or a list.',
      examples: ['etcd_members | length >= 1', ['bin_dir != ""', 'CLUSTER_NETWORK in ["flannel", "none"]']],
    },
    fail_msg: {
      type: 'string',
      description: "The message when a condition is false, followed by the condition; default: 'Assertion failed'.",
      examples: ['CLUSTER_NETWORK must be flannel or none'],
    },
    msg: { type: 'string', description: 'Another name for fail_msg, as in Ansible.', examples: ['bad settings'] },
    success_msg: {
      type: 'string',
      description: 'The message when every condition holds.',
      examples: ['settings are fine'],
    },
    quiet: {
      ...flagSchema,
      description: 'Say nothing when every condition holds.',
      examples: [true],
      default: false,
    },
  },
  additionalProperties: false,
} as const satisfies JSONSchema;

export const assert: Module<AssertParams, undefined> = {
  name: 'assert',
  local: true,
  schema,

  async plan() {
    return { action: 'none', reason: 'checking is not a change' };
  },

  async apply(ctx, _plan, params) {
    const quiet = toFlag(params.quiet, 'assert', 'quiet', false);
    const conditions = Array.isArray(params.that) ? params.that : [params.that];
    for (const [i, that] of conditions.entries()) {
      if (evaluateCondition(that, ctx.lookup, { file: `assert: that[${i}]` })) continue;
      const msg = params.fail_msg ?? params.msg ?? 'Assertion failed';
      return {
        failed: true,
        changed: false,
        msg: `${msg} (${String(that)} is false)`,
        output: { assertion: that, evaluated_to: false, msg },
      };
    }
    const msg = params.success_msg ?? 'All assertions passed';
    return { changed: false, ...(quiet ? {} : { msg }), output: { msg } };
  },
};
