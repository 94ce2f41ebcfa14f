/**
 * copy: put content (given inline or as a controller file from files/) at dest, with mode, owner
 * and group. Compared by sha256 in the one probe round trip; written atomically; an unchanged file
 * is never transferred.
 */
import type { JSONSchema } from 'json-schema-to-ts';
import { stat } from 'node:fs/promises';
import { posix } from 'node:path';
import { InputError } from '../engine/errors.js';
import type { FileQuery } from '../engine/facts/files.js';
import type { Module, ModuleContext, ParamsOf } from '../engine/module.js';
import { wantedAttrs } from './support/attributes.js';
import { sha256, sha256OfFile } from './support/content.js';
import { flagSchema, groupParam, ownerParam, modeParam, toFlag, backupParam } from './support/param-values.js';
import {
  applyWrite,
  contentQuery,
  decideWrite,
  localSource,
  type WantedContent,
  type WriteData,
} from './support/write-file.js';

export type CopyParams = ParamsOf<typeof schema>;

const schema = {
  type: 'object',
  properties: {
    dest: {
      type: 'string',
      minLength: 1,
      description:
        'Where the file goes on the host; ending in / (or an existing folder), a src lands inside it ' +
        'under its own name.',
      examples: ['/opt/kube/bin/etcd', '/etc/containerd/'],
    },
    content: {
      type: 'string',
      description: "The file's content, given inline (instead of src).",
      examples: ['net.ipv4.ip_forward = 1\n'],
    },
    src: {
      type: 'string',
      minLength: 1,
      description: "A controller file: a path, or a name looked up in the role's files/ then beside the playbook.",
      examples: ['{{ furrow_bin_dir }}/etcd', 'chrony.conf'],
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
  required: ['dest'],
  additionalProperties: false,
} as const satisfies JSONSchema;

export const copy: Module<CopyParams, WriteData> = {
  name: 'copy',
  schema,
  secret: ['content'],

  async fileQueries(ctx, params) {
    const source = await wantedSource(ctx.findFile.bind(ctx), params);
    return landingQueries(params, source.sha256, isSecret(ctx, params));
  },

  async plan(ctx, params) {
    const attrs = wantedAttrs(params, 'copy');
    const source = await wantedSource(ctx.findFile.bind(ctx), params);
    const common = {
      attrs,
      force: toFlag(params.force, 'copy', 'force', true),
      backup: toFlag(params.backup, 'copy', 'backup', false),
      secret: isSecret(ctx, params),
    };
    const queries = landingQueries(params, source.sha256, common.secret);
    const [file, fileInside] = await ctx.probeFiles(queries);
    // Like Ansible, a src copied onto an existing directory lands inside it.
    const [query, found] = file!.type === 'directory' && fileInside ? [queries[1]!, fileInside] : [queries[0]!, file!];
    return decideWrite({ path: query.path, ...source, ...common }, found, `${ctx.host}: copy`);
  },

  apply: (ctx, plan) => applyWrite(ctx, plan),
};

/** Inline content of a no_log task (a key, a password) is never read back nor shown in a diff. */
function isSecret(ctx: ModuleContext, params: CopyParams): boolean {
  return params.content !== undefined && ctx.noLog;
}

/**
 * Where the content may land, probed in one trip: dest itself, and for a src also dest/<name>
 * (used when dest turns out to be a directory); only dest/<name> when dest ends with a slash.
 */
function landingQueries(params: CopyParams, sha: string, secret: boolean): FileQuery[] {
  const basename = params.src !== undefined ? posix.basename(params.src) : undefined;
  const inside = basename !== undefined ? [contentQuery(posix.join(params.dest, basename), sha)] : [];
  if (!params.dest.endsWith('/')) return [contentQuery(params.dest, sha, secret), ...inside];
  if (inside.length === 0)
    throw new InputError(
      undefined,
      `copy: dest '${params.dest}' is a directory but content has no file name`,
      'give dest as a file path',
    );
  return inside;
}

async function wantedSource(
  findFile: (kind: 'files', name: string) => string,
  params: CopyParams,
): Promise<Pick<WantedContent, 'source' | 'sha256'>> {
  if (params.content !== undefined && params.src !== undefined) {
    throw new InputError(undefined, 'copy: give either content or src, not both', 'remove one of them');
  }
  if (params.content !== undefined) {
    const bytes = Buffer.from(params.content, 'utf8');
    return { source: { bytes }, sha256: sha256(bytes) };
  }
  if (params.src === undefined)
    throw new InputError(
      undefined,
      'copy: one of content or src is required',
      'add src: <file in files/> or content: <text>',
    );
  const localPath = findFile('files', params.src);
  const info = await stat(localPath).catch(() => undefined);
  if (!info)
    throw new InputError(
      undefined,
      `copy: src '${params.src}' was not found (looked for ${localPath})`,
      `put the file in the role's or playbook's files/ folder`,
    );
  if (!info.isFile())
    throw new InputError(
      undefined,
      `copy: src '${params.src}' is not a regular file (${localPath})`,
      'copy one file per task (directories are not supported)',
    );
  return { source: await localSource(localPath, info.size), sha256: await sha256OfFile(localPath) };
}
