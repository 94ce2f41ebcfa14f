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
