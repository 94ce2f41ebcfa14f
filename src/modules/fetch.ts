/**
 * fetch: copy a file from the host to the controller, as dest/<host>/<src> (or dest itself with
 * flat: true). The local copy's sha256 goes into the probe, so the host compares and the file
 * travels only when it differs.
 */
import type { JSONSchema } from 'json-schema-to-ts';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { FurrowError } from '../engine/errors.js';
import type { Module, Plan, ParamsOf } from '../engine/module.js';
import { isText, sha256, sha256OfFile, unifiedDiff } from './support/content.js';
import { flagSchema, toFlag } from './support/param-values.js';
import { DIFF_LIMIT } from './support/write-file.js';

export type FetchParams = ParamsOf<typeof schema>;

export interface FetchData {
  src: string;
  localPath: string;
  sha256: string;
  validate: boolean;
}

const schema = {
  type: 'object',
  properties: {
    src: {
      type: 'string',
      minLength: 1,
      description: 'The file on the host.',
      examples: ['/etc/kubernetes/admin.conf'],
    },
    dest: {
      type: 'string',
      minLength: 1,
      description: 'The controller folder it goes under, as dest/<host>/<src>; with flat, the file itself.',
      examples: ['fetched/', 'clusters/prod/kubeconfig'],
    },
    flat: {
      ...flagSchema,
      description: 'Put the file at dest itself, not under dest/<host>/.',
      examples: [true],
      default: false,
    },
    fail_on_missing: {
      ...flagSchema,
      description: 'Fail when src does not exist on the host (false: skip it with a note).',
      examples: [false],
      default: true,
    },
    validate_checksum: {
      ...flagSchema,
      description: "Check the copy's sha256 against the host's after the transfer.",
      examples: [false],
      default: true,
    },
  },
  required: ['src', 'dest'],
  additionalProperties: false,
} as const satisfies JSONSchema;

export const fetch: Module<FetchParams, FetchData> = {
  name: 'fetch',
  schema,

  async plan(ctx, params) {
    const localPath = fetchPath(ctx.host, params.src, params.dest, toFlag(params.flat, 'fetch', 'flat', false));
    const local = await localFile(localPath);
    const [remote] = await ctx.probeFiles([
      {
        path: params.src,
        follow: true,
        content: 'if-changed',
        wantSha256: local?.sha256 ?? '',
        maxContentBytes: DIFF_LIMIT,
      },
    ]);
    const fail = (problem: string): never => {
      throw new FurrowError('module', `${ctx.host}: fetch: ${problem}`);
    };
    if (remote!.type === 'absent') {
      if (toFlag(params.fail_on_missing, 'fetch', 'fail_on_missing', true))
        return fail(`${params.src} does not exist on the host`);
      return { action: 'none', reason: `${params.src} does not exist on the host (fail_on_missing: false)` };
    }
    if (remote!.type !== 'file') return fail(`${params.src} is a ${remote!.type}, not a file`);
    if (!remote!.sha256) return fail(`${params.src} could not be read`);
    if (local?.sha256 === remote!.sha256) return { action: 'none', reason: `${localPath} matches ${params.src}` };
    const data = {
      src: params.src,
      localPath,
      sha256: remote!.sha256,
      validate: toFlag(params.validate_checksum, 'fetch', 'validate_checksum', true),
    };
    const plan: Plan<FetchData> = {
      action: local ? 'update' : 'create',
      reason: local ? `${localPath} differs from ${params.src}` : `${localPath} does not exist`,
      data,
    };
    const after = remote!.content;
    if (after && isText(after) && (!local || (local.bytes && isText(local.bytes)))) {
      plan.diff = { unified: unifiedDiff(localPath, local?.bytes?.toString('utf8') ?? '', after.toString('utf8')) };
    } else {
      plan.diff = {
        values: [
          { key: 'content', before: local ? `sha256:${local.sha256}` : null, after: `sha256:${remote!.sha256}` },
        ],
      };
    }
    return plan;
  },

  async apply(ctx, plan) {
    const data = plan.data;
    if (!data) return {};
    await ctx.conn.get(data.src, data.localPath);
    const got = await sha256OfFile(data.localPath);
    if (data.validate && got !== data.sha256) {
      throw new FurrowError(
        'module',
        `${ctx.host}: fetch: ${data.src} changed while it was fetched (sha256 ${got}, expected ` +
          `${data.sha256}); run again`,
      );
    }
    return { output: { dest: data.localPath, checksum: got } };
  },
};

/** Where Ansible puts it: dest/<host>/<src path>, or dest itself (dest/ + basename) when flat. */
export function fetchPath(host: string, src: string, dest: string, flat: boolean): string {
  if (flat) return path.resolve(dest.endsWith('/') ? path.join(dest, path.posix.basename(src)) : dest);
  return path.resolve(path.join(dest, host, src));
}

async function localFile(localPath: string): Promise<{ sha256: string; bytes?: Buffer } | undefined> {
  const info = await stat(localPath).catch(() => undefined);
  if (!info) return undefined;
  if (!info.isFile()) throw new FurrowError('module', `fetch: ${localPath} on the controller is not a file`);
  if (info.size > DIFF_LIMIT) return { sha256: await sha256OfFile(localPath) };
  const bytes = await readFile(localPath);
  return { sha256: sha256(bytes), bytes };
}
