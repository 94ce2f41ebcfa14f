/**
 * debug: prints a message or a variable's value in the task's result. Runs on the controller.
 * `var` takes a variable name or a path into it (`result.stdout_lines[0]`, `hostvars['h1'].x`);
 * an undefined one shows as Ansible shows it. `verbosity` is accepted and ignored.
 */
import type { JSONSchema } from 'json-schema-to-ts';
import { InputError } from '../engine/errors.js';
import type { Module, ParamsOf } from '../engine/module.js';

export type DebugParams = ParamsOf<typeof schema>;

export const NOT_DEFINED = 'VARIABLE IS NOT DEFINED!';

const schema = {
  type: 'object',
  properties: {
    msg: {
      description: 'What to print: any value (a template is rendered first).',
      examples: ['etcd is at {{ etcd_endpoints }}'],
    },
    var: {
      type: 'string',
      minLength: 1,
      description: 'A variable, or a path into one, to print with its name.',
      examples: ['result.stdout_lines[0]'],
    },
    verbosity: {
      type: ['integer', 'string'],
      description: 'Accepted for Ansible playbooks and ignored: debug always prints.',
      examples: [1],
    },
  },
  additionalProperties: false,
} as const satisfies JSONSchema;

export const debug: Module<DebugParams, undefined> = {
  name: 'debug',
  local: true,
  schema,

  async plan(_ctx, params) {
    if (params.msg !== undefined && params.var !== undefined)
      throw new InputError(undefined, 'debug: msg and var cannot go together', 'keep one of them');
    return { action: 'none', reason: 'printing is not a change' };
  },

  async apply(ctx, _plan, params) {
    if (params.var !== undefined) {
      // Resolve only the variable the path starts with, not every variable of the task.
      const root = params.var.split(/[.[]/)[0]!.trim();
      const value = ctx.lookup.has(root) ? lookupPath({ [root]: ctx.lookup.get(root) }, params.var) : undefined;
      const shown = value === undefined ? NOT_DEFINED : value;
      return { output: { [params.var]: shown }, msg: `${params.var}: ${show(shown)}`, show: true, changed: false };
    }
    const msg = params.msg ?? 'Hello world!';
    return { output: { msg }, msg: show(msg), show: true, changed: false };
  },
};

function show(value: unknown): string {
  return typeof value === 'string'
    ? value
    : JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? Number(v) : v), 2);
}

/** Reads `a.b[0]['c']` from vars; undefined when any step is missing. Throws on a malformed path. */
export function lookupPath(vars: Record<string, unknown>, path: string): unknown {
  const steps = parsePath(path);
  let value: unknown = vars;
  for (const step of steps) {
    if (value === null || typeof value !== 'object' || !Object.hasOwn(value, step)) return undefined;
    value = (value as Record<string, unknown>)[step];
  }
  return value;
}

function parsePath(path: string): string[] {
  const steps: string[] = [];
  const token = /\s*(?:^([A-Za-z_]\w*)|\.([A-Za-z_]\w*)|\[\s*(\d+)\s*\]|\[\s*'([^']*)'\s*\]|\[\s*"([^"]*)"\s*\])/y;
  let at = 0;
  while (at < path.length) {
    token.lastIndex = at;
    const m = token.exec(path);
    if (!m || (at > 0 && m[1] !== undefined)) {
      throw new InputError(
        undefined,
        `debug: var '${path}' is not a variable name or path`,
        "write a name or a path such as result.stdout_lines[0] or hostvars['h1'].x",
      );
    }
    steps.push(m[1] ?? m[2] ?? m[3] ?? m[4] ?? m[5]!);
    at = token.lastIndex;
  }
  return steps;
}
