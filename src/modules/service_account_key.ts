/**
 * service_account_key: puts the cluster's service-account key pair (pki/sa.key and sa.pub, made
 * on the controller on first use; never a CA key) on a host: the apiserver signs and checks
 * service-account tokens with it, the controller-manager signs them. The private key is mode
 * 0600 and never shown in a diff.
 */
import type { JSONSchema } from 'json-schema-to-ts';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { posix } from 'node:path';
import type { FileQuery } from '../engine/facts/files.js';
import type { Module, Plan, PlanAction, ParamsOf } from '../engine/module.js';
import { wantedAttrs } from './support/attributes.js';
import { flagSchema, groupParam, ownerParam, toFlag } from './support/param-values.js';
import {
  applyWriteSet,
  decideWrite,
  removingLeftovers,
  stagingQueries,
  type WriteData,
  type WriteSetData,
} from './support/write-file.js';
import { pkiSourceDir, srcDirParam } from './support/pki-params.js';

export type ServiceAccountKeyParams = ParamsOf<typeof schema>;

type KeyData = WriteSetData;

const schema = {
  type: 'object',
  properties: {
    src_dir: srcDirParam,
    dest: {
      type: 'string',
      minLength: 1,
      description: 'folder on the host (created when missing)',
      examples: ['/etc/kubernetes/pki'],
    },
    key_file: {
      type: 'string',
      minLength: 1,
      default: 'sa.key',
      description: 'file name of the private key in dest (mode 0600)',
      examples: ['sa.key'],
    },
    pub_file: {
      type: 'string',
      minLength: 1,
      default: 'sa.pub',
      description: 'file name of the public key in dest (mode 0644)',
      examples: ['sa.pub'],
    },
    key: { ...flagSchema, default: true, description: 'also put the private key', examples: [false] },
    owner: ownerParam,
    group: groupParam,
    key_type: {
      type: 'string',
      enum: ['rsa', 'ecdsa'],
      default: 'rsa',
      description: 'key type when the pair is first made',
      examples: ['ecdsa'],
    },
  },
  required: ['dest'],
  additionalProperties: false,
} as const satisfies JSONSchema;

export const serviceAccountKey: Module<ServiceAccountKeyParams, KeyData> = {
  name: 'service_account_key',
  schema,

  async plan(ctx, params) {
    const srcDir = pkiSourceDir(ctx, 'service_account_key', params.src_dir);
    const { ensureServiceAccountKey } = await import('../pki/authority.js');
    const root = await ensureServiceAccountKey(srcDir, {
      dryRun: ctx.check,
      ...(params.key_type ? { keyType: params.key_type } : {}),
    });
    const files = [
      { local: posix.join(srcDir, 'sa.pub'), name: params.pub_file ?? 'sa.pub', mode: '0644' },
      ...(toFlag(params.key, 'service_account_key', 'key', true)
        ? [{ local: posix.join(srcDir, 'sa.key'), name: params.key_file ?? 'sa.key', mode: '0600' }]
        : []),
    ];
    const pending = root.action === 'would-create';
    const hashes = await Promise.all(
      files.map(async (f) =>
        pending
          ? '(pending)'
          : createHash('sha256')
              .update(await readFile(f.local))
              .digest('hex'),
      ),
    );
    const paths = files.map((f) => posix.join(params.dest, f.name));
    const queries: FileQuery[] = [{ path: params.dest }, ...paths.map((path) => ({ path })), ...stagingQueries(paths)];
    const [dir, ...found] = await ctx.probeFiles(queries);
    const plans = files.map((f, i) => {
      const attrs = wantedAttrs(
        {
          mode: f.mode,
          ...(params.owner !== undefined ? { owner: params.owner } : {}),
          ...(params.group !== undefined ? { group: params.group } : {}),
        },
        'service_account_key',
      );
      return decideWrite(
        {
          path: posix.join(params.dest, f.name),
          source: { localPath: f.local },
          sha256: hashes[i]!,
          attrs,
          secret: true,
        },
        found[i]!,
        `${ctx.host}: service_account_key`,
      );
    });
    const plan = combine(
      plans,
      root.action === 'kept'
        ? undefined
        : `${root.action === 'created' ? 'made' : 'would make'} the service-account key pair in ${srcDir}`,
      dir!.type === 'absent' ? params.dest : undefined,
    );
    return removingLeftovers(plan, paths, found.slice(files.length));
  },

  apply: (ctx, plan) => (plan.data ? applyWriteSet(ctx, plan.data) : Promise.resolve({})),
};

function combine(plans: Plan<WriteData>[], made: string | undefined, mkdir: string | undefined): Plan<KeyData> {
  const changed = plans.filter((p) => p.action !== 'none');
  const prefix = made ? [made] : [];
  if (changed.length === 0) return { action: 'none', reason: [...prefix, ...plans.map((p) => p.reason)].join('; ') };
  const action: PlanAction =
    changed.length === plans.length && changed.every((p) => p.action === 'create') ? 'create' : 'update';
  return {
    action,
    reason: [...prefix, ...changed.map((p) => p.reason)].join('; '),
    diff: {
      values: changed.flatMap((p) => (p.diff?.values ?? []).map((v) => ({ ...v, key: `${p.data!.path}: ${v.key}` }))),
    },
    data: { ...(mkdir ? { mkdir } : {}), writes: changed.map((p) => p.data!) },
  };
}
