import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Reporter, RunEvent } from '../engine/events.js';
import type { CertStatus } from '../pki/check.js';
import { checkClusterCerts } from './certs.js';
import { clusterVars, loadClusterWithHosts, type Cluster } from './cluster.js';
import { deployCluster } from './deploy.js';
import { etcdHosts, TaskResults } from './etcd-backup.js';
import { apiGet, readKubeconfig } from './kube-api.js';
import { clusterRunsDir, PACKAGE_PLAYBOOKS, runOnCluster, type ClusterRunOptions } from './run.js';
import { availableSteps } from './steps.js';

/** The playbook of `furrow cluster status`, and the tasks of roles/etcd/tasks/status.yml whose output it reads. */
export const STATUS_PLAYBOOK = path.join(PACKAGE_PLAYBOOKS, 'cluster-status.yml');
const MEMBER_STATUS_TASK = "Report this member's status";
const MEMBER_HEALTH_TASK = "Report this member's health";

export interface ApiState {
  server: string;
  /** /readyz answered `ok`. */
  ready: boolean;
  /** The server's version (`/version`'s gitVersion), or why the API could not be asked. */
  detail: string;
}

export interface NodeRow {
  name: string;
  ready: boolean;
  roles: string;
  version: string;
  address: string;
}

export interface EtcdMemberState {
  host: string;
  healthy: boolean;
  version?: string;
  dbSizeBytes?: number;
  leader?: boolean;
  /** What the member said when it did not answer, or that the host was not reached. */
  problem?: string;
}

export interface CertSummary {
  total: number;
  /** Certificates that are not `ok`, with where they are. */
  attention: Array<{ name: string; where: string; status: CertStatus; daysLeft: number }>;
  /** The certificate that expires first. */
  soonest?: { name: string; where: string; notAfter: string; daysLeft: number };
}

export interface LastDeploy {
  at: string;
  steps: string[];
  journal: string;
  /** False when the journal has no end: the run was killed or is still going. */
  finished: boolean;
  durationMs?: number;
  failedHosts: string[];
  unreachableHosts: string[];
}

export interface Drift {
  /** The steps checked: those this folder's deploys have run (per the journals), else all. */
  steps: string[];
  /** Per host, the tasks a deploy would change now. */
  changes: Record<string, string[]>;
  unreachable: string[];
  failed: string[];
}

export interface ClusterStatus {
  cluster: string;
  api: ApiState;
  nodes: NodeRow[];
  etcd: EtcdMemberState[];
  certificates: CertSummary;
  lastDeploy?: LastDeploy;
  drift?: Drift;
}

/** Whether the cluster needs the operator: the command's exit status 1 when it does. */
export function needsAttention(s: ClusterStatus): boolean {
  return (
    !s.api.ready ||
    s.nodes.some((n) => !n.ready) ||
    s.etcd.some((m) => !m.healthy) ||
    s.certificates.attention.length > 0 ||
    (s.drift !== undefined &&
      (Object.keys(s.drift.changes).length > 0 || s.drift.unreachable.length > 0 || s.drift.failed.length > 0))
  );
}

/** A Node as the API returns it, the fields Furrow reads. */
export interface KubeNode {
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: { unschedulable?: boolean };
  status: {
    conditions?: Array<{ type: string; status: string }>;
    nodeInfo?: { kubeletVersion?: string };
    addresses?: Array<{ type: string; address: string }>;
  };
}

/** Its Ready condition is True. */
export const isReady = (node: KubeNode): boolean =>
  node.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;

/** A Node as `kubectl get nodes` shows it: its roles from kubeasz's label and node-role.kubernetes.io/* labels. */
export function nodeRow(node: KubeNode): NodeRow {
  const labels = node.metadata.labels ?? {};
  const roles = new Set(
    Object.keys(labels)
      .filter((k) => k.startsWith('node-role.kubernetes.io/'))
      .map((k) => k.slice('node-role.kubernetes.io/'.length)),
  );
  if (labels['kubernetes.io/role']) roles.add(labels['kubernetes.io/role']);
  return {
    name: node.metadata.name,
    ready: isReady(node),
    roles: [...roles].sort().join(',') || '<none>',
    version: node.status.nodeInfo?.kubeletVersion ?? '',
    address: node.status.addresses?.find((a) => a.type === 'InternalIP')?.address ?? '',
  };
}

/** The API and its nodes, asked from the controller with the admin kubeconfig (verified TLS). */
async function askApi(cluster: Cluster): Promise<{ api: ApiState; nodes: NodeRow[] }> {
  const file = path.join(cluster.dir, 'kubeconfig');
  if (!existsSync(file))
    return { api: { server: '', ready: false, detail: `no ${file}: step 04 (master) has not run` }, nodes: [] };
  const access = readKubeconfig(file);
  try {
    const [readyz, version, nodes] = await Promise.all([
      apiGet(access, '/readyz'),
      apiGet(access, '/version'),
      apiGet(access, '/api/v1/nodes'),
    ]);
    const ready = readyz.status === 200 && readyz.body.trim() === 'ok';
    const gitVersion =
      version.status === 200 ? (JSON.parse(version.body) as { gitVersion?: string }).gitVersion : undefined;
    return {
      api: {
        server: access.server,
        ready,
        detail: ready
          ? (gitVersion ?? 'ready')
          : `/readyz: HTTP ${readyz.status} ${readyz.body.trim().split('\n').slice(-3).join('; ')}`,
      },
      nodes:
        nodes.status === 200
          ? (JSON.parse(nodes.body) as { items: KubeNode[] }).items
              .map(nodeRow)
              .sort((a, b) => a.name.localeCompare(b.name))
          : [],
    };
  } catch (err) {
    return { api: { server: access.server, ready: false, detail: (err as Error).message }, nodes: [] };
  }
}

const lastLine = (text: string | undefined) => text?.trim().split('\n').pop() || undefined;

/** One member's answers to `endpoint status -w json` and `endpoint health -w json`, as printed by status.yml. */
export function memberState(host: string, status: string | undefined, health: string | undefined): EtcdMemberState {
  if (status === undefined && health === undefined) return { host, healthy: false, problem: 'not reached' };
  const parsed = <T>(text: string | undefined): T | undefined => {
    try {
      // etcdctl prints its JSON on one line; warnings (on stderr, printed after it) follow.
      return text ? (JSON.parse(text.split('\n')[0]!) as T) : undefined;
    } catch {
      return undefined;
    }
  };
  const st =
    parsed<
      Array<{
        Status?: {
          version?: string;
          dbSize?: number;
          leader?: string | number;
          header?: { member_id?: string | number };
        };
      }>
    >(status)?.[0]?.Status;
  const he = parsed<Array<{ health?: boolean; error?: string }>>(health)?.[0];
  const healthy = he?.health === true;
  const leader =
    st?.leader !== undefined && st.header?.member_id !== undefined
      ? String(st.leader) === String(st.header.member_id)
      : undefined;
  return {
    host,
    healthy,
    ...(st?.version ? { version: st.version } : {}),
    ...(st?.dbSize !== undefined ? { dbSizeBytes: st.dbSize } : {}),
    ...(leader !== undefined ? { leader } : {}),
    ...(healthy ? {} : { problem: (he?.error ?? lastLine(health) ?? lastLine(status) ?? 'no answer').slice(0, 200) }),
  };
}

/**
 * Runs roles/etcd/tasks/status.yml on every member, quietly, and reads what each printed. In check
 * mode, which takes no host lock: a status is wanted most while something else is at work.
 */
export async function askEtcd(cluster: Cluster, members: string[], run: ClusterRunOptions): Promise<EtcdMemberState[]> {
  const status = new TaskResults(MEMBER_STATUS_TASK);
  const health = new TaskResults(MEMBER_HEALTH_TASK);
  await runOnCluster(
    cluster,
    [STATUS_PLAYBOOK],
    { ...run, check: true, reporters: [status, health] },
    clusterVars(cluster),
  );
  return members.map((m) => memberState(m, status.printed.get(m), health.printed.get(m)));
}

export function summarizeCerts(
  checks: Array<{ name: string; where: string; status: CertStatus; daysLeft: number; notAfter: string }>,
): CertSummary {
  const dated = checks.filter((c) => c.notAfter).sort((a, b) => a.daysLeft - b.daysLeft);
  const first = dated[0];
  return {
    total: checks.length,
    attention: checks
      .filter((c) => c.status !== 'ok')
      .map(({ name, where, status, daysLeft }) => ({ name, where, status, daysLeft })),
    ...(first
      ? { soonest: { name: first.name, where: first.where, notAfter: first.notAfter, daysLeft: first.daysLeft } }
      : {}),
  };
}

interface JournalHead {
  kind: string;
  playbook?: string;
  inventory?: string;
  check?: boolean;
  at?: string;
  recap?: Record<string, { failed: number; unreachable: number }>;
  durationMs?: number;
}

/**
 * The deploys of this cluster recorded in `runsDir` (the journals of `.furrow/runs`), newest first:
 * runs of step playbooks against its inventory, check-mode runs left out.
 */
export function clusterDeploys(runsDir: string, inventory: string, stepOf: Map<string, string>): LastDeploy[] {
  if (!existsSync(runsDir)) return [];
  const deploys: LastDeploy[] = [];
  for (const name of readdirSync(runsDir)
    .filter((n) => n.endsWith('.jsonl'))
    .sort()
    .reverse()) {
    const journal = path.join(runsDir, name);
    const lines = readFileSync(journal, 'utf8').trim().split('\n');
    let head: JournalHead;
    try {
      head = JSON.parse(lines[0]!) as JournalHead;
    } catch {
      continue;
    }
    if (head.kind !== 'run_start' || head.check || head.inventory !== inventory || !head.playbook) continue;
    const steps = head.playbook.split(',').map((p) => stepOf.get(p));
    if (steps.some((s) => s === undefined)) continue;
    let end: JournalHead | undefined;
    try {
      end = JSON.parse(lines[lines.length - 1]!) as JournalHead;
    } catch {
      end = undefined;
    }
    const recap = end?.kind === 'run_end' ? (end.recap ?? {}) : undefined;
    deploys.push({
      at: head.at ?? '',
      steps: steps as string[],
      journal,
      finished: recap !== undefined,
      ...(end?.kind === 'run_end' && end.durationMs !== undefined ? { durationMs: end.durationMs } : {}),
      failedHosts: Object.entries(recap ?? {})
        .filter(([, r]) => r.failed > 0)
        .map(([h]) => h),
      unreachableHosts: Object.entries(recap ?? {})
        .filter(([, r]) => r.unreachable > 0)
        .map(([h]) => h),
    });
  }
  return deploys;
}

/** Collects, per host, the tasks a check-mode run would change. */
class PlannedChanges implements Reporter {
  readonly changes: Record<string, string[]> = {};
  readonly unreachable = new Set<string>();
  readonly failed = new Set<string>();
  onEvent(event: RunEvent): void {
    if (event.kind !== 'task_result') return;
    if (event.status === 'changed') this.changes[event.host] = [...(this.changes[event.host] ?? []), event.task];
    if (event.status === 'unreachable') this.unreachable.add(event.host);
    if (event.status === 'failed' && !event.ignored) this.failed.add(event.host);
  }
}

export interface StatusOptions {
  run: ClusterRunOptions;
  /** Run the deploy in check mode to see whether the hosts drifted (default true). */
  drift?: boolean;
  /**
   * Where the journals are. Default: the cluster's `.furrow/runs`, and `.furrow/runs` under the
   * current folder, where deploys kept them before they went into the cluster's folder.
   */
  runsDir?: string;
}

/**
 * `furrow cluster status`: the API and its nodes (from the controller), each etcd member's status and
 * health (on the members), every certificate's expiry (folder and hosts), the last deploy from the
 * journals, and, with `drift`, what a deploy of the same steps would change now (a check-mode run).
 */
export async function clusterStatus(clusterDir: string, o: StatusOptions): Promise<ClusterStatus> {
  const { cluster, inventory } = await loadClusterWithHosts(clusterDir);
  const members = etcdHosts(cluster, inventory);
  const steps = availableSteps(PACKAGE_PLAYBOOKS);
  const stepOf = new Map(steps.map((s) => [path.resolve(s.playbook), s.name]));
  const folders = o.runsDir
    ? [o.runsDir]
    : [...new Set([clusterRunsDir(cluster.dir), path.resolve('.furrow', 'runs')])];
  const deploys = folders
    .flatMap((folder) => clusterDeploys(folder, path.resolve(cluster.inventory), stepOf))
    .sort((a, b) => b.at.localeCompare(a.at));

  const [{ api, nodes }, etcd, certs] = await Promise.all([
    askApi(cluster),
    askEtcd(cluster, members, o.run),
    checkClusterCerts(cluster),
  ]);
  const status: ClusterStatus = {
    cluster: cluster.dir,
    api,
    nodes,
    etcd,
    certificates: summarizeCerts(certs),
    ...(deploys[0] ? { lastDeploy: deploys[0] } : {}),
  };
  if (o.drift === false) return status;

  const deployed = new Set(deploys.flatMap((d) => d.steps));
  const checked = deployed.size ? steps.filter((s) => deployed.has(s.name)) : steps;
  const planned = new PlannedChanges();
  await deployCluster(cluster.dir, checked.map((s) => s.name).join(','), {
    ...o.run,
    check: true,
    reporters: [planned],
  });
  return {
    ...status,
    drift: {
      steps: checked.map((s) => s.name),
      changes: planned.changes,
      unreachable: [...planned.unreachable],
      failed: [...planned.failed],
    },
  };
}
