import { setTimeout as sleep } from 'node:timers/promises';
import { type ApiAccess, apiMessage, apiRequest } from './kube-api.js';

/**
 * `kubectl drain --ignore-daemonsets --delete-emptydir-data` through the API: cordon the node, evict
 * its pods (the Eviction API, so PodDisruptionBudgets are honoured), wait until they are gone. Pods
 * of a DaemonSet stay (their controller would put them back) and static pods (mirror pods) too.
 * Pods that no controller would re-create are refused unless `force`, as kubectl does.
 */
export interface PodRef {
  namespace: string;
  name: string;
}

interface Pod {
  metadata: {
    name: string;
    namespace: string;
    annotations?: Record<string, string>;
    ownerReferences?: Array<{ kind: string; controller?: boolean }>;
  };
  status?: { phase?: string };
}

export type PodKind = 'daemonset' | 'mirror' | 'finished' | 'unmanaged' | 'managed';

/** What drain does with a pod: leave it (DaemonSet, static), delete it (finished), or evict it. */
export function podKind(pod: Pod): PodKind {
  if (pod.metadata.annotations?.['kubernetes.io/config.mirror'] !== undefined) return 'mirror';
  const controller = pod.metadata.ownerReferences?.find((o) => o.controller);
  if (controller?.kind === 'DaemonSet') return 'daemonset';
  if (pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed') return 'finished';
  return controller ? 'managed' : 'unmanaged';
}

export interface DrainOptions {
  /** Also evict pods no controller manages (they are gone for good). */
  force?: boolean;
  /** How long to wait for the evicted pods to go (default 120 s). */
  timeoutMs?: number;
  say: (line: string) => void;
  /** Between polls (tests make it short). */
  pollMs?: number;
}

const podPath = (p: PodRef) =>
  `/api/v1/namespaces/${encodeURIComponent(p.namespace)}/pods/${encodeURIComponent(p.name)}`;
const refOf = (pod: Pod): PodRef => ({ namespace: pod.metadata.namespace, name: pod.metadata.name });
const named = (p: PodRef) => `${p.namespace}/${p.name}`;

async function podsOn(access: ApiAccess, node: string): Promise<Pod[]> {
  const r = await apiRequest(access, `/api/v1/pods?fieldSelector=${encodeURIComponent(`spec.nodeName=${node}`)}`);
  if (r.status !== 200) throw new Error(`listing the pods on ${node}: ${apiMessage(r)}`);
  return (JSON.parse(r.body) as { items: Pod[] }).items;
}

/** Cordons `node` and evicts its pods; the pods it evicted. Throws with the reason when it cannot finish. */
export async function drainNode(access: ApiAccess, node: string, o: DrainOptions): Promise<PodRef[]> {
  const cordon = await apiRequest(access, `/api/v1/nodes/${encodeURIComponent(node)}`, {
    method: 'PATCH',
    body: { spec: { unschedulable: true } },
  });
  if (cordon.status === 404) return [];
  if (cordon.status !== 200) throw new Error(`cordoning ${node}: ${apiMessage(cordon)}`);
  o.say(`cordoned ${node}: no new pods are scheduled on it`);

  const pods = await podsOn(access, node);
  const unmanaged = pods.filter((p) => podKind(p) === 'unmanaged').map(refOf);
  if (unmanaged.length && !o.force) {
    throw new Error(
      `${node} runs pods that no controller would ` +
        `re-create elsewhere: ${unmanaged.map(named).join(', ')}; delete them yourself, or give --force to evict ` +
        `them too (they are gone for good)`,
    );
  }
  const toEvict = pods.filter((p) => ['managed', 'unmanaged', 'finished'].includes(podKind(p))).map(refOf);
  const deadline = Date.now() + (o.timeoutMs ?? 120_000);
  let pending = toEvict;
  while (pending.length) {
    const still: PodRef[] = [];
    for (const pod of pending) if ((await evictPod(access, pod)) === 'blocked') still.push(pod);
    if (!still.length) break;
    if (Date.now() > deadline) throw new Error(`a PodDisruptionBudget keeps ${still.map(named).join(', ')} on ${node}`);
    await sleep(o.pollMs ?? 5_000);
    pending = still;
  }
  if (toEvict.length) o.say(`evicting ${toEvict.length} pod(s): ${toEvict.map(named).join(', ')}`);

  const wanted = new Set(toEvict.map(named));
  for (;;) {
    const left = (await podsOn(access, node)).map(refOf).filter((p) => wanted.has(named(p)));
    if (!left.length) return toEvict;
    if (Date.now() > deadline)
      throw new Error(
        `evicted pods still on ${node} after ${(o.timeoutMs ?? 120_000) / 1000} s: ${left.map(named).join(', ')}`,
      );
    await sleep(o.pollMs ?? 2_000);
  }
}

/**
 * Asks the Eviction API to take a pod away: 'evicted' (or gone already), or 'blocked' while a PodDisruptionBudget
 * does not allow it yet (429: ask again later). Any other answer is an error.
 */
export async function evictPod(access: ApiAccess, pod: PodRef): Promise<'evicted' | 'blocked'> {
  const r = await apiRequest(access, `${podPath(pod)}/eviction`, {
    method: 'POST',
    body: { apiVersion: 'policy/v1beta1', kind: 'Eviction', metadata: { namespace: pod.namespace, name: pod.name } },
  });
  if (r.status === 429) return 'blocked';
  if (r.status === 200 || r.status === 201 || r.status === 404) return 'evicted';
  throw new Error(`evicting ${named(pod)}: ${apiMessage(r)}`);
}

/** Deletes the Node object (the kubelet is stopped first, or it registers the node again). */
export async function deleteNode(access: ApiAccess, node: string): Promise<boolean> {
  const r = await apiRequest(access, `/api/v1/nodes/${encodeURIComponent(node)}`, { method: 'DELETE' });
  if (r.status === 404) return false;
  if (r.status !== 200 && r.status !== 202) throw new Error(`deleting the Node ${node}: ${apiMessage(r)}`);
  return true;
}
