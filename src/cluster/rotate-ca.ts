/**
 * `furrow certs rotate-ca`: the cluster side of a CA rotation. pki/rotation.ts moves pki/ from one
 * phase to the next; here each phase is rolled out (deploy etcd,master,node, whose handlers restart
 * one host at a time) and, after the cluster CA's trust phase, every pod is replaced so it reads the new CA.
 */
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
import { evictPod, podKind } from './drain.js';
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

/** A pod as listed: enough to know its owner, whether it is ready, and its UID. */
export interface ListedPod {
  metadata: {
    name: string;
    namespace: string;
    uid: string;
    annotations?: Record<string, string>;
    ownerReferences?: Array<{ kind: string; name: string; uid: string; controller?: boolean }>;
  };
  status?: { phase?: string; conditions?: Array<{ type: string; status: string }> };
}

/** Controllers that put an evicted pod back; a Job's pod is left to finish, a bare pod cannot come back. */
const REPLACING_OWNERS = ['ReplicaSet', 'DaemonSet', 'StatefulSet'];

const podName = (p: ListedPod) => `${p.metadata.namespace}/${p.metadata.name}`;
const isReadyPod = (p: ListedPod) =>
  p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true;

export interface PodGroup {
  /** 'ReplicaSet default/web-6d4cf56db6' */
  owner: string;
  ownerUid: string;
  namespace: string;
  pods: ListedPod[];
}

/**
 * The pods to replace, by the controller that puts them back; and the pods nothing would put back
 * (bare pods and Jobs' pods: named for the operator). Static pods and finished pods are left alone.
 */
export function replaceablePods(pods: ListedPod[]): { groups: PodGroup[]; left: string[] } {
  const groups = new Map<string, PodGroup>();
  const left: string[] = [];
  for (const pod of pods) {
    const kind = podKind(pod);
    if (kind === 'mirror' || kind === 'finished') continue;
    const owner = pod.metadata.ownerReferences?.find((o) => o.controller);
    if (!owner || !REPLACING_OWNERS.includes(owner.kind)) {
      left.push(podName(pod));
      continue;
    }
    const group = groups.get(owner.uid) ?? {
      owner: `${owner.kind} ${pod.metadata.namespace}/${owner.name}`,
      ownerUid: owner.uid,
      namespace: pod.metadata.namespace,
      pods: [],
    };
    group.pods.push(pod);
    groups.set(owner.uid, group);
  }
  return { groups: [...groups.values()], left };
}

async function getJson<T>(access: ApiAccess, url: string): Promise<T> {
  const r = await apiRequest(access, url);
  if (r.status !== 200) throw new Error(`GET ${url}: ${apiMessage(r)}`);
  return JSON.parse(r.body) as T;
}

/**
 * After the trust phase of the cluster CA: a pod reads its service-account ca.crt once, at start,
 * so each must start again with the bundle before the apiservers serve with the new CA. Waits until
 * the controller-manager has put the new CA into every token secret, then replaces every pod a
 * ReplicaSet, DaemonSet or StatefulSet owns: evicted (PodDisruptionBudgets are honoured), one pod
 * per owner at a time, the next only once the owner has as many ready pods as before. Owners go
 * side by side. Eviction, not `rollout restart`: a rollout that must surge can stick (a pod per
 * node by required anti-affinity), and then old pods would keep the old CA.
 */
export async function replacePods(
  cluster: Cluster,
  newCaPem: string,
  say: (line: string) => void,
  o: { timeoutMs?: number; pollMs?: number } = {},
): Promise<void> {
  const access = readKubeconfig(path.join(cluster.dir, 'kubeconfig'));
  const [newCa] = fingerprints(newCaPem);
  const pollMs = o.pollMs ?? 1000;
  const timeoutMs = o.timeoutMs ?? 300_000;
  const deadline = Date.now() + timeoutMs;
  const tokens = '/api/v1/secrets?fieldSelector=type%3Dkubernetes.io%2Fservice-account-token';
  for (;;) {
    const secrets = await getJson<{ items: Array<{ metadata: ListedPod['metadata']; data?: Record<string, string> }> }>(
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
  const { groups, left } = replaceablePods((await getJson<{ items: ListedPod[] }>(access, '/api/v1/pods')).items);
  if (left.length)
    say(`pods no controller puts back keep the old CA until they are restarted by hand: ${left.join(', ')}`);
  await Promise.all(
    groups.map(async (group) => {
      for (const pod of group.pods) {
        const wasReady = isReadyPod(pod);
        const readyBefore = await readyPodsOf(access, group, new Set());
        await evict(access, pod, deadline, pollMs);
        if (!wasReady) continue;
        // Ready again: as many ready pods as before, not counting the one evicted (a StatefulSet's comes back by
        // the same name, so pods are told apart by UID).
        for (;;) {
          if ((await readyPodsOf(access, group, new Set([pod.metadata.uid]))) >= readyBefore) break;
          if (Date.now() > deadline)
            throw new Error(
              `${group.owner}: no pod ready in place of ${podName(pod)} ${timeoutMs / 1000} s after it was evicted`,
            );
          await sleep(pollMs);
        }
      }
      say(`replaced the pods of ${group.owner} (${group.pods.length}), one at a time`);
    }),
  );
}

async function readyPodsOf(access: ApiAccess, group: PodGroup, not: Set<string>): Promise<number> {
  const pods = (await getJson<{ items: ListedPod[] }>(access, `/api/v1/namespaces/${group.namespace}/pods`)).items;
  return pods.filter(
    (p) =>
      p.metadata.ownerReferences?.some((o) => o.uid === group.ownerUid) && !not.has(p.metadata.uid) && isReadyPod(p),
  ).length;
}

/** Evicts a pod, again while a PodDisruptionBudget refuses it, until the deadline. */
async function evict(access: ApiAccess, pod: ListedPod, deadline: number, pollMs: number): Promise<void> {
  while ((await evictPod(access, pod.metadata)) === 'blocked') {
    if (Date.now() > deadline) throw new Error(`a PodDisruptionBudget keeps ${podName(pod)} from being replaced`);
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
 * each ending with a rollout (`deployStep`): the steps that put CA files, leaves and kubeconfigs on the hosts,
 * as `certs renew` rolls them out.
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
  // etcd's members, then (once step 04 made the admin kubeconfig) the control plane and the nodes, then the ex-lb's
  // kubeconfig when step 10 made one.
  const kubernetes = existsSync(path.join(cluster.dir, 'kubeconfig'));
  const rollout = [
    kubernetes ? 'etcd,master,node' : 'etcd',
    ...(existsSync(path.join(cluster.dir, 'kubeconfig-ex-lb')) ? ['ex-lb'] : []),
  ];
  if (o.check) {
    say(
      state
        ? `resuming the rotation of ${state.cas.join(', ')} (started ${state.started})`
        : `would rotate ${cas.join(', ')}`,
    );
    for (const p of phases) say(`would run phase ${p}: ${PHASE_TEXT[p]}; then deploy ${rollout.join(', then ')}`);
    return 0;
  }
  const keyType = cluster.config.pki_key_type === 'ecdsa' ? 'ecdsa' : 'rsa';
  if (!state) {
    state = await beginRotation(cluster.pkiDir, cas, { keyType });
    say(`started: new ${cas.join(', ')} beside the old in ${cluster.pkiDir}`);
  } else say(`resuming the rotation of ${state.cas.join(', ')}, phase ${state.phase} (started ${state.started})`);
  while (state) {
    if (!state.rolledOut) {
      say(`phase ${state.phase}: ${PHASE_TEXT[state.phase]}`);
      for (const step of rollout) {
        const code = await deployStep(step);
        if (code !== 0) {
          say(`phase ${state.phase}: deploy ${step} failed; run certs rotate-ca again to resume from this phase`);
          return code;
        }
      }
      if (state.phase === 'trust' && state.cas.includes(CA.cluster) && kubernetes) {
        const next = await readFile(path.join(cluster.pkiDir, `${CA.cluster}.next.crt`), 'utf8');
        await replacePods(cluster, next, say);
      }
      state = { ...state, rolledOut: true };
      await writeRotation(cluster.pkiDir, state);
    }
    state = await advanceRotation(cluster.pkiDir, state);
  }
  say(`done: ${cas.join(', ')} rotated; the old CAs are gone from pki/ and from every host`);
  return 0;
}
