import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { InputError } from '../engine/errors.js';
import { CA } from '../pki/index.js';
import {
  advanceRotation,
  beginRotation,
  readRotation,
  ROTATION_PHASES,
  type RotationPhase,
  writeRotation,
} from '../pki/rotation.js';
import { fingerprints } from '../pki/trust.js';
import { podKind } from './drain.js';
import { type ApiAccess, apiMessage, apiRequest, readKubeconfig } from './kube-api.js';
import type { Cluster } from './cluster.js';

/** `certs rotate-ca --ca NAME`: the names a user gives, and the CA each is under pki/. */
export const ROTATABLE: Record<string, string> = { etcd: CA.etcd, cluster: CA.cluster, 'front-proxy': CA.frontProxy };

/** The CAs named (all three when none is), as pki/ names them; an unknown name is bad input. */
export function chooseCas(names: string[] | undefined): string[] {
  const chosen = names?.length ? names : Object.keys(ROTATABLE);
  const unknown = chosen.filter((n) => !(n in ROTATABLE));
  if (unknown.length)
    throw new InputError(
      undefined,
      `--ca: no CA named ${unknown.map((n) => `'${n}'`).join(', ')}`,
      `choose from ${Object.keys(ROTATABLE).join(', ')}`,
    );
  return Object.entries(ROTATABLE)
    .filter(([n]) => chosen.includes(n))
    .map(([, ca]) => ca);
}

/** The apps/v1 workloads whose pods are restarted, with their API collection. */
const WORKLOADS = [
  { kind: 'Deployment', collection: 'deployments' },
  { kind: 'DaemonSet', collection: 'daemonsets' },
  { kind: 'StatefulSet', collection: 'statefulsets' },
] as const;
type WorkloadKind = (typeof WORKLOADS)[number]['kind'];

export interface Workload {
  metadata: { name: string; namespace: string; generation?: number };
  spec?: { replicas?: number };
  status?: {
    observedGeneration?: number;
    replicas?: number;
    updatedReplicas?: number;
    availableReplicas?: number;
    readyReplicas?: number;
    currentRevision?: string;
    updateRevision?: string;
    desiredNumberScheduled?: number;
    updatedNumberScheduled?: number;
    numberAvailable?: number;
  };
}

/** Whether every pod of the workload runs its current template and is available (kubectl rollout status). */
export function rolledOut(kind: WorkloadKind, w: Workload): boolean {
  const s = w.status ?? {};
  if ((s.observedGeneration ?? 0) < (w.metadata.generation ?? 0)) return false;
  if (kind === 'DaemonSet') {
    const desired = s.desiredNumberScheduled ?? 0;
    return (s.updatedNumberScheduled ?? 0) >= desired && (s.numberAvailable ?? 0) >= desired;
  }
  const want = w.spec?.replicas ?? 1;
  if (kind === 'StatefulSet')
    return (s.readyReplicas ?? 0) >= want && (s.updatedReplicas ?? 0) >= want && s.currentRevision === s.updateRevision;
  return (s.updatedReplicas ?? 0) >= want && (s.availableReplicas ?? 0) >= want && (s.replicas ?? 0) <= want;
}

const named = (w: Workload, kind: string) => `${kind} ${w.metadata.namespace}/${w.metadata.name}`;

async function getJson<T>(access: ApiAccess, url: string): Promise<T> {
  const r = await apiRequest(access, url);
  if (r.status !== 200) throw new Error(`GET ${url}: ${apiMessage(r)}`);
  return JSON.parse(r.body) as T;
}

/**
 * After the trust phase of the cluster CA: pods read their service-account ca.crt once, at start,
 * so each must start again with the bundle before the apiservers serve with the new CA. Waits
 * until the controller-manager has put the new CA into every token secret, restarts every
 * Deployment, DaemonSet and StatefulSet (as `kubectl rollout restart`), and waits for those that
 * were available before. Pods no controller owns cannot be restarted: they are named.
 */
export async function restartWorkloads(
  cluster: Cluster,
  newCaPem: string,
  say: (line: string) => void,
  o: { timeoutMs?: number; pollMs?: number } = {},
): Promise<void> {
  const access = readKubeconfig(path.join(cluster.dir, 'kubeconfig'));
  const [newCa] = fingerprints(newCaPem);
  const pollMs = o.pollMs ?? 1000;
  const deadline = Date.now() + (o.timeoutMs ?? 300_000);
  const tokens = '/api/v1/secrets?fieldSelector=type%3Dkubernetes.io%2Fservice-account-token';
  for (;;) {
    const secrets = await getJson<{ items: Array<{ metadata: Workload['metadata']; data?: Record<string, string> }> }>(
      access,
      tokens,
    );
    const lacking = secrets.items.filter((s) => {
      const ca = Buffer.from(s.data?.['ca.crt'] ?? '', 'base64').toString('utf8');
      return !fingerprints(ca).includes(newCa!);
    });
    if (!lacking.length) {
      say(`every service-account token (${secrets.items.length}) carries the new cluster CA`);
      break;
    }
    if (Date.now() > deadline)
      throw new Error(
        `the controller-manager has not put the new cluster CA into ${lacking.length} service-account token(s), ` +
          `e.g. ${lacking[0]!.metadata.namespace}/${lacking[0]!.metadata.name}; is it running?`,
      );
    await sleep(pollMs);
  }
  const restartedAt = new Date().toISOString();
  const waitFor: Array<{ kind: WorkloadKind; url: string; name: string }> = [];
  for (const { kind, collection } of WORKLOADS) {
    const list = await getJson<{ items: Workload[] }>(access, `/apis/apps/v1/${collection}`);
    for (const w of list.items) {
      const url = `/apis/apps/v1/namespaces/${w.metadata.namespace}/${collection}/${w.metadata.name}`;
      const wasAvailable = rolledOut(kind, w);
      const patch = {
        spec: { template: { metadata: { annotations: { 'kubectl.kubernetes.io/restartedAt': restartedAt } } } },
      };
      const r = await apiRequest(access, url, { method: 'PATCH', body: patch });
      if (r.status !== 200) throw new Error(`restarting ${named(w, kind)}: ${apiMessage(r)}`);
      if (wasAvailable) waitFor.push({ kind, url, name: named(w, kind) });
      else say(`restarted ${named(w, kind)} (it was not available before: not waited for)`);
    }
  }
  const pods = await getJson<{ items: Parameters<typeof podKind>[0][] }>(access, '/api/v1/pods');
  const bare = pods.items.filter((p) => podKind(p) === 'unmanaged');
  if (bare.length)
    say(
      `pods no controller owns keep the old CA until they are restarted by hand: ` +
        bare.map((p) => `${p.metadata.namespace}/${p.metadata.name}`).join(', '),
    );
  let pending = waitFor;
  while (pending.length) {
    const states = await Promise.all(
      pending.map(async (w) => rolledOut(w.kind, await getJson<Workload>(access, w.url))),
    );
    for (const w of pending.filter((_, i) => states[i])) say(`restarted ${w.name}: rolled out`);
    pending = pending.filter((_, i) => !states[i]);
    if (!pending.length) break;
    if (Date.now() > deadline)
      throw new Error(
        `not rolled out ${(o.timeoutMs ?? 300_000) / 1000} s on: ${pending.map((w) => w.name).join(', ')}`,
      );
    await sleep(pollMs);
  }
}

/** What each phase does, for the messages and the --check plan. */
const PHASE_TEXT: Record<RotationPhase, string> = {
  trust: 'every host trusts the old and the new CA',
  reissue: 'the new CA signs: every leaf re-issued with a new key and rolled out host by host',
  drop: 'the old CA is dropped: the hosts trust the new one alone',
};

/** Flags that would leave hosts or tasks out of a phase, and with it hosts on a CA the others dropped. */
const PARTIAL_FLAGS = ['limit', 'tags', 'skipTags', 'startAtTask', 'resume'] as const;

/**
 * `furrow certs rotate-ca`: runs the phases from where pki/rotation.json says the last run stopped,
 * each ending with a rollout (`deployStep`: deploy all, then ex-lb when the cluster has one).
 */
export async function rotateClusterCas(
  o: { inventory: string; ca?: string[]; check?: boolean } & Partial<Record<(typeof PARTIAL_FLAGS)[number], unknown>>,
  deployStep: (step: string) => Promise<number>,
  say: (line: string) => void = (line) => process.stderr.write(`rotate-ca: ${line}\n`),
): Promise<number> {
  const partial = PARTIAL_FLAGS.filter((f) => o[f] !== undefined && o[f] !== false);
  if (partial.length)
    throw new InputError(
      undefined,
      `certs rotate-ca: --${partial.map((f) => f.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)).join(', --')} ` +
        'would leave hosts or tasks out of a phase',
      'a rotation moves every host; run it without them',
    );
  const { loadCluster } = await import('./cluster.js');
  const cluster = loadCluster(o.inventory);
  // Without --ca: every CA the cluster has (an etcd-only cluster has no cluster CA).
  const cas = chooseCas(o.ca).filter((ca) => o.ca?.length || existsSync(path.join(cluster.pkiDir, `${ca}.crt`)));
  let state = await readRotation(cluster.pkiDir);
  if (state && o.ca?.length && [...cas].sort().join() !== [...state.cas].sort().join())
    throw new InputError(
      { file: path.join(cluster.pkiDir, 'rotation.json') },
      `a rotation of ${state.cas.join(', ')} is under way (phase ${state.phase}); it must end before another starts`,
      'run certs rotate-ca again without --ca to finish it',
    );
  const phases = state ? ROTATION_PHASES.slice(ROTATION_PHASES.indexOf(state.phase)) : ROTATION_PHASES;
  if (o.check) {
    say(
      state
        ? `resuming the rotation of ${state.cas.join(', ')} (started ${state.started})`
        : `would rotate ${cas.join(', ')}`,
    );
    for (const p of phases) say(`would run phase ${p}: ${PHASE_TEXT[p]}; then deploy all`);
    return 0;
  }
  const keyType = cluster.config.pki_key_type === 'ecdsa' ? 'ecdsa' : 'rsa';
  if (!state) {
    state = await beginRotation(cluster.pkiDir, cas, { keyType });
    say(`started: new ${cas.join(', ')} beside the old in ${cluster.pkiDir}`);
  } else say(`resuming the rotation of ${state.cas.join(', ')}, phase ${state.phase} (started ${state.started})`);
  const exLb = existsSync(path.join(cluster.dir, 'kubeconfig-ex-lb'));
  while (state) {
    if (!state.rolledOut) {
      say(`phase ${state.phase}: ${PHASE_TEXT[state.phase]}`);
      for (const step of exLb ? ['all', 'ex-lb'] : ['all']) {
        const code = await deployStep(step);
        if (code !== 0) {
          say(`phase ${state.phase}: deploy ${step} failed; run certs rotate-ca again to resume from this phase`);
          return code;
        }
      }
      const kubeconfig = path.join(cluster.dir, 'kubeconfig');
      if (state.phase === 'trust' && state.cas.includes(CA.cluster) && existsSync(kubeconfig)) {
        const next = await readFile(path.join(cluster.pkiDir, `${CA.cluster}.next.crt`), 'utf8');
        await restartWorkloads(cluster, next, say);
      }
      state = { ...state, rolledOut: true };
      await writeRotation(cluster.pkiDir, state);
    }
    state = await advanceRotation(cluster.pkiDir, state);
  }
  say(`done: ${cas.join(', ')} rotated; the old CAs are gone from pki/ and from every host`);
  return 0;
}
