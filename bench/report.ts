/**
 * Turns the measurements into docs/benchmarks.md: medians, ratios, the issue's targets with what was
 * measured against each, memory at 20 hosts, the machine and Ansible's settings.
 */
import type { MachineInfo, Measurement } from './tools.js';
import type { Tool, Workload } from './workloads.js';

export type Phase = 'first apply' | 'no-change re-run' | 'run' | '1-task twin';

export interface PhaseResult {
  phase: Phase;
  runs: Record<Tool, Measurement[]>;
}

export interface WorkloadResult {
  workload: Workload;
  phases: PhaseResult[];
  /** Whether both tools left every host with the same /bench (after every run). */
  sameState: boolean;
}

export interface RunInfo extends MachineInfo {
  ansible: string;
  ansibleSettings: string;
  runs: number;
  /** The soft limit on open files the tools ran under. */
  openFiles: string;
  command: string;
  durationMin: number;
}

export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

const TOOLS: Tool[] = ['ansible', 'furrow'];
/** The 30-file-task workload at 5, 20 and 100 hosts: how the cost grows with the hosts. */
const FILE_WORKLOADS = [1, 2, 5];
const s2 = (n: number): string => n.toFixed(2);
const med = (p: PhaseResult, tool: Tool, key: keyof Measurement = 'wallS'): number =>
  median(p.runs[tool].map((m) => m[key]));

function phaseOf(results: WorkloadResult[], id: number, phase: Phase): PhaseResult | undefined {
  return results.find((r) => r.workload.id === id)?.phases.find((p) => p.phase === phase);
}

function resultsTable(results: WorkloadResult[]): string[] {
  const rows = [
    '| # | Workload | Phase | Ansible (s) | Furrow (s) | Furrow/Ansible | Furrow faster by | Ansible CPU (s) | ' +
      'Furrow CPU (s) | Same end state |',
    '|---|---|---|---:|---:|---:|---:|---:|---:|---|',
  ];
  for (const r of results) {
    for (const p of r.phases) {
      const [a, f] = TOOLS.map((t) => med(p, t)) as [number, number];
      rows.push(
        `| ${r.workload.id} | ${r.workload.title} | ${p.phase} | ${s2(a)} | ${s2(f)} | ${(f / a).toFixed(3)} | ` +
          `${(a / f).toFixed(1)}x | ${s2(med(p, 'ansible', 'cpuS'))} | ${s2(med(p, 'furrow', 'cpuS'))} | ` +
          `${r.sameState ? 'yes' : '**NO**'} |`,
      );
    }
  }
  return rows;
}

function allRuns(results: WorkloadResult[]): string[] {
  const rows = ['| # | Phase | Ansible runs (s) | Furrow runs (s) |', '|---|---|---|---|'];
  for (const r of results) {
    for (const p of r.phases)
      rows.push(
        `| ${r.workload.id} | ${p.phase} | ${p.runs.ansible.map((m) => s2(m.wallS)).join(', ')} | ` +
          `${p.runs.furrow.map((m) => s2(m.wallS)).join(', ')} |`,
      );
  }
  return rows;
}

/** Each target of the issue, what was measured, and whether it was met. */
function targets(results: WorkloadResult[]): string[] {
  const lines: string[] = [];
  const verdict = (ok: boolean): string => (ok ? 'met' : '**missed**');
  const speedup = (p: PhaseResult): number => med(p, 'ansible') / med(p, 'furrow');
  const rerun1 = phaseOf(results, 1, 'no-change re-run');
  if (rerun1)
    lines.push(
      `- Workload 1, no-change re-run, at least 20x faster ` +
        `(about 1 s or less): ${speedup(rerun1).toFixed(1)}x, ${s2(med(rerun1, 'furrow'))} s: ` +
        `${verdict(speedup(rerun1) >= 20)}.`,
    );
  const first1 = phaseOf(results, 1, 'first apply');
  if (first1)
    lines.push(
      `- Workload 1, first apply, at ` +
        `least 10x faster: ${speedup(first1).toFixed(1)}x, ${s2(med(first1, 'furrow'))} s: ` +
        `${verdict(speedup(first1) >= 10)}.`,
    );
  for (const phase of ['first apply', 'no-change re-run'] as const) {
    const [at5, at20] = [phaseOf(results, 1, phase), phaseOf(results, 2, phase)];
    if (!at5 || !at20) continue;
    const growth = (tool: Tool, key: keyof Measurement = 'wallS'): number => med(at20, tool, key) / med(at5, tool, key);
    lines.push(
      `- Workload 2 (${phase}), Furrow grows far less than linearly from 5 to 20 hosts (4x the hosts; judged here as ` +
        `under 2x the time): ` +
        `Furrow took ${growth('furrow').toFixed(2)}x as long, Ansible ${growth('ansible').toFixed(2)}x: ` +
        `${verdict(growth('furrow') < 2)}. ` +
        `Furrow's own CPU grew ${growth('furrow', 'cpuS').toFixed(2)}x, the whole machine's (Furrow ` +
        `and the hosts) ${growth('furrow', 'machineCpuS').toFixed(2)}x (see "Where the CPU goes").`,
    );
  }
  const slow = phaseOf(results, 3, 'run');
  if (slow)
    lines.push(
      `- Workload 3, within 3 s of one slow chain (2 s), where linear Ansible needs ` +
        `about 20 s: Furrow ${s2(med(slow, 'furrow'))} s, Ansible ${s2(med(slow, 'ansible'))} s: ` +
        `${verdict(med(slow, 'furrow') <= 5)}.`,
    );
  lines.push(...perTask(results, verdict));
  const [first100, rerun100] = [phaseOf(results, 5, 'first apply'), phaseOf(results, 5, 'no-change re-run')];
  if (first100 && rerun100) {
    const rss = Math.max(med(first100, 'furrow', 'maxRssMb'), med(rerun100, 'furrow', 'maxRssMb'));
    lines.push(
      `- Workload 5 (100 hosts), no-change re-run at most 4 s: ${s2(med(rerun100, 'furrow'))} s ` +
        `(Ansible ${s2(med(rerun100, 'ansible'))} s): ${verdict(med(rerun100, 'furrow') <= 4)}.`,
      `- Workload 5, first apply at most 8 s: ${s2(med(first100, 'furrow'))} s (Ansible ` +
        `${s2(med(first100, 'ansible'))} s): ${verdict(med(first100, 'furrow') <= 8)}.`,
      `- Workload 5, controller peak RSS at most 150 MB: ${rss.toFixed(0)} MB: ${verdict(rss <= 150)}.`,
    );
  }
  return lines;
}

/** Workload 4: controller CPU per no-op task, whole run over 100 and the marginal cost (100 vs 1 task). */
function perTask(results: WorkloadResult[], verdict: (ok: boolean) => string): string[] {
  const [full, twin] = [phaseOf(results, 4, 'run'), phaseOf(results, 4, '1-task twin')];
  if (!full || !twin) return [];
  const ms = (tool: Tool, key: keyof Measurement) => ((med(full, tool, key) - med(twin, tool, key)) / 99) * 1000;
  const whole = (tool: Tool) => (med(full, tool, 'cpuS') / 100) * 1000;
  return [
    `- Workload 4, under 5 ms of controller time per ` +
      `no-op task: Furrow ${ms('furrow', 'cpuS').toFixed(2)} ms CPU per extra task ` +
      `(the 100-task run's CPU less the 1-task ` +
      `run's, over 99; ${whole('furrow').toFixed(1)} ms if start-up is spread over the 100), ` +
      `${ms('furrow', 'wallS').toFixed(1)} ms wall per extra task; Ansible ${ms('ansible', 'cpuS').toFixed(1)} ms ` +
      `CPU and ${ms('ansible', 'wallS').toFixed(1)} ms wall per extra task: ${verdict(ms('furrow', 'cpuS') < 5)}.`,
  ];
}

/**
 * Workloads 1 and 2 by CPU: the tool's own, and the whole machine's, which adds the lab hosts'
 * sshd and commands (they share the controller's cores). Shows what grows with the hosts.
 */
function cpuTable(results: WorkloadResult[], cores: number): string[] {
  const rows = [
    '| Hosts | Phase | Tool | Wall (s) | Tool CPU (s) | Machine CPU (s) | Machine less tool, per host ' +
      '(ms) | Cores busy |',
    '|---:|---|---|---:|---:|---:|---:|---:|',
  ];
  for (const r of results.filter((w) => FILE_WORKLOADS.includes(w.workload.id))) {
    for (const p of r.phases) {
      for (const tool of TOOLS) {
        const [wall, own, machine] = [med(p, tool), med(p, tool, 'cpuS'), med(p, tool, 'machineCpuS')];
        const perHost = ((machine - own) / r.workload.hosts.length) * 1000;
        rows.push(
          `| ${r.workload.hosts.length} | ${p.phase} | ${tool} | ${s2(wall)} | ${s2(own)} | ${s2(machine)} | ` +
            `${perHost.toFixed(0)} | ${(machine / wall).toFixed(2)} of ${cores} |`,
        );
      }
    }
  }
  return rows;
}

function memory(results: WorkloadResult[]): string[] {
  const rows = ['| Hosts | Phase | Ansible peak RSS (MB) | Furrow peak RSS (MB) |', '|---:|---|---:|---:|'];
  for (const r of results.filter((w) => w.workload.id === 2 || w.workload.id === 5))
    for (const p of r.phases)
      rows.push(
        `| ${r.workload.hosts.length} | ${p.phase} | ${med(p, 'ansible', 'maxRssMb').toFixed(0)} | ` +
          `${med(p, 'furrow', 'maxRssMb').toFixed(0)} |`,
      );
  return rows.length > 2 ? rows : ['Workloads 2 and 5 were not run.'];
}

/**
 * Furrow's cost per host as the hosts grow (workloads 1, 2 and 5), and what it says of 1,000 hosts: the slope
 * from 20 to 100 hosts of wall time, controller CPU and peak RSS, carried on to 1,000.
 */
function scaling(results: WorkloadResult[]): string[] {
  const runs = FILE_WORKLOADS.map((id) => results.find((r) => r.workload.id === id)).filter((r) => r !== undefined);
  if (runs.length < 2) return ['Run workloads 1, 2 and 5 to see it.'];
  const rows = [
    "| Hosts | Phase | Wall (s) | Controller CPU (s) | Hosts' CPU (s) | Peak RSS (MB) | CPU per host (ms) |",
    '|---:|---|---:|---:|---:|---:|---:|',
  ];
  for (const r of runs)
    for (const p of r.phases) {
      const [own, machine] = [med(p, 'furrow', 'cpuS'), med(p, 'furrow', 'machineCpuS')];
      rows.push(
        `| ${r.workload.hosts.length} | ${p.phase} | ${s2(med(p, 'furrow'))} | ${s2(own)} | ${s2(machine - own)} | ` +
          `${med(p, 'furrow', 'maxRssMb').toFixed(0)} | ${((own / r.workload.hosts.length) * 1000).toFixed(1)} |`,
      );
    }
  const [small, large] = [runs.at(-2)!, runs.at(-1)!];
  const added = large.workload.hosts.length - small.workload.hosts.length;
  const lines = ['', ...rows, ''];
  for (const phase of ['first apply', 'no-change re-run'] as const) {
    const [a, b] = [small.phases.find((p) => p.phase === phase), large.phases.find((p) => p.phase === phase)];
    if (!a || !b) continue;
    const slope = (key: keyof Measurement) => (med(b, 'furrow', key) - med(a, 'furrow', key)) / added;
    const at1000 = (key: keyof Measurement) =>
      med(b, 'furrow', key) + slope(key) * (1000 - large.workload.hosts.length);
    lines.push(
      `- ${phase}, from ${small.workload.hosts.length} to ${large.workload.hosts.length} hosts, each added host ` +
        `cost ${(slope('wallS') * 1000).toFixed(1)} ms of wall time, ${(slope('cpuS') * 1000).toFixed(1)} ms of ` +
        `controller CPU and ${(slope('maxRssMb') * 1024).toFixed(0)} KB of controller memory; carried on to 1,000 ` +
        `hosts: about ${at1000('wallS').toFixed(0)} s, ${at1000('cpuS').toFixed(0)} s of controller CPU, ` +
        `${at1000('maxRssMb').toFixed(0)} MB.`,
    );
  }
  return lines;
}

/** A report's first table: the machine, its load at the start, Node, the other `tools` (name, version), Furrow. */
export function runTable(info: MachineInfo, tools: Array<[string, string]> = [], loadNote?: string): string[] {
  return [
    '| Run | |',
    '|---|---|',
    `| Machine | ${info.machine} |`,
    `| Kernel | ${info.kernel} |`,
    `| Load average at start | ${info.loadAverage}${loadNote ? ` (${loadNote})` : ''} |`,
    `| Speed at start | ${info.speed} |`,
    `| Node | ${info.node} |`,
    ...tools.map(([name, version]) => `| ${name} | ${version} |`),
    `| Furrow | ${info.furrow} |`,
  ];
}

export function renderReport(info: RunInfo, results: WorkloadResult[]): string {
  return [
    '# Benchmarks: Furrow against Ansible',
    '',
    `Written by \`${info.command}\` (bench/run.ts) on ${info.date}; the whole run took ` +
      `${info.durationMin.toFixed(1)} min. It is not part of the tests or CI: timings are measured here, ` +
      `never asserted.`,
    'Both tools run the same workload against the same lab hosts (`furrow lab up --packages python3`: Ansible needs ' +
      'python3 on its targets),',
    `alternating Ansible, Furrow, ` +
      `Ansible, Furrow, ${info.runs} runs each; the figures are medians of wall time as the controller sees it, ` +
      `process start to exit.`,
    "Before every timed first apply the hosts are reset (`rm -rf /bench`); after every run each host's /bench " +
      '(paths, types, modes, sizes, owners, content hashes) is compared with the first run\'s: "same end state" ' +
      'means every run of both tools left every host identical.',
    "Workload 6, Furrow's `deploy all` on the lab cluster, writes its own report: " +
      "[benchmarks-cluster.md](benchmarks-cluster.md); so does workload 7, kubeasz's steps 01 and 02 against " +
      "Furrow's: [benchmarks-kubeasz.md](benchmarks-kubeasz.md).",
    '',
    ...runTable(
      info,
      [['Ansible', `${info.ansible} (Debian's package)`]],
      'the machine is shared: other work may run beside the benchmark',
    ),
    '',
    '## Results (medians)',
    '',
    ...resultsTable(results),
    '',
    'CPU is user + system time of the tool and every child process it waited for, on the controller (GNU time). For ' +
      'Ansible this leaves out the ssh ControlPersist masters (they detach) and, for both tools, everything the ' +
      'hosts do: the lab hosts share the same two cores.',
    '',
    '## Targets (from the issue)',
    '',
    ...targets(results),
    '',
    '## Where the CPU goes (workloads 1, 2 and 5)',
    '',
    ...cpuTable(results, info.cores),
    '',
    'Machine CPU is what the whole machine spent during the run (/proc/stat: user, nice, system, irq, softirq), ' +
      "medians like the rest. Less the tool's own CPU it is mostly the lab hosts: their sshd (every run starts with " +
      "a handshake per host), the shells and the commands the tool runs there, which share the controller's cores. " +
      'For Ansible it also holds its detached ssh ControlPersist masters. "Cores busy" is machine CPU over wall time.',
    '',
    '## Controller memory at 20 and 100 hosts (workloads 2 and 5)',
    '',
    ...memory(results),
    '',
    'Peak RSS is GNU time\'s "Maximum resident set size": the largest single process of the run. Furrow is one ' +
      'process. Ansible forks a worker per host (forks = 20) plus an ssh client each; that figure is one of them or ' +
      'the parent, not their sum.',
    '',
    "## How Furrow's cost grows with the hosts: 5, 20, 100",
    '',
    'Workloads 1, 2 and 5 (the same 30 file tasks per host), Furrow alone, medians. "Hosts\' CPU" is the whole ' +
      "machine's CPU less Furrow's: the lab hosts' sshd, shells and commands, which run on the controller's two " +
      'cores here (on real hosts it is spread over them). "CPU per host" is controller CPU over hosts.',
    ...scaling(results),
    '',
    "Here the wall time follows the whole machine's CPU (cores busy near 2 of 2 at 100 hosts): the lab hosts' work " +
      "shares the controller's two cores, so the wall slope above is mostly theirs. On real hosts that work runs on " +
      'the hosts, and what grows on the controller is its own CPU per host (the CPU slope), spent mostly on one ' +
      "thread (Node's event loop: the SSH sessions' crypto and the engine).",
    '',
    'What bounds it at 1,000 hosts, by design rather than by measurement: one SSH connection per host, opened at ' +
      'the start of the run (forks default to every host), so the controller holds one TCP socket, one file ' +
      "descriptor, per host: 1,000 hosts need a `ulimit -n` above about 1,050 (many systems' default soft limit is " +
      "1,024; this machine's is " +
      `${info.openFiles}). ` +
      "Every host's handshake (a key exchange, CPU on both ends) starts at once, so at 1,000 hosts they queue on the " +
      "controller's cores (`--forks N` spreads them over the run). Memory is per-host " +
      "state (the connection's buffers, facts, results), the slope above. A run that changes nothing is a batch of " +
      'probes per host and no transfers, so its cost per host is the handshake and one round trip per batch.',
    '',
    '## Every run (wall seconds, in order)',
    '',
    ...allRuns(results),
    '',
    '## Settings',
    '',
    "Ansible, tuned: pipelining on, ControlPersist (masters stay up between runs, so Ansible's later runs skip the " +
      "SSH handshake, which Furrow does every run), forks = the workload's hosts (`--forks N`), `gather_facts: " +
      "false`, a fixed `interpreter_python` (no discovery), the lab's known_hosts checked strictly, the lab's key " +
      'from its inventory (`ansible_ssh_private_key_file`). `ansible-config dump --only-changed -t all` (connection ' +
      'plugin settings included):',
    '',
    '```',
    info.ansibleSettings,
    '```',
    '',
    'Furrow: `furrow run PLAYBOOK -i INVENTORY --limit HOSTS` with its defaults (forks = every host of the play, one ' +
      'SSH connection per host, journal written).',
    '',
    '## Workloads',
    '',
    'Each is written once as an Ansible playbook and once as a Furrow playbook in bench/workloads.ts; the host set ' +
      "is chosen with `--limit` on the lab's inventory, which both tools read as it is.",
    '',
    '1. 30 tasks per host: 10 directories (`file`), 10 small files with content (`copy`), 10 lines in one file ' +
      '(`lineinfile`), on 5 hosts: the first apply on reset hosts, then the no-change re-run.',
    '2. The same on 20 hosts.',
    '3. 10 hosts x 10 `shell` tasks: on task i only host hi runs (sleeps 2 s, writes a marker), the others skip it. ' +
      "Ansible's linear strategy waits for the slowest host on every task; Furrow's hosts do not wait for each other.",
    '4. One host, 100 `file: state=directory` tasks on a directory that is already as asked (a real probe, no ' +
      'change), and its 1-task twin to separate the per-task cost from start-up.',
    '5. Workload 1 on 100 hosts. Ansible runs once here (a run of it takes minutes at 100 hosts), Furrow as ' +
      'often as elsewhere.',
    "6. Furrow's `deploy all` on the lab cluster, first and no-change runs with each step's time, Furrow only: " +
      'bench/cluster.ts, reported in [benchmarks-cluster.md](benchmarks-cluster.md).',
    "7. kubeasz's own steps 01 (prepare) and 02 (etcd), run offline from a kubeasz checkout (`--kubeasz DIR`), " +
      "against Furrow's `deploy 01` and `deploy 02` on identical fresh hosts: bench/kubeasz.ts, reported in " +
      '[benchmarks-kubeasz.md](benchmarks-kubeasz.md).',
    '',
  ].join('\n');
}
