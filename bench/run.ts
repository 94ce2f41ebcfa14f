/**
 * `npm run bench`: Furrow against Ansible on the same lab hosts. Boots the bench lab (with python3
 * for Ansible), runs each workload with both tools alternately, checks both left the hosts the
 * same, writes docs/benchmarks.md, and always takes the lab down again.
 * Then workload 6, Furrow's deploy all on the lab cluster (bench/cluster.ts: docs/benchmarks-cluster.md),
 * and workload 7, kubeasz's steps 01 and 02 against Furrow's (bench/kubeasz.ts), when --kubeasz names a
 * kubeasz checkout (docs/benchmarks-kubeasz.md).
 * Options: --runs N (default 3), --only 1,3 (workload ids), --write-docs (also for a partial run of 1 to 5),
 * --kubeasz DIR.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ansibleCommand, setupAnsible, type AnsibleSetup } from './ansible.js';
import { CLUSTER_WORKLOAD, runClusterBench } from './cluster.js';
import { KUBEASZ_WORKLOAD, runKubeaszBench } from './kubeasz.js';
import { bootLab, hostStates, type Lab, raiseInotifyLimit, resetHosts, shutLab } from './lab.js';
import { renderReport, type Phase, type PhaseResult, type RunInfo, type WorkloadResult } from './report.js';
import {
  describeMachine,
  ensureControllerTools,
  furrowCommand,
  type MachineInfo,
  measure,
  type Measurement,
  REPO,
  stopControlMasters,
  type ToolCommand,
} from './tools.js';
import { type Tool, type Workload, workloads } from './workloads.js';

const log = (line: string): void => void process.stderr.write(`bench: ${line}\n`);

interface Options {
  runs: number;
  only: number[] | undefined;
  writeDocs: boolean;
  /** A kubeasz checkout, for workload 7. */
  kubeasz: string | undefined;
}

function parseOptions(argv: string[]): Options {
  const opts: Options = { runs: 3, only: undefined, writeDocs: false, kubeasz: undefined };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--runs') opts.runs = Number(argv[++i]);
    else if (arg === '--only') opts.only = (argv[++i] ?? '').split(',').map(Number);
    else if (arg === '--write-docs') opts.writeDocs = true;
    else if (arg === '--kubeasz') opts.kubeasz = argv[++i];
    else throw new Error(`unknown option '${arg}' (known: --runs N, --only 1,3, --write-docs, --kubeasz DIR)`);
  }
  if (!Number.isInteger(opts.runs) || opts.runs < 1) throw new Error('--runs takes a whole number of at least 1');
  return opts;
}

interface Context {
  lab: Lab;
  ansible: AnsibleSetup;
  workDir: string;
  runs: number;
}

function command(ctx: Context, tool: Tool, playbook: string, w: Workload): ToolCommand {
  return tool === 'ansible'
    ? ansibleCommand(ctx.ansible, playbook, ctx.lab.inventory, w.hosts, ctx.workDir)
    : furrowCommand(playbook, ctx.lab.inventory, w.hosts, ctx.workDir);
}

/** The phases of one tool's turn, in order: reset, first apply (or run), then re-run or twin. */
function turnPhases(w: Workload): Array<{ phase: Phase; file: string; changed: number; reset: boolean }> {
  if (w.rerun)
    return [
      { phase: 'first apply', file: 'main', changed: w.changed.first, reset: true },
      { phase: 'no-change re-run', file: 'main', changed: w.changed.rerun, reset: false },
    ];
  return [
    { phase: 'run', file: 'main', changed: w.changed.first, reset: true },
    ...(w.baseline ? [{ phase: '1-task twin' as const, file: 'twin', changed: 0, reset: true }] : []),
  ];
}

async function runWorkload(ctx: Context, w: Workload): Promise<WorkloadResult> {
  const dir = path.join(ctx.workDir, `w${w.id}`);
  const files: Record<string, Record<Tool, string>> = {
    main: w.playbooks,
    ...(w.baseline ? { twin: w.baseline } : {}),
  };
  for (const [name, byTool] of Object.entries(files)) {
    for (const tool of ['ansible', 'furrow'] as const)
      await writeAt(path.join(dir, `${tool}-${name}.yml`), byTool[tool]);
  }
  const phases = turnPhases(w);
  const results: PhaseResult[] = phases.map((p) => ({ phase: p.phase, runs: { ansible: [], furrow: [] } }));
  let reference: Map<string, string> | undefined;
  let sameState = true;
  for (let round = 1; round <= ctx.runs; round++) {
    for (const tool of ['ansible', 'furrow'] as const) {
      if (tool === 'ansible' && round > (w.ansibleRuns ?? ctx.runs)) continue;
      for (const [i, p] of phases.entries()) {
        if (p.reset) await resetHosts(ctx.lab, w.hosts, w.reset);
        const logFile = path.join(dir, `${tool}-${p.file}-${round}-${i}.log`);
        const m: Measurement = await measure(
          tool,
          command(ctx, tool, path.join(dir, `${tool}-${p.file}.yml`), w),
          logFile,
          p.changed,
        );
        results[i]!.runs[tool].push(m);
        log(
          `workload ${w.id} round ${round}/${ctx.runs} ${tool.padEnd(7)} ${p.phase.padEnd(16)} ${m.wallS.toFixed(2)} ` +
            `s (cpu ${m.cpuS.toFixed(2)} s, rss ${m.maxRssMb.toFixed(0)} MB)`,
        );
        const states = await hostStates(ctx.lab, w.hosts);
        reference ??= states;
        const differs = w.hosts.filter((h) => states.get(h) !== reference!.get(h));
        if (differs.length) {
          sameState = false;
          log(
            `workload ${w.id}: after ${tool} ${p.phase} hosts ${differs.join(', ')} differ from the first ` +
              `run's end state`,
          );
        }
      }
    }
  }
  return { workload: w, phases: results, sameState };
}

async function writeAt(file: string, text: string): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, text);
}

async function runInfo(
  machine: MachineInfo,
  ansible: AnsibleSetup,
  runs: number,
  startedAt: number,
  argv: string[],
): Promise<RunInfo> {
  return {
    ...machine,
    // The date the report is written, at the end of the run.
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    ansible: ansible.version,
    ansibleSettings: ansible.settings,
    runs,
    // The soft limit the tools ran under (they are this process's children): one file descriptor per SSH host.
    openFiles: /^Max open files\s+(\S+)/m.exec(await readFile('/proc/self/limits', 'utf8'))?.[1] ?? 'unknown',
    command: ['npm run bench', ...(argv.length ? ['--', ...argv] : [])].join(' '),
    durationMin: (Date.now() - startedAt) / 60_000,
  };
}

/** Workloads 1 to 5 against Ansible on one bench lab; docs/benchmarks.md when all of them ran (or --write-docs). */
async function runFileWorkloads(chosen: Workload[], opts: Options, argv: string[]): Promise<void> {
  // Before anything of the benchmark runs: the load average in it is the one at the start.
  const machine = await describeMachine();
  const startedAt = Date.now();
  const workDir = await mkdtemp(path.join(os.tmpdir(), 'furrow-bench-'));
  const restoreInotify = await raiseInotifyLimit(log);
  let ansible: AnsibleSetup | undefined;
  try {
    const lab = await bootLab(workDir, Math.max(...chosen.map((w) => w.hosts.length)), log);
    ansible = await setupAnsible(workDir, lab.knownHosts);
    const ctx: Context = { lab, ansible, workDir, runs: opts.runs };
    const results: WorkloadResult[] = [];
    for (const w of chosen) results.push(await runWorkload(ctx, w));
    const report = renderReport(await runInfo(machine, ansible, opts.runs, startedAt, argv), results);
    process.stdout.write(`${report}\n`);
    if (chosen.length === workloads().length || opts.writeDocs) {
      await writeFile(path.join(REPO, 'docs', 'benchmarks.md'), report);
      log('results written to docs/benchmarks.md');
    } else log('a partial run: docs/benchmarks.md left as it was (--write-docs to write it anyway)');
    if (results.some((r) => !r.sameState)) process.exitCode = 1;
  } finally {
    if (ansible) await stopControlMasters(ansible.controlDir);
    await shutLab(workDir, log);
    await restoreInotify();
    await rm(workDir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const opts = parseOptions(argv);
  const wanted = (id: number) => !opts.only || opts.only.includes(id);
  const chosen = workloads().filter((w) => wanted(w.id));
  const cluster = wanted(CLUSTER_WORKLOAD);
  const kubeasz = wanted(KUBEASZ_WORKLOAD);
  if (!chosen.length && !cluster && !kubeasz)
    throw new Error(`--only ${opts.only?.join(',')}: no such workload (1 to ${KUBEASZ_WORKLOAD})`);
  if (kubeasz && opts.only && !opts.kubeasz)
    throw new Error(
      `workload ${KUBEASZ_WORKLOAD} needs --kubeasz DIR, a checkout of kubeasz (docs/benchmarks-kubeasz.md)`,
    );
  await ensureControllerTools(log);
  if (chosen.length) await runFileWorkloads(chosen, opts, argv);
  if (cluster) await runClusterBench(opts.runs, log);
  if (kubeasz && opts.kubeasz) await runKubeaszBench(opts.runs, opts.kubeasz, log);
  else if (kubeasz) log(`workload ${KUBEASZ_WORKLOAD} (kubeasz) left out: --kubeasz DIR names a kubeasz checkout`);
}

main().catch((err: unknown) => {
  log(`failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
