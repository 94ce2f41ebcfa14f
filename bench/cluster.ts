/**
 * Workload 6 of `npm run bench` (alone: `npm run bench:cluster`): Furrow's `deploy all` on the lab
 * cluster (3 hosts: one master, three nodes, etcd on all three), a first run on fresh hosts and then a
 * no-change run, with each step's time. Every round boots its own lab, so each first run starts from
 * hosts that never saw Kubernetes. Writes docs/benchmarks-cluster.md; the lab always goes down again.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import {
  CLUSTER_PHASES,
  type ClusterPhase,
  type ClusterRun,
  type KubeWaits,
  parseKubeWaits,
  renderClusterReport,
} from './cluster-report.js';
import { hostsCpuSince, labHostsCpuS, shutLab } from './lab.js';
import { describeMachine, FURROW_CLI, mustFurrow, outputTail, REPO, timedRun } from './tools.js';

const LAB = 'bench-k8s';
const HOSTS = 3;

export const CLUSTER_WORKLOAD = 6;

/** A fresh lab and its cluster folder (bundle preloaded), as docs/lab.md's four commands make them. */
async function freshCluster(cwd: string): Promise<string> {
  // The same name from the same folder: lab up takes down the previous round's hosts first.
  await mustFurrow(['lab', 'up', '--hosts', String(HOSTS), '--name', LAB], cwd);
  await mustFurrow(['lab', 'kubernetes'], cwd);
  const dir = path.join(cwd, 'cluster');
  await rm(dir, { recursive: true, force: true });
  await mustFurrow(['new', dir, '--from-lab', LAB], cwd);
  return dir;
}

/** The step (playbook) of every play index of a run, from the playbooks run_start names, in order. */
async function stepsOfPlays(playbooks: string[]): Promise<string[]> {
  const steps: string[] = [];
  for (const file of playbooks) {
    const plays = YAML.parse(await readFile(file, 'utf8')) as unknown[];
    const step = path.basename(file, '.yml').replace('.', ' ');
    for (let i = 0; i < plays.length; i++) steps.push(step);
  }
  return steps;
}

interface Event {
  kind: string;
  index?: number;
  playbook?: string;
  recap?: Record<string, { changed: number; failed: number; unreachable: number }>;
}

/**
 * One timed `deploy all --json` under GNU time. Each event line is stamped as it arrives; a step's
 * time is from its first play's start to its last play's end (steps overlap: deploy all is one graph).
 */
async function timedDeploy(clusterDir: string, cwd: string, phase: ClusterPhase, logFile: string): Promise<ClusterRun> {
  const hostsBefore = await labHostsCpuS(LAB);
  const started = performance.now();
  const stamped: Array<{ at: number; event: Event }> = [];
  let rest = '';
  const command = {
    cmd: process.execPath,
    args: [FURROW_CLI, 'deploy', 'all', '-i', clusterDir, '--json'],
    cwd,
    env: process.env,
  };
  const { output, ...cost } = await timedRun(command, logFile, (chunk) => {
    const at = (performance.now() - started) / 1000;
    const lines = (rest + chunk.toString()).split('\n');
    rest = lines.pop() ?? '';
    for (const line of lines) if (line.trim()) stamped.push({ at, event: JSON.parse(line) as Event });
  });
  const hostsCpuS = hostsCpuSince(hostsBefore, await labHostsCpuS(LAB));
  const code = output.code;
  const end = stamped.find((s) => s.event.kind === 'run_end')?.event;
  const hosts = Object.values(end?.recap ?? {});
  const bad = hosts.reduce((n, h) => n + h.failed + h.unreachable, 0);
  const changed = hosts.reduce((n, h) => n + h.changed, 0);
  if (code !== 0 || !end || bad > 0)
    throw new Error(`${phase} failed (exit ${code}, ${bad} failed/unreachable):${outputTail(output)}`);
  if (phase === 'no-change deploy all' && changed !== 0) throw new Error(`${phase} changed ${changed} task(s)`);
  const runStart = stamped.find((s) => s.event.kind === 'run_start')!.event;
  const stepOf = await stepsOfPlays(String(runStart.playbook).split(','));
  const spans = new Map<string, { from: number; to: number }>();
  for (const { at, event } of stamped) {
    if ((event.kind !== 'play_start' && event.kind !== 'play_end') || event.index === undefined) continue;
    const step = stepOf[event.index]!;
    const span = spans.get(step) ?? { from: at, to: at };
    spans.set(step, { from: Math.min(span.from, at), to: Math.max(span.to, at) });
  }
  return {
    phase,
    ...cost,
    hostsCpuS,
    changed,
    steps: Object.fromEntries([...spans].map(([step, s]) => [step, s.to - s.from])),
  };
}

/** Kubernetes' own waits in the first deploy, from h1's journal (cluster-report.ts, parseKubeWaits). */
async function readKubeWaits(clusterDir: string, cwd: string): Promise<KubeWaits | undefined> {
  const lines =
    "journalctl -o short-unix --no-pager -u kubelet -u kube-controller-manager | grep -E 'Started kubelet|" +
    "cAdvisor running|Filesystem UUIDs|registered node|node_ipam_controller|range CIDR allocator|PodCIDR|NodeReady'";
  const r = await mustFurrow(['exec', 'h1', '-i', clusterDir, '--', lines], cwd);
  return parseKubeWaits(r.stdout.replace(/^h1 \| /gm, ''), 'h1');
}

/** The hosts' CPU over `seconds` while no tool runs: the cluster's own background. */
async function idleHostsCpuS(seconds: number): Promise<number> {
  const before = await labHostsCpuS(LAB);
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  return hostsCpuSince(before, await labHostsCpuS(LAB));
}

export async function runClusterBench(runs: number, log: (line: string) => void): Promise<void> {
  const machine = await describeMachine();
  const startedAt = Date.now();
  const cwd = await mkdtemp(path.join(os.tmpdir(), 'furrow-bench-cluster-'));
  const results: ClusterRun[] = [];
  try {
    for (let round = 1; round <= runs; round++) {
      log(`workload 6 round ${round}/${runs}: ${HOSTS} fresh lab hosts (lab '${LAB}'), the bundle preloaded`);
      const dir = await freshCluster(cwd);
      for (const phase of CLUSTER_PHASES) {
        const logFile = path.join(cwd, `round${round}-${phase.replaceAll(' ', '-')}.log`);
        const run = await timedDeploy(dir, cwd, phase, logFile);
        // What the hosts spend on their own (etcd, the apiserver, kubelets) over as long, right after.
        if (phase === 'no-change deploy all') run.idleHostsCpuS = await idleHostsCpuS(run.wallS);
        else {
          const waits = await readKubeWaits(dir, cwd);
          if (waits) run.kubeWaits = waits;
        }
        results.push(run);
        log(
          `workload 6 round ${round}/${runs} ${phase.padEnd(20)} ${run.wallS.toFixed(2)} s ` +
            `(cpu ${run.cpuS.toFixed(2)} s, rss ${run.maxRssMb.toFixed(0)} MB, ${run.changed} changed)`,
        );
      }
    }
    const report = renderClusterReport(
      { ...machine, runs, hosts: HOSTS, durationMin: (Date.now() - startedAt) / 60_000 },
      results,
    );
    process.stdout.write(`${report}\n`);
    await writeFile(path.join(REPO, 'docs', 'benchmarks-cluster.md'), report);
    log('results written to docs/benchmarks-cluster.md');
  } finally {
    await shutLab(cwd, log, LAB);
    await rm(cwd, { recursive: true, force: true });
  }
}
