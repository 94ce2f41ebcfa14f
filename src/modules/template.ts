/**
 * template: render a template from templates/ on the controller with the task's variables and
 * put the result at dest. Same compare-by-sha256, diff and atomic write as copy.
 */
import type { JSONSchema } from 'json-schema-to-ts';
import type { Module, ModuleContext, ParamsOf } from '../engine/module.js';
import { wantedAttrs } from './support/attributes.js';
import { sha256 } from './support/content.js';
import { renderSrcTemplate, srcTemplateFiles } from './support/src-template.js';
import { flagSchema, groupParam, ownerParam, modeParam, toFlag, backupParam } from './support/param-values.js';
import { applyWrite, contentQuery, decideWrite, type WriteData } from './support/write-file.js';

export type TemplateParams = ParamsOf<typeof schema>;

const schema = {
  type: 'object',
  properties: {
    src: {
      type: 'string',
      minLength: 1,
      description:
        "A Handlebars template: a path, or a name looked up in the role's templates/ then beside the playbook.",
      examples: ['etcd.service.hbs'],
    },
    dest: {
      type: 'string',
      minLength: 1,
      description: 'The rendered file on the host.',
      examples: ['/etc/systemd/system/etcd.service'],
    },
    mode: modeParam,
    owner: ownerParam,
    group: groupParam,
    backup: backupParam('dest'),
    force: {
      ...flagSchema,
      description: 'Replace a file whose content differs; false only creates a missing file.',
      examples: [false],
      default: true,
    },
  },
  required: ['src', 'dest'],
  additionalProperties: false,
} as const satisfies JSONSchema;

export const template: Module<TemplateParams, WriteData> = {
  name: 'template',
  schema,

  templateFiles: srcTemplateFiles,

  async fileQueries(ctx, params) {
    return [contentQuery(params.dest, sha256(await rendered(ctx, params)))];
  },

  async plan(ctx, params) {
    const bytes = await rendered(ctx, params);
    const hash = sha256(bytes);
    const [current] = await ctx.probeFiles([contentQuery(params.dest, hash)]);
    const want = {
      path: params.dest,
      source: { bytes },
      sha256: hash,
      attrs: wantedAttrs(params, 'template'),
      force: toFlag(params.force, 'template', 'force', true),
      backup: toFlag(params.backup, 'template', 'backup', false),
    };
    return decideWrite(want, current!, `${ctx.host}: template`);
  },

  apply: (ctx, plan) => applyWrite(ctx, plan),
};

/** The template rendered with the task's variables. */
async function rendered(ctx: ModuleContext, params: TemplateParams): Promise<Buffer> {
  return Buffer.from((await renderSrcTemplate(ctx, 'template', params.src)).text, 'utf8');
}
