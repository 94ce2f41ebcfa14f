/**
 * cert: puts a certificate from the cluster's pki/ on a host, with its key (0600) and, when
 * asked, its CA certificate. Given a spec, the certificate is first issued or kept on the
 * controller (in check mode only decided, nothing written anywhere). Files compare by sha256 in
 * one probe round trip; the diff shows subject, SANs and expiry, of the certificate to be
 * written and of the one on the host, and a key only as "(secret changed)".
 */
import type { JSONSchema } from 'json-schema-to-ts';
import { posix } from 'node:path';
import { FurrowError } from '../engine/errors.js';
import type { FileInfo, FileQuery } from '../engine/facts/files.js';
import type { ModuleContext, Plan, PlanAction, ValueChange, ParamsOf } from '../engine/module.js';
import type { Module } from '../engine/module.js';
import type { CertDescription } from '../pki/describe.js';
import type { SourceFile } from '../pki/distribute.js';
import type { LeafResult } from '../pki/leaf.js';
import { USAGES } from '../pki/spec.js';
import { wantedAttrs } from './support/attributes.js';
import { flagSchema, groupParam, ownerParam, modeParam, toFlag } from './support/param-values.js';
import {
  applyWriteSet,
  decideWrite,
  removingLeftovers,
  stagingQueries,
  type WriteData,
  type WriteSetData,
} from './support/write-file.js';
import { certificateName, pkiSourceDir, renewWithinDaysParam, srcDirParam } from './support/pki-params.js';

export type CertParams = ParamsOf<typeof schema>;

export type CertData = WriteSetData;

const names = { type: 'array', items: { type: 'string' } } as const;
export const specSchema = {
  type: 'object',
  description: 'issue the certificate on the controller when missing, different or expiring (see docs/pki.md)',
  properties: {
    name: {
      type: 'string',
      minLength: 1,
      description: "path under pki/ without extension: 'etcd/server-etcd1'",
      examples: ['etcd/server-h1'],
    },
    ca: {
      type: 'string',
      minLength: 1,
      description: "the signing CA: 'etcd/ca', 'ca' or 'front-proxy-ca'",
      examples: ['etcd/ca'],
    },
    commonName: {
      type: 'string',
      minLength: 1,
      description: 'the subject CN (for a Kubernetes client, its user name)',
      examples: ['system:kube-controller-manager'],
    },
    organization: {
      anyOf: [{ type: 'string' }, names],
      description: 'the subject O, one or several (for a Kubernetes client, its groups)',
      examples: ['system:masters'],
    },
    sans: {
      type: 'object',
      properties: {
        dns: {
          ...names,
          description: 'DNS names the certificate is good for',
          examples: [['kubernetes', 'kubernetes.default.svc']],
        },
        ips: {
          ...names,
          description: 'IP addresses the certificate is good for',
          examples: [['10.0.0.11', '127.0.0.1']],
        },
      },
      additionalProperties: false,
      description: 'subject alternative names: what a server certificate is good for',
      examples: [{ ips: ['10.0.0.11'] }],
    },
    usages: {
      type: 'array',
      items: { type: 'string', enum: [...USAGES] },
      minItems: 1,
      description: 'peer: server and client',
      examples: [['server', 'client']],
    },
    days: {
      type: 'integer',
      minimum: 1,
      default: 365,
      description: 'lifetime of a newly issued certificate',
      examples: [3650],
    },
  },
  required: ['name', 'ca', 'commonName', 'usages'],
  additionalProperties: false,
} as const;

// A certificate is a few kilobytes: fetching a differing one to describe it costs nothing extra.
const MAX_CERT_BYTES = 64 * 1024;

const schema = {
  type: 'object',
  properties: {
    name: {
      type: 'string',
      minLength: 1,
      description: "the certificate under src_dir, without extension ('etcd/server-etcd1'); default: spec.name",
      examples: ['etcd/server-h1'],
    },
    spec: {
      ...specSchema,
      examples: [
        {
          name: 'etcd/server-h1',
          ca: 'etcd/ca',
          commonName: 'etcd',
          usages: ['server', 'client'],
          sans: { ips: ['10.0.0.11', '127.0.0.1'] },
        },
      ],
    },
    src_dir: srcDirParam,
    dest: {
      type: 'string',
      minLength: 1,
      description: 'folder on the host (created when missing)',
      examples: ['/etc/kubernetes/pki/etcd'],
    },
    cert_file: {
      type: 'string',
      minLength: 1,
      description: 'file name in dest; default: the last part of name + .crt',
      examples: ['server.crt'],
    },
    key_file: {
      type: 'string',
      minLength: 1,
      description: 'file name in dest; default: the last part of name + .key',
      examples: ['server.key'],
    },
    ca_file: {
      type: 'string',
      minLength: 1,
      default: 'ca.crt',
      description: 'file name of the CA certificate in dest',
      examples: ['ca.crt'],
    },
    key: { ...flagSchema, default: true, description: 'also put the private key', examples: [false] },
    ca: {
      ...flagSchema,
      default: false,
      description: 'also put the certificate of the CA that signed it',
      examples: [true],
    },
    owner: ownerParam,
    group: groupParam,
    cert_mode: { ...modeParam, default: '0644', description: 'mode of the certificate files', examples: ['0640'] },
    key_mode: { ...modeParam, default: '0600', description: 'mode of the private key', examples: ['0400'] },
    renew_within_days: renewWithinDaysParam,
    key_type: {
      type: 'string',
      enum: ['rsa', 'ecdsa'],
      default: 'rsa',
      description: 'key type of a newly issued certificate (and of a new CA)',
      examples: ['ecdsa'],
    },
  },
  required: ['dest'],
  additionalProperties: false,
} as const satisfies JSONSchema;

export const cert: Module<CertParams, CertData> = {
  name: 'cert',
  schema,

  async plan(ctx, params) {
    const { name, srcDir } = resolveNames(ctx, params);
    const { ensureLeaf, distributionSources, describeHostCertificate } = await loadPki();
    const leaf = params.spec ? await ensureLeaf(srcDir, params.spec, leafOptions(ctx, params)) : undefined;
    const sources = await distributionSources(srcDir, {
      name,
      ...(leaf ? { leaf } : {}),
      ...(params.spec ? { caName: params.spec.ca } : {}),
      key: toFlag(params.key, 'cert', 'key', true),
      ca: toFlag(params.ca, 'cert', 'ca', false),
    });
    const targets = sources.map((source) => ({
      source,
      path: posix.join(params.dest, fileName(source, name, params)),
    }));
    const paths = targets.map((t) => t.path);
    const queries: FileQuery[] = [
      { path: params.dest },
      ...targets.map(({ source, path }) => queryFor(source, path)),
      ...stagingQueries(paths),
    ];
    const [dir, ...found] = await ctx.probeFiles(queries);
    if (dir!.type !== 'absent' && dir!.type !== 'directory')
      throw new FurrowError('module', `${ctx.host}: cert: ${params.dest} is a ${dir!.type}, not a folder`);
    const decisions = targets.map((t, i) =>
      decideFile(ctx, params, t.source, t.path, found[i]!, describeHostCertificate),
    );
    const plan = combine(decisions, leaf, dir!.type === 'absent' ? params.dest : undefined);
    return removingLeftovers(plan, paths, found.slice(targets.length));
  },

  apply: (ctx, plan) => (plan.data ? applyWriteSet(ctx, plan.data) : Promise.resolve({})),
};

/**
 * The certificate code and its X.509 library (about 0.1 s of start-up CPU) load only when a cert
 * task runs: once, one module after another (jest's module runner fails on parallel imports).
 */
let pki: ReturnType<typeof importPki> | undefined;
const loadPki = () => (pki ??= importPki());

async function importPki() {
  const { describeCertificate, parseCertificate } = await import('../pki/describe.js');
  const { distributionSources } = await import('../pki/distribute.js');
  const { ensureLeaf } = await import('../pki/leaf.js');
  const describeHostCertificate: DescribeCertificate = (pem) =>
    describeCertificate(parseCertificate(pem, 'host certificate'));
  return { distributionSources, ensureLeaf, describeHostCertificate };
}

function resolveNames(ctx: ModuleContext, params: CertParams): { name: string; srcDir: string } {
  const name = certificateName('cert', params, "<certificate under pki/> (e.g. 'etcd/server-etcd1')");
  return { name, srcDir: pkiSourceDir(ctx, 'cert', params.src_dir) };
}

function leafOptions(ctx: ModuleContext, params: CertParams) {
  return {
    dryRun: ctx.check,
    ...(params.renew_within_days !== undefined ? { renewWithinDays: params.renew_within_days } : {}),
    ...(params.key_type ? { keyType: params.key_type } : {}),
  };
}

function fileName(source: SourceFile, name: string, params: CertParams): string {
  const base = posix.basename(name);
  if (source.kind === 'cert') return params.cert_file ?? `${base}.crt`;
  if (source.kind === 'key') return params.key_file ?? `${base}.key`;
  return params.ca_file ?? 'ca.crt';
}

function queryFor(source: SourceFile, path: string): FileQuery {
  // The host's certificate comes back only when it differs (to describe it); a key never does.
  if (source.kind === 'key') return { path };
  return { path, content: 'if-changed', wantSha256: source.sha256 ?? '', maxContentBytes: MAX_CERT_BYTES };
}

interface FileDecision {
  plan: Plan<WriteData>;
  path: string;
}

type DescribeCertificate = (pem: string) => CertDescription;

function decideFile(
  ctx: ModuleContext,
  params: CertParams,
  source: SourceFile,
  path: string,
  file: FileInfo,
  describe: DescribeCertificate,
): FileDecision {
  const isKey = source.kind === 'key';
  const mode = isKey ? (params.key_mode ?? '0600') : (params.cert_mode ?? '0644');
  const attrs = wantedAttrs(
    {
      mode,
      ...(params.owner !== undefined ? { owner: params.owner } : {}),
      ...(params.group !== undefined ? { group: params.group } : {}),
    },
    'cert',
  );
  // A file still to be issued has no hash yet: '(pending)' matches nothing on a host. Apply never sees it (check mode).
  const plan = decideWrite(
    { path, source: { localPath: source.localPath }, sha256: source.sha256 ?? '(pending)', attrs, secret: true },
    file,
    `${ctx.host}: cert`,
  );
  if (plan.action === 'none' || isKey || !plan.diff?.values?.some((v) => v.key === 'content'))
    return { plan: prefixed(plan, path), path };
  const values = plan.diff.values.flatMap((v) =>
    v.key === 'content' ? certChanges(source.description!, file, describe) : [v],
  );
  return { plan: prefixed({ ...plan, diff: { values } }, path), path };
}

/** Subject, SANs and expiry of the certificate on the host (when there is one) and of the one to be written. */
function certChanges(after: CertDescription, file: FileInfo, describe: DescribeCertificate): ValueChange[] {
  let before: CertDescription | undefined;
  let unreadable = false;
  if (file.type === 'file' && file.content) {
    try {
      before = describe(file.content.toString('utf8'));
    } catch {
      unreadable = true;
    }
  }
  const old = (value: string) => (before ? value : unreadable ? '(not a certificate)' : null);
  return [
    { key: 'subject', before: old(before?.subject ?? ''), after: after.subject },
    { key: 'SANs', before: old(before?.sans.join(', ') ?? ''), after: after.sans.join(', ') },
    { key: 'not after', before: old(before?.notAfter ?? ''), after: after.notAfter },
  ];
}

/** Several files in one diff: each value is labelled with its file. */
function prefixed(plan: Plan<WriteData>, path: string): Plan<WriteData> {
  if (!plan.diff?.values) return plan;
  return { ...plan, diff: { ...plan.diff, values: plan.diff.values.map((v) => ({ ...v, key: `${path}: ${v.key}` })) } };
}

function combine(decisions: FileDecision[], leaf: LeafResult | undefined, mkdir: string | undefined): Plan<CertData> {
  const changed = decisions.filter((d) => d.plan.action !== 'none');
  const issued =
    leaf && leaf.action !== 'kept'
      ? [`${leaf.action === 'issued' ? 'issued' : 'would issue'} ${leaf.name} on the controller (${leaf.reason})`]
      : [];
  if (changed.length === 0) {
    return {
      action: 'none',
      reason: [
        ...issued,
        `${decisions.map((d) => posix.basename(d.path)).join(', ')} up to date in ${posix.dirname(decisions[0]!.path)}`,
      ].join('; '),
    };
  }
  const action: PlanAction =
    changed.every((d) => d.plan.action === 'create') && changed.length === decisions.length ? 'create' : 'update';
  return {
    action,
    reason: [...issued, ...changed.map((d) => d.plan.reason)].join('; '),
    diff: { values: changed.flatMap((d) => d.plan.diff?.values ?? []) },
    data: { ...(mkdir ? { mkdir } : {}), writes: changed.map((d) => d.plan.data!).filter(Boolean) },
  };
}
