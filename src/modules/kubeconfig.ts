/**
 * kubeconfig: puts a kubeconfig built from a certificate of the cluster's pki/ (client
 * certificate, key and the CA, embedded) at dest, mode 0600. With a spec, the certificate is
 * first issued or kept on the controller, as the cert module does. The file holds a private key:
 * it is compared by sha256 and its diff never shows content. A missing folder is created.
 */
import type { JSONSchema } from 'json-schema-to-ts';
import { createHash } from 'node:crypto';
import { posix } from 'node:path';
import type { FileQuery } from '../engine/facts/files.js';
import type { Module, ModuleContext, ParamsOf } from '../engine/module.js';
import { specSchema } from './cert.js';
import { sh } from '../engine/shell.js';
import { wantedAttrs } from './support/attributes.js';
import { groupParam, ownerParam, modeParam } from './support/param-values.js';
import { runOrFail } from './support/run.js';
import { applyWrite, decideWrite, type WriteData } from './support/write-file.js';
import { certificateName, pkiSourceDir, renewWithinDaysParam, srcDirParam } from './support/pki-params.js';

export type KubeconfigParams = ParamsOf<typeof schema>;

/** The write, and the file's folder when it does not exist yet. */
export type KubeconfigData = WriteData & { mkdir?: string };

const schema = {
  type: 'object',
  properties: {
    name: {
      type: 'string',
      minLength: 1,
      description: "the client certificate under src_dir ('admin'); default: spec.name",
      examples: ['admin'],
    },
    spec: {
      ...specSchema,
      examples: [{ name: 'admin', ca: 'ca', commonName: 'admin', organization: 'system:masters', usages: ['client'] }],
    },
    src_dir: srcDirParam,
    dest: {
      type: 'string',
      minLength: 1,
      description: 'the kubeconfig file on the host',
      examples: ['/etc/kubernetes/kubelet.kubeconfig'],
    },
    server: {
      type: 'string',
      pattern: '^https://\\S+$',
      description: 'https://host:port of the apiserver (or the local load balancer)',
      examples: ['https://127.0.0.1:6443'],
    },
    cluster: {
      type: 'string',
      minLength: 1,
      default: 'kubernetes',
      description: 'cluster name in the file',
      examples: ['kubernetes'],
    },
    user: {
      type: 'string',
      minLength: 1,
      description: 'user name in the file; default: spec.commonName, else name',
      examples: ['admin'],
    },
    ca: {
      type: 'string',
      minLength: 1,
      default: 'ca',
      description: "the CA that signed the apiserver's certificate",
      examples: ['ca'],
    },
    mode: {
      ...modeParam,
      default: '0600',
      description: 'mode of the kubeconfig (it holds a private key)',
      examples: ['0640'],
    },
    owner: ownerParam,
    group: groupParam,
    renew_within_days: renewWithinDaysParam,
    key_type: {
      type: 'string',
      enum: ['rsa', 'ecdsa'],
      default: 'rsa',
      description: 'key type of a newly issued certificate',
      examples: ['ecdsa'],
    },
  },
  required: ['dest', 'server'],
  additionalProperties: false,
} as const satisfies JSONSchema;

export const kubeconfig: Module<KubeconfigParams, KubeconfigData> = {
  name: 'kubeconfig',
  schema,

  async fileQueries(_ctx, params): Promise<FileQuery[]> {
    return [{ path: params.dest }, { path: posix.dirname(params.dest) }];
  },

  async plan(ctx, params) {
    const { name, srcDir } = resolveNames(ctx, params);
    // One import after another: jest's module runner fails on parallel imports.
    const { ensureLeaf } = await import('../pki/leaf.js');
    const { kubeconfigFromPki } = await import('../pki/kubeconfig.js');
    const leaf = params.spec
      ? await ensureLeaf(srcDir, params.spec, {
          dryRun: ctx.check,
          ...(params.renew_within_days !== undefined ? { renewWithinDays: params.renew_within_days } : {}),
          ...(params.key_type ? { keyType: params.key_type } : {}),
        })
      : undefined;
    const user = params.user ?? params.spec?.commonName ?? name;
    // Check mode, certificate still to be issued: nothing to render yet, and anything on the host differs.
    const bytes =
      leaf?.action === 'would-issue'
        ? undefined
        : Buffer.from(
            await kubeconfigFromPki(srcDir, name, {
              cluster: params.cluster ?? 'kubernetes',
              server: params.server,
              user,
              ca: params.ca ?? 'ca',
            }),
            'utf8',
          );
    const sha = bytes ? createHash('sha256').update(bytes).digest('hex') : '(pending)';
    const attrs = wantedAttrs(
      {
        mode: params.mode ?? '0600',
        ...(params.owner !== undefined ? { owner: params.owner } : {}),
        ...(params.group !== undefined ? { group: params.group } : {}),
      },
      'kubeconfig',
    );
    const [file, dir] = await ctx.probeFiles([{ path: params.dest }, { path: posix.dirname(params.dest) }]);
    const plan = decideWrite(
      { path: params.dest, source: { bytes: bytes ?? Buffer.alloc(0) }, sha256: sha, attrs, secret: true },
      file!,
      `${ctx.host}: kubeconfig`,
    );
    const issued =
      leaf && leaf.action !== 'kept'
        ? `${leaf.action === 'issued' ? 'issued' : 'would issue'} ${leaf.name} on the controller (${leaf.reason}); `
        : '';
    const mkdir = dir!.type === 'absent' && plan.data ? posix.dirname(params.dest) : undefined;
    return {
      ...plan,
      reason: `${issued}${plan.reason}`,
      ...(plan.data ? { data: { ...plan.data, ...(mkdir ? { mkdir } : {}) } } : {}),
    };
  },

  async apply(ctx, plan) {
    if (plan.data?.mkdir) await runOrFail(ctx, sh`mkdir -p -- ${plan.data.mkdir}`, `creating ${plan.data.mkdir}`);
    return applyWrite(ctx, plan);
  },
};

function resolveNames(ctx: ModuleContext, params: KubeconfigParams): { name: string; srcDir: string } {
  const name = certificateName('kubeconfig', params, "<client certificate under pki/> (e.g. 'admin')");
  return { name, srcDir: pkiSourceDir(ctx, 'kubeconfig', params.src_dir) };
}
