/**
 * Turns the cluster benchmark's runs into docs/benchmarks-cluster.md: medians of each phase, each
 * step's time within it, and every run.
 */
import { median, runTable } from './report.js';
import type { MachineInfo } from './tools.js';

export type ClusterPhase = 'first deploy all' | 'no-change deploy all';
export const CLUSTER_PHASES: ClusterPhase[] = ['first deploy all', 'no-change deploy all'];

export interface ClusterRun {
  phase: ClusterPhase;
  wallS: number;
  cpuS: number;
  maxRssMb: number;
  machineCpuS: number;
  /** CPU the lab hosts spent during the run (their cgroups): services, sshd sessions, commands. */
  hostsCpuS: number;
  /** The hosts' CPU over as long as the run, right after it, with no tool running (no-change runs). */
  idleHostsCpuS?: number;
  changed: number;
  /** Seconds from the step's first play's start to its last play's end ("01 prepare": 3.1). */
  steps: Record<string, number>;
  /** First deploys: Kubernetes' own waits, from the first host's journal (parseKubeWaits). */
  kubeWaits?: KubeWaits;
}

/** Where a first deploy waits for Kubernetes itself, in seconds, from one host's journal. */
export interface KubeWaits {
  /** The kubelet: its unit started, to its "Started kubelet". */
  kubeletStartS: number;
  /** Of that, cAdvisor asking docker for its root folder: 5 tries 1 s apart when there is no docker. */
  cadvisorDockerS: number;
  /** The controller-manager: its node IPAM started, to its range allocator (a 10-s wait.Poll first). */
  ipamWaitS: number;
  /** The node registered, to its podCIDR set. */
  registeredToPodCidrS: number;
  /** The podCIDR set, to the kubelet recording NodeReady. */
  podCidrToReadyS: number;
}

/**
 * Kubernetes' own waits from `journalctl -o short-unix -u kubelet -u kube-controller-manager` on
 * `node` (a master that is also a node): the first time each line was logged, that is, the first
 * deploy. Undefined when a line is missing (another version logs otherwise).
 */
export function parseKubeWaits(journal: string, node: string): KubeWaits | undefined {
  const marks: Record<string, RegExp> = {
    kubeletUnit: /systemd\[1\]: Started kubelet\.service/,
    cadvisorIn: /kubelet\[\d+\]: .*cAdvisor running in container/,
    cadvisorOut: /kubelet\[\d+\]: .*Filesystem UUIDs/,
    kubeletStarted: /kubelet\[\d+\]: .*\] Started kubelet$/,
    registered: new RegExp(`kubelet\\[\\d+\\]: .*Successfully registered node ${node}$`),
    ipam: /kube-controller-manager\[\d+\]: .*node_ipam_controller\.go:\d+\] Sending events to api server/,
    allocator: /kube-controller-manager\[\d+\]: .*Starting range CIDR allocator/,
    podCidr: new RegExp(`kube-controller-manager\\[\\d+\\]: .*Set node ${node} PodCIDR`),
    ready: new RegExp(`kubelet\\[\\d+\\]: .*Recording NodeReady event message for node ${node}$`),
  };
  const at: Record<string, number> = {};
  for (const line of journal.split('\n')) {
    const time = Number(/^(\d+\.\d+) /.exec(line)?.[1]);
    if (!Number.isFinite(time)) continue;
    for (const [name, re] of Object.entries(marks)) if (at[name] === undefined && re.test(line)) at[name] = time;
  }
  if (Object.keys(marks).some((name) => at[name] === undefined)) return undefined;
  const span = (from: string, to: string) => at[to]! - at[from]!;
  return {
    kubeletStartS: span('kubeletUnit', 'kubeletStarted'),
    cadvisorDockerS: span('cadvisorIn', 'cadvisorOut'),
    ipamWaitS: span('ipam', 'allocator'),
    registeredToPodCidrS: span('registered', 'podCidr'),
    podCidrToReadyS: span('podCidr', 'ready'),
  };
}

/** Kubernetes' fixed waits in the first deploys, and what they hold up. */
function kubeWaits(runs: ClusterRun[]): string[] {
  const waits = runs.flatMap((r) => (r.kubeWaits ? [r.kubeWaits] : []));
  if (!waits.length) return [];
  const med = (key: keyof KubeWaits) => s2(median(waits.map((w) => w[key])));
  return [
    '## Where a first deploy waits for Kubernetes itself (medians, the master h1)',
    '',
    `From h1's journal after each first deploy (${waits.length} of them):`,
    '',
    '| | s |',
    '|---|---:|',
    `| the kubelet: its unit started, to "Started kubelet" | ${med('kubeletStartS')} |`,
    `| of that, cAdvisor asking docker for its root folder (no docker here) | ${med('cadvisorDockerS')} |`,
    `| the controller-manager: its node IPAM started, to its range allocator | ${med('ipamWaitS')} |`,
    `| the node registered, to its podCIDR set | ${med('registeredToPodCidrS')} |`,
    `| the podCIDR set, to the kubelet recording NodeReady | ${med('podCidrToReadyS')} |`,
    '',
    "Two fixed waits of Kubernetes v1.20.2 are on every first deploy's path, whatever tool runs it. The " +
      "kubelet's cAdvisor asks docker for its root folder 5 times, 1 s apart, before it goes on without it " +
      '(rootDirRetries in vendor/github.com/google/cadvisor/container/docker/factory.go), so a kubelet on ' +
      'containerd registers its node about 5 s after it could. The controller-manager lists the nodes for its ' +
      'podCIDR allocator only after a first 10-s interval (wait.Poll in ' +
      'pkg/controller/nodeipam/ipam/cidr_allocator.go), and no node gets a podCIDR before that. Step 05 waits ' +
      "for each node's podCIDR and then for Ready, which the kubelet reports on its 10-s status cycle.",
    '',
  ];
}

export interface ClusterInfo extends MachineInfo {
  runs: number;
  hosts: number;
  durationMin: number;
}

const s2 = (n: number): string => n.toFixed(2);

/** Every step seen in any run, in step order (their names start with the step's number). */
function stepNames(runs: ClusterRun[]): string[] {
  return [...new Set(runs.flatMap((r) => Object.keys(r.steps)))].sort();
}

function phaseTable(runs: ClusterRun[]): string[] {
  const rows = [
    '| Phase | Wall (s) | Furrow CPU (s) | Machine CPU (s) | Peak RSS (MB) | Tasks changed |',
    '|---|---:|---:|---:|---:|---:|',
  ];
  for (const phase of CLUSTER_PHASES) {
    const of = runs.filter((r) => r.phase === phase);
    if (!of.length) continue;
    const med = (key: 'wallS' | 'cpuS' | 'machineCpuS' | 'maxRssMb' | 'changed') => median(of.map((r) => r[key]));
    rows.push(
      `| ${phase} | ${s2(med('wallS'))} | ${s2(med('cpuS'))} | ${s2(med('machineCpuS'))} | ` +
        `${med('maxRssMb').toFixed(0)} | ${med('changed')} |`,
    );
  }
  return rows;
}

/**
 * Where the no-change run's CPU went, and how busy that kept the machine: when the machine is busy
 * all the run long, the run's wall time is its CPU divided by the cores, whoever spends it.
 */
function cpuBudget(runs: ClusterRun[], cores: number): string[] {
  const of = runs.filter((r) => r.phase === 'no-change deploy all' && r.idleHostsCpuS !== undefined);
  if (!of.length) return [];
  const med = (f: (r: ClusterRun) => number) => median(of.map(f));
  const wall = med((r) => r.wallS);
  const furrowCpu = med((r) => r.cpuS);
  const hosts = med((r) => r.hostsCpuS);
  const idle = med((r) => r.idleHostsCpuS!);
  const machine = med((r) => r.machineCpuS);
  const busy = med((r) => r.machineCpuS / (r.wallS * cores));
  return [
    "## Where a no-change deploy all's CPU goes (medians)",
    '',
    '| | CPU (s) |',
    '|---|---:|',
    `| Furrow, the controller | ${s2(furrowCpu)} |`,
    `| the lab hosts (their cgroups): services, sshd sessions, commands | ${s2(hosts)} |`,
    `| of that, the hosts' own background: the same hosts as long right after, no tool running | ${s2(idle)} |`,
    `| the whole machine (/proc/stat) | ${s2(machine)} |`,
    `| the machine's capacity: wall x ${cores} cores | ${s2(wall * cores)} |`,
    '',
    `The machine was busy ${(busy * 100).toFixed(0)}% of the run (median of the runs). The controller and the ` +
      `lab's hosts share its ${cores} cores, so the run is bound by CPU: the work the run causes, ` +
      `${s2(machine - idle)} s of CPU, takes at least ${s2((machine - idle) / cores)} s on ${cores} cores, ` +
      'however it is scheduled. A faster no-change run here has to cause less work: fewer processes on the ' +
      'hosts, less CPU in the controller.',
    '',
  ];
}

function stepTable(runs: ClusterRun[]): string[] {
  const phases = CLUSTER_PHASES.filter((p) => runs.some((r) => r.phase === p));
  const rows = [
    `| Step | ${phases.map((p) => `${p} (s)`).join(' | ')} |`,
    `|---|${phases.map(() => '---:').join('|')}|`,
  ];
  for (const step of stepNames(runs)) {
    const cells = phases.map((phase) => {
      const times = runs.filter((r) => r.phase === phase && r.steps[step] !== undefined).map((r) => r.steps[step]!);
      return times.length ? s2(median(times)) : '';
    });
    rows.push(`| ${step} | ${cells.join(' | ')} |`);
  }
  return rows;
}

function everyRun(runs: ClusterRun[]): string[] {
  const steps = stepNames(runs);
  return [
    `| Phase | Wall (s) | ${steps.join(' | ')} |`,
    `|---|---:|${steps.map(() => '---:').join('|')}|`,
    ...runs.map((r) => {
      const cells = steps.map((s) => (r.steps[s] === undefined ? '' : s2(r.steps[s]!)));
      return `| ${r.phase} | ${s2(r.wallS)} | ${cells.join(' | ')} |`;
    }),
  ];
}

export function renderClusterReport(info: ClusterInfo, runs: ClusterRun[]): string {
  return [
    "# Benchmark: Furrow's deploy all on the lab cluster",
    '',
    `Written by workload 6 of \`npm run bench\` (alone: \`npm run bench:cluster\`; bench/cluster.ts) on ` +
      `${info.date}; the whole run took ${info.durationMin.toFixed(1)} min. Timings are measured here, never ` +
      'asserted in a test. Furrow only: Ansible is measured against Furrow on the file workloads of ' +
      "[benchmarks.md](benchmarks.md), and kubeasz's steps 01 and 02 on " +
      '[benchmarks-kubeasz.md](benchmarks-kubeasz.md); kubeasz is not run here.',
    '',
    `Each of the ${info.runs} rounds boots ${info.hosts} fresh lab hosts, makes the cluster folder as ` +
      '[lab.md](lab.md) does (`furrow new DIR --from-lab NAME`: the lab bundle preloaded, untimed), then times ' +
      '`furrow deploy all -i DIR --json` twice: the first run, from hosts that never had Kubernetes, to a cluster ' +
      'whose nodes are Ready with its add-ons applied, and a run right after it, which must change nothing. The ' +
      "cluster is the lab's: one master, every host a node and an etcd member, containerd, the routes network, " +
      "the add-ons' manifests (their images cannot be fetched in the lab, so their pods never run).",
    '',
    ...runTable(info),
    '',
    '## Medians',
    '',
    ...phaseTable(runs),
    '',
    'Wall is process start to exit as the controller sees it. Furrow CPU is user + system time of the furrow ' +
      'process (GNU time); machine CPU is what the whole machine spent meanwhile (/proc/stat), mostly the lab ' +
      "hosts' own work (etcd, the apiserver, kubelets, their sshd and commands), which shares the controller's " +
      `${info.cores} cores here.`,
    '',
    ...cpuBudget(runs, info.cores),
    ...kubeWaits(runs),
    '## Steps (medians)',
    '',
    'A step is one playbook of `deploy all`. `deploy all` runs its steps as one graph, so a host goes on to the ' +
      "next step's tasks while others finish theirs: steps overlap, and their times add up to more than the " +
      "wall time. A step's time runs from its first play's start to its last play's end, as the controller " +
      'receives the events.',
    '',
    ...stepTable(runs),
    '',
    '## Every run (wall and step seconds, in order)',
    '',
    ...everyRun(runs),
    '',
  ].join('\n');
}
