/**
 * shell: runs a command line through `sh -c` (or `executable -c`), so pipes, redirections,
 * variables and globs work. Same guards, result and verdict as `command`.
 */
import { InputError } from '../engine/errors.js';
import type { JSONSchema } from 'json-schema-to-ts';
import type { Module, ParamsOf } from '../engine/module.js';
import { sh } from '../engine/shell.js';
import { applyRun, planRun, runSchemaProperties, withChdir, type RunData } from './command.js';

const schema = {
  type: 'object',
  properties: {
    cmd: {
      type: 'string',
      description:
        'The script, run by /bin/sh (or executable): pipes, redirections and variables work; or give it ' +
        'as the free form.',
      examples: ['systemctl is-active etcd || journalctl -u etcd -n 20'],
    },
    executable: { type: 'string', minLength: 1, description: 'The shell that runs it.', examples: ['/bin/bash'] },
    ...runSchemaProperties,
  },
  additionalProperties: false,
} as const satisfies JSONSchema;

export type ShellParams = ParamsOf<typeof schema>;

export const shell: Module<ShellParams, RunData> = {
  name: 'shell',
  freeForm: 'cmd',
  schema,

  async plan(ctx, params) {
    const cmd = params.cmd ?? '';
    if (cmd.trim() === '')
      throw new InputError(undefined, 'shell: no command given', 'write `shell: some | command` or give cmd');
    const executable = params.executable ?? '/bin/sh';
    return planRun(ctx, params, { script: withChdir(params.chdir, sh`exec ${executable} -c ${cmd}`), cmd }, 'shell');
  },

  apply: applyRun,
};
