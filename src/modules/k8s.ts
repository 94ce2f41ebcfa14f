/**
 * k8s: Kubernetes objects, applied idempotently with server-side apply (like Ansible's
 * kubernetes.core.k8s), from the controller through a tunnel the task host opens to the
 * apiserver: no kubectl and no route to the API needed on the controller. Plan asks the server
 * for a dry run of each apply and compares it with what is there, so changed means the object
 * changed; check mode is that dry run (the apiserver validates every object, nothing changes).
 * `apply: merge` writes a JSON merge patch instead (a create when the object is missing), for
 * kinds an apiserver cannot server-side apply; its dry run is compared the same way.
 * state: absent deletes each object of the manifest that exists.
 */
import type { JSONSchema } from 'json-schema-to-ts';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import YAML from 'yaml';
import { InputError } from '../engine/errors.js';
import type { ApplyResult, Module, ModuleContext, Plan, ParamsOf } from '../engine/module.js';
import { unifiedDiff } from './support/content.js';
import { renderSrcTemplate, srcTemplateFiles } from './support/src-template.js';
import {
  type ApiAnswer,
  describe,
  KubeApi,
  KubeApiError,
  kubeCredentials,
  type ApiObject,
  type KubeObject,
} from './support/kube-api.js';
import { flagSchema, intSchema, toFlag, toInt } from './support/param-values.js';

export type K8sParams = ParamsOf<typeof schema>;

type ObjectAction = 'create' | 'update' | 'delete' | 'none';

interface ObjectPlan {
  obj: KubeObject;
  /** Its API path, found by discovery in plan: apply and wait need no discovery of their own. */
  path: string;
  action: ObjectAction;
  /** Not validated by the dry run: its namespace is created by this same manifest. */
  unvalidated?: boolean;
}

export interface K8sData {
  objects: ObjectPlan[];
}

/** Kinds whose rollout `wait` watches. */
const ROLLOUT_KINDS = new Set(['Deployment', 'DaemonSet', 'StatefulSet']);

const schema = {
  type: 'object',
  properties: {
    src: {
      type: 'string',
      minLength: 1,
      description: "a template in the role's templates/ holding the objects (YAML documents separated by ---)",
      examples: ['coredns.yaml.hbs'],
    },
    definition: {
      anyOf: [{ type: 'object' }, { type: 'array', items: { type: 'object' } }],
      description: 'the objects inline: one mapping or a list',
      examples: [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'ingress-nginx' } }],
    },
    state: {
      type: 'string',
      enum: ['present', 'absent'],
      default: 'present',
      description: 'present: server-side apply; absent: delete every object of the manifest that exists',
      examples: ['absent'],
    },
    kubeconfig: {
      type: 'string',
      minLength: 1,
      description:
        'the kubeconfig on the controller; default: <cluster>/kubeconfig, the admin kubeconfig step 04 writes',
      examples: ['{{ furrow_cluster_dir }}/kubeconfig'],
    },
    api_server: {
      type: 'string',
      pattern: '^https://\\S+$',
      description: "https://host:port of the apiserver as the task host reaches it; default: the kubeconfig's server",
      examples: ['https://10.0.0.11:6443'],
    },
    field_manager: {
      type: 'string',
      minLength: 1,
      default: 'furrow',
      description: 'the field manager of the server-side apply (or of the merge patch)',
      examples: ['furrow'],
    },
    apply: {
      type: 'string',
      enum: ['server', 'merge'],
      default: 'server',
      description:
        "how present writes: 'server', a server-side apply; 'merge', a JSON merge patch of the fields the " +
        'manifest gives (a create when missing): fields dropped from the manifest stay, as nothing records ' +
        'them; for kinds an apiserver cannot server-side apply (an APIService before Kubernetes 1.20.6)',
      examples: ['merge'],
    },
    wait: {
      ...flagSchema,
      description:
        'after applying, wait until every Deployment, DaemonSet and StatefulSet of the manifest has rolled out',
      examples: [true],
    },
    wait_timeout: { ...intSchema, description: 'seconds wait may take (default 300)', examples: [600] },
  },
  oneOf: [{ required: ['src'] }, { required: ['definition'] }],
  additionalProperties: false,
} as const satisfies JSONSchema;

export const k8s: Module<K8sParams, K8sData> = {
  name: 'k8s',
  schema,

  templateFiles: srcTemplateFiles,

  waitsUpTo: (params) => (toFlag(params.wait, 'k8s', 'wait', false) ? waitTimeout(params) : undefined),

  async plan(ctx, params) {
    const objects = await manifestObjects(ctx, params);
    const api = apiFor(ctx, params);
    try {
      const state = params.state ?? 'present';
      const how = writeHow(params);
      const creating = new Set(objects.filter((o) => o.kind === 'Namespace').map((o) => o.metadata.name));
      // Every object asked at once (the API client bounds the requests in flight), answers kept in manifest order.
      const planned = await Promise.all(
        objects.map((obj) =>
          state === 'absent' ? planDelete(api, obj) : planApply(api, obj, how, creating.has.bind(creating)),
        ),
      );
      const diffs = planned.flatMap((p) => (p.diff ? [p.diff] : []));
      const plans = planned.map((p) => p.plan);
      return {
        action: overallAction(plans),
        reason: summary(plans, ctx.check),
        ...(diffs.length ? { diff: { unified: diffs.join('') } } : {}),
        data: { objects: plans },
      };
    } finally {
      api.close();
    }
  },

  async apply(ctx, plan, params) {
    const api = apiFor(ctx, params);
    try {
      return await applyPlanned(api, plan.data!.objects, params);
    } finally {
      api.close();
    }
  },
};

/** What one object of the manifest needs, and its diff when it changes. */
interface PlannedObject {
  plan: ObjectPlan;
  diff?: string;
}

async function planDelete(api: KubeApi, obj: KubeObject): Promise<PlannedObject> {
  const where = await api.objectPath(obj);
  const current = await api.ok('GET', where, undefined, undefined, [404]);
  // One being deleted already (a namespace while its content goes) needs nothing more.
  const doomed = current.status !== 404 && !current.body.metadata?.deletionTimestamp;
  return {
    plan: { obj, path: where, action: doomed ? 'delete' : 'none' },
    ...(doomed ? { diff: unifiedDiff(describe(obj), shown(current.body), '') } : {}),
  };
}

async function planApply(
  api: KubeApi,
  obj: KubeObject,
  how: WriteHow,
  namespaceComes: (name: string) => boolean,
): Promise<PlannedObject> {
  const where = await api.objectPath(obj);
  // The server's own answer to "what would this apply make of it": defaults, other managers'
  // fields and all, so comparing it with what is there is exact. A server-side apply's dry run
  // is asked at once; a merge patch's waits to know whether the object is there to patch.
  const asked = api.ok('GET', where, undefined, undefined, [404]);
  const [current, dryRun] = await Promise.all([
    asked,
    how.apply === 'server'
      ? writeObject(api, where, obj, how, true, true)
      : asked.then((c) => writeObject(api, where, obj, how, c.status !== 404, true)),
  ]);
  const exists = current.status !== 404;
  if (dryRun.status >= 300) {
    // Its namespace comes with this manifest and does not exist yet: it cannot be validated now.
    if (
      !exists &&
      dryRun.status === 404 &&
      obj.metadata.namespace &&
      namespaceComes(obj.metadata.namespace) &&
      (dryRun.body.details?.kind === 'namespaces' || /namespaces? .*not found/.test(String(dryRun.body.message)))
    )
      return {
        plan: { obj, path: where, action: 'create', unvalidated: true },
        diff: unifiedDiff(describe(obj), '', shown(obj)),
      };
    const asking = `dry-run ${writeName(how)}`;
    throw new Error(`${describe(obj)}: the apiserver refused it: ${new KubeApiError(dryRun, asking).message}`);
  }
  // Most objects of a re-run are unchanged: compared as data first, printed only to show a change.
  if (exists && isDeepStrictEqual(shownData(current.body), shownData(dryRun.body)))
    return { plan: { obj, path: where, action: 'none' } };
  const before = exists ? shown(current.body) : '';
  const after = shown(dryRun.body);
  const action: ObjectAction = !exists ? 'create' : before === after ? 'none' : 'update';
  return {
    plan: { obj, path: where, action },
    ...(action !== 'none' ? { diff: unifiedDiff(describe(obj), before, after) } : {}),
  };
}

/** Deletes, then applies, in manifest order (a namespace before what lives in it), then waits when asked. */
async function applyPlanned(api: KubeApi, objects: ObjectPlan[], params: K8sParams): Promise<ApplyResult> {
  const how = writeHow(params);
  // Deleted in reverse order: what a manifest creates first (its namespace) goes last.
  for (const p of [...objects].reverse().filter((o) => o.action === 'delete')) {
    await api.ok(
      'DELETE',
      p.path,
      { kind: 'DeleteOptions', apiVersion: 'v1', propagationPolicy: 'Background' },
      undefined,
      [404],
    );
  }
  for (const p of objects.filter((o) => o.action === 'create' || o.action === 'update')) {
    const answer = await writeObject(api, p.path, p.obj, how, p.action === 'update', false);
    if (answer.status >= 300)
      throw new Error(
        `${describe(p.obj)}: the apiserver refused it: ${new KubeApiError(answer, writeName(how)).message}`,
      );
  }
  const result: ApplyResult = { output: { objects: objects.map(outputOf) }, msg: summary(objects, false) };
  if ((params.state ?? 'present') === 'present' && toFlag(params.wait, 'k8s', 'wait', false)) {
    const waited = await waitForRollouts(api, objects, waitTimeout(params));
    if (waited) return { ...result, failed: true, msg: waited };
  }
  return result;
}

/** The objects of src (rendered) or definition, each with apiVersion, kind and metadata.name. */
async function manifestObjects(ctx: ModuleContext, params: K8sParams): Promise<KubeObject[]> {
  if (params.src !== undefined) {
    const { text, file } = await renderSrcTemplate(ctx, 'k8s', params.src);
    return parseManifest(text, path.basename(file));
  }
  const list = Array.isArray(params.definition) ? params.definition : [params.definition];
  return list.map((o, i) => checkedObject(o, `definition[${i}]`));
}

/** YAML documents (--- between them; empty ones skipped) as objects; errors name the document. */
export function parseManifest(text: string, name: string): KubeObject[] {
  const objects: KubeObject[] = [];
  YAML.parseAllDocuments(text).forEach((doc, i) => {
    // Where the document's content starts (after its ---), as an editor counts lines.
    const start = doc.contents?.range?.[0] ?? doc.range?.[0];
    const line = start !== undefined ? text.slice(0, start).split('\n').length : undefined;
    const where = `${name}, document ${i + 1}${line ? ` (line ${line})` : ''}`;
    if (doc.errors.length) throw new Error(`k8s: ${where} is not valid YAML: ${doc.errors[0]!.message}`);
    const value = doc.toJS() as unknown;
    if (value === null || value === undefined) return;
    if (typeof value === 'object' && !Array.isArray(value) && (value as { kind?: unknown }).kind === 'List') {
      const items = (value as { items?: unknown[] }).items ?? [];
      objects.push(...items.map((item, j) => checkedObject(item, `${where}, item ${j + 1}`)));
    } else {
      objects.push(checkedObject(value, where));
    }
  });
  return objects;
}

function checkedObject(value: unknown, where: string): KubeObject {
  const o = value as Partial<KubeObject> | null;
  if (!o || typeof o !== 'object' || Array.isArray(o))
    throw new Error(`k8s: ${where} is not a Kubernetes object (a mapping)`);
  const missing = [
    typeof o.apiVersion === 'string' ? '' : 'apiVersion',
    typeof o.kind === 'string' ? '' : 'kind',
    typeof o.metadata?.name === 'string' && o.metadata.name !== '' ? '' : 'metadata.name',
  ].filter(Boolean);
  if (missing.length) throw new Error(`k8s: ${where} has no ${missing.join(', ')}`);
  return o as KubeObject;
}

function apiFor(ctx: ModuleContext, params: K8sParams): KubeApi {
  const file =
    params.kubeconfig ??
    (ctx.lookup.has('furrow_cluster_dir')
      ? path.join(String(ctx.lookup.get('furrow_cluster_dir')), 'kubeconfig')
      : undefined);
  if (!file)
    throw new InputError(
      undefined,
      'k8s: no kubeconfig',
      'give kubeconfig: PATH (a file on the controller), or run it from a cluster (furrow deploy)',
    );
  const credentials = kubeCredentials(file);
  return new KubeApi(params.api_server ? { ...credentials, server: params.api_server } : credentials, (address, port) =>
    ctx.conn.tunnel(address, port),
  );
}

/** How present writes an object, from the params. */
interface WriteHow {
  apply: 'server' | 'merge';
  fieldManager: string;
}

const writeHow = (params: K8sParams): WriteHow => ({
  apply: params.apply ?? 'server',
  fieldManager: params.field_manager ?? 'furrow',
});

/** The write's name in an error: what the apiserver refused. */
const writeName = (how: WriteHow): string => (how.apply === 'server' ? 'apply' : 'merge patch');

/**
 * One object written at its path, or the dry run of that write: a server-side apply (forcing
 * ownership of the fields it names), or a JSON merge patch of it, or its create when it `exists` not.
 */
export function writeObject(
  api: Pick<KubeApi, 'call'>,
  where: string,
  obj: KubeObject,
  how: WriteHow,
  exists: boolean,
  dryRun: boolean,
): Promise<ApiAnswer> {
  const query = `?fieldManager=${encodeURIComponent(how.fieldManager)}${dryRun ? '&dryRun=All' : ''}`;
  if (how.apply === 'server')
    return api.call('PATCH', `${where}${query}&force=true`, obj, 'application/apply-patch+yaml');
  if (exists) return api.call('PATCH', `${where}${query}`, obj, 'application/merge-patch+json');
  return api.call('POST', `${where.slice(0, where.lastIndexOf('/'))}${query}`, obj);
}

/** What the object is, as YAML, without what the server keeps for itself; Secret values hidden. */
export function shown(obj: ApiObject): string {
  return YAML.stringify(shownData(obj), { sortMapEntries: true });
}

/** What `shown` prints, as data. */
function shownData(obj: ApiObject): ApiObject {
  const { status: _status, ...rest } = obj;
  const metadata = { ...(rest.metadata ?? {}) };
  for (const k of ['managedFields', 'resourceVersion', 'generation', 'uid', 'creationTimestamp', 'selfLink'])
    delete metadata[k];
  const out: ApiObject = { ...rest, metadata };
  if (obj.kind === 'Secret') {
    // Compared by a digest, never shown: a changed value shows as a changed digest of all values.
    for (const field of ['data', 'stringData']) {
      if (out[field])
        out[field] = Object.fromEntries(
          Object.keys(out[field])
            .sort()
            .map((k) => [k, '(secret)']),
        );
    }
    if (obj.data || obj.stringData) out.values = `(secret, digest ${secretDigest(obj)})`;
  }
  return out;
}

function secretDigest(obj: ApiObject): string {
  // A digest of all values together, salted by the object's uid: equal when nothing changed,
  // and of no use to guess one value from.
  return createHash('sha256')
    .update(String(obj.metadata?.uid ?? ''))
    .update(JSON.stringify([obj.data ?? {}, obj.stringData ?? {}]))
    .digest('hex')
    .slice(0, 12);
}

function overallAction(objects: ObjectPlan[]): Plan['action'] {
  const actions = new Set(objects.map((o) => o.action).filter((a) => a !== 'none'));
  if (actions.size === 0) return 'none';
  if (actions.size === 1) return [...actions][0] as Plan['action'];
  return 'update';
}

function summary(objects: ObjectPlan[], check: boolean): string {
  const count = (a: ObjectAction) => objects.filter((o) => o.action === a).length;
  const words = {
    create: check ? 'to create' : 'created',
    update: check ? 'to update' : 'updated',
    delete: check ? 'to delete' : 'deleted',
    none: 'unchanged',
  };
  const parts = (['create', 'update', 'delete', 'none'] as const)
    .filter((a) => count(a))
    .map((a) => `${count(a)} ${words[a]}`);
  const changed = objects.filter((o) => o.action !== 'none').map((o) => `${o.action} ${describe(o.obj)}`);
  const unvalidated = objects.filter((o) => o.unvalidated).length;
  const listed = changed.length ? ` (${changed.slice(0, 8).join('; ')}${changed.length > 8 ? '; ...' : ''})` : '';
  const notValidated = unvalidated ? `; ${unvalidated} not validated by the dry run (their namespace is new)` : '';
  const counted = `${objects.length} object${objects.length === 1 ? '' : 's'}`;
  return `${counted}: ${parts.join(', ') || 'none'}${listed}${notValidated}`;
}

function outputOf(p: ObjectPlan): Record<string, unknown> {
  return { kind: p.obj.kind, namespace: p.obj.metadata.namespace ?? null, name: p.obj.metadata.name, action: p.action };
}

function waitTimeout(params: K8sParams): number {
  return toInt(params.wait_timeout, 'k8s', 'wait_timeout', 1) ?? 300;
}

/**
 * Waits until every Deployment, DaemonSet and StatefulSet has rolled out (kubectl rollout
 * status's rules); undefined when all did, else what is still rolling out.
 */
async function waitForRollouts(
  api: KubeApi,
  objects: ObjectPlan[],
  timeoutSeconds: number,
): Promise<string | undefined> {
  const watched = objects.filter((o) => ROLLOUT_KINDS.has(o.obj.kind));
  const deadline = Date.now() + timeoutSeconds * 1000;
  for (;;) {
    const pending: string[] = [];
    for (const p of watched) {
      const answer = await api.ok('GET', p.path, undefined, undefined, [404]);
      const waiting = answer.status === 404 ? 'not found' : rolloutPending(answer.body);
      if (waiting) pending.push(`${describe(p.obj)}: ${waiting}`);
    }
    if (pending.length === 0) return undefined;
    if (Date.now() >= deadline) return `not rolled out after ${timeoutSeconds} s: ${pending.join('; ')}`;
    await new Promise((r) => setTimeout(r, 2000));
  }
}

/** Why a workload has not rolled out yet, or undefined when it has. */
export function rolloutPending(obj: ApiObject): string | undefined {
  const spec = obj.spec ?? {};
  const status = obj.status ?? {};
  if ((status.observedGeneration ?? 0) < (obj.metadata?.generation ?? 0))
    return 'the controller has not seen the latest spec';
  if (obj.kind === 'DaemonSet') {
    const want = status.desiredNumberScheduled ?? 0;
    if ((status.updatedNumberScheduled ?? 0) < want)
      return `${status.updatedNumberScheduled ?? 0} of ${want} pods updated`;
    if ((status.numberAvailable ?? 0) < want) return `${status.numberAvailable ?? 0} of ${want} pods available`;
    return undefined;
  }
  const want = spec.replicas ?? 1;
  if ((status.updatedReplicas ?? 0) < want) return `${status.updatedReplicas ?? 0} of ${want} replicas updated`;
  if (obj.kind === 'Deployment' && (status.replicas ?? 0) > (status.updatedReplicas ?? 0))
    return `${(status.replicas ?? 0) - (status.updatedReplicas ?? 0)} old replicas pending termination`;
  const ready = obj.kind === 'Deployment' ? (status.availableReplicas ?? 0) : (status.readyReplicas ?? 0);
  if (ready < want) return `${ready} of ${want} replicas ${obj.kind === 'Deployment' ? 'available' : 'ready'}`;
  return undefined;
}
