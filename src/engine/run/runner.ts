import { randomBytes } from 'node:crypto';
import path from 'node:path';
import PQueue from 'p-queue';
import { ConnectionPool, connectionSpecFromVars } from '../connections/index.js';
import type { Connection, ConnectionSpec } from '../connections/types.js';
import { InputError, EXIT } from '../errors.js';
import { CompositeReporter, type HostRecap, type Reporter } from '../events.js';
import { gatherFacts } from '../facts/gather.js';
import { hostVars, loadInventory, selectHosts, type Inventory } from '../inventory/index.js';
import { loadPlaybook } from '../playbook/index.js';
import type { Play, Task } from '../playbook/types.js';
import { JournalReporter } from '../reporters/journal.js';
import type { PlayContext, RunContext } from './context.js';
import { HostState } from './host-state.js';
import { runHandlers, runHostTasks } from './host-runner.js';
import { lastIndexByMarker, ProgressBoard, RunOnce } from './joins.js';
import { precheckTemplates } from './precheck.js';
import { planResume, type ResumePlan } from './resume.js';
import { selectTasks, serialBatches, startAtTask, startAtTaskId, type TagSelection } from './selection.js';
import type { TaskOutcome } from './task-runner.js';

export interface RunOptions {
  playbook: string;
  inventory: string;
  check?: boolean;
  diff?: boolean;
  limit?: string;
  tags?: string[];
  skipTags?: string[];
  extraVars?: Record<string, unknown>;
  forks?: number;
  startAtTask?: string;
  resume?: boolean;
  /** Where journals go: <cwd>/.furrow/runs by default. */
  runsDir?: string;
  knownHostsFile?: string;
  strictHostKeys?: boolean;
  /** Extra role folders searched after the playbook's own (the project's roles/). */
  rolesPath?: string[];
  reporters: Reporter[];
}

export interface RunSummary {
  runId: string;
  journal: string;
  recap: Record<string, HostRecap>;
  exitCode: number;
}

/** Cap on tasks in flight at once when --forks is not given: all hosts, within reason. */
const MAX_DEFAULT_FORKS = 100;

interface PreparedPlay {
  play: Play;
  hosts: string[];
  tasks: Task[];
}

/** Everything is loaded and checked before the first connection: bad input touches no host. */
async function prepare(opts: RunOptions): Promise<{ inventory: Inventory; plays: PreparedPlay[]; resume?: ResumePlan }> {
  const inventory = await loadInventory(opts.inventory);
  const playbook = await loadPlaybook(path.resolve(opts.playbook), { rolesPath: opts.rolesPath ?? [] });
  const sel: TagSelection = { tags: opts.tags ?? [], skipTags: opts.skipTags ?? [] };
  const resume = opts.resume ? planResume(runsDir(opts), playbook.file) : undefined;
  if (opts.resume && !resume) throw new InputError({ file: runsDir(opts) }, `no earlier run of ${playbook.file} to resume`, 'run it once without --resume');
  let started = !opts.startAtTask;
  const plays = playbook.plays.map((play) => {
    let hosts = selectHosts(inventory, play.hosts, opts.limit);
    if (resume) hosts = hosts.filter((h) => !resume.finished.has(h));
    let tasks = selectTasks(play.tasks, sel);
    if (!started) {
      const at = startAtTask(tasks, opts.startAtTask!);
      started = at.found;
      tasks = at.tasks;
    }
    return { play, hosts, tasks };
  });
  if (!started) throw new InputError({ file: playbook.file }, `--start-at-task: no task is named '${opts.startAtTask}'`, 'give the name exactly as the task has it');
  precheckTemplates(plays, inventory, opts.extraVars ?? {});
  return { inventory, plays, ...(resume ? { resume } : {}) };
}

function runsDir(opts: RunOptions): string {
  return opts.runsDir ?? path.resolve('.furrow', 'runs');
}

export async function runPlaybook(opts: RunOptions): Promise<RunSummary> {
  const { inventory, plays, resume } = await prepare(opts);
  const runId = `${new Date().toISOString().replace(/[:.]/g, '-')}-${randomBytes(3).toString('hex')}`;
  const journal = new JournalReporter(runsDir(opts), runId);
  const reporter = new CompositeReporter([...opts.reporters, journal]);
  const extraVars = opts.extraVars ?? {};
  const pool = new ConnectionPool();
  const specs = new Map<string, ConnectionSpec>();
  const limit = new PQueue({ concurrency: opts.forks ?? MAX_DEFAULT_FORKS });
  const hosts = new Map<string, HostState>();
  const specFor = (name: string): ConnectionSpec => {
    let spec = specs.get(name);
    if (!spec) {
      const vars = inventory.hosts.has(name) ? { ...hostVars(inventory, name), ...extraVars } : { ...extraVars };
      spec = connectionSpecFromVars(name, vars, {
        knownHostsFile: opts.knownHostsFile ?? path.join(process.env.HOME ?? '/root', '.furrow', 'known_hosts'),
        strictHostKeys: !!opts.strictHostKeys,
        baseDir: path.dirname(path.resolve(opts.inventory)),
        resolveHost: (jump) => (inventory.hosts.has(jump) ? specFor(jump) : undefined),
      });
      specs.set(name, spec);
    }
    return spec;
  };
  const opened = new Map<string, Promise<Connection>>();
  const run: RunContext = {
    inventory,
    check: !!opts.check,
    diff: !!opts.diff,
    extraVars,
    reporter,
    hosts,
    connect(name) {
      let p = opened.get(name);
      if (!p) {
        const conn = pool.get(specFor(name));
        p = conn.open().then(() => conn);
        opened.set(name, p);
      }
      return p;
    },
    async facts(host) {
      host.facts ??= (await gatherFacts(await run.connect(host.name))) as Record<string, unknown>;
      return host.facts;
    },
    limit: (fn) => limit.add(fn) as Promise<any>,
  };
  const started = Date.now();
  reporter.onEvent({ kind: 'run_start', runId, playbook: path.resolve(opts.playbook), inventory: path.resolve(opts.inventory), check: run.check, at: new Date().toISOString() });
  let aborted = false;
  try {
    for (const [index, prepared] of plays.entries()) {
      for (const h of prepared.hosts) if (!hosts.has(h)) hosts.set(h, new HostState(h));
      aborted = await runPlay(run, prepared, index, resume);
      if (aborted) break;
    }
  } finally {
    await pool.closeAll();
  }
  const recap = Object.fromEntries([...hosts].map(([n, h]) => [n, h.recap]));
  reporter.onEvent({ kind: 'run_end', recap, durationMs: Date.now() - started });
  await reporter.close();
  const states = [...hosts.values()];
  const exitCode = aborted || states.some((h) => h.status === 'failed') ? EXIT.failed : states.some((h) => h.status === 'unreachable') ? EXIT.unreachable : EXIT.ok;
  return { runId, journal: journal.file, recap, exitCode };
}

/** Runs one play, batch after batch; returns true when the play's failure policy stopped the run. */
async function runPlay(run: RunContext, prepared: PreparedPlay, index: number, resume: ResumePlan | undefined): Promise<boolean> {
  const { play, tasks } = prepared;
  const hosts = prepared.hosts.filter((h) => run.hosts.get(h)!.active);
  run.reporter.onEvent({ kind: 'play_start', play: play.name, index, hosts });
  const lastIndex = lastIndexByMarker(tasks);
  const runOnce = new RunOnce<TaskOutcome>();
  const throttles = new Map<string, PQueue>();
  let abortedBy: string | undefined;
  for (const [batchIndex, batch] of serialBatches(hosts, play.serial, play.place.file).entries()) {
    const failedInBatch = new Set<string>();
    const pc: PlayContext = {
      run,
      play,
      index,
      hosts,
      batchIndex,
      runOnce,
      board: new ProgressBoard(),
      lastIndex,
      throttled(task, fn) {
        let queue = throttles.get(task.id);
        if (!queue) throttles.set(task.id, (queue = new PQueue({ concurrency: task.throttle ?? 1 })));
        return queue.add(fn) as Promise<Awaited<ReturnType<typeof fn>>>;
      },
      onHostFailed(host) {
        failedInBatch.add(host);
        if (play.anyErrorsFatal) pc.aborted = `any_errors_fatal: ${host} failed`;
        else if (play.maxFailPercentage !== undefined && (failedInBatch.size / batch.length) * 100 > play.maxFailPercentage) {
          pc.aborted = `max_fail_percentage ${play.maxFailPercentage}% exceeded: ${[...failedInBatch].join(', ')} failed`;
        }
      },
    };
    await Promise.all(batch.map((name) => runHost(run.hosts.get(name)!, hostTasks(name, tasks, resume), pc, play)));
    if (pc.aborted) {
      abortedBy = pc.aborted;
      break;
    }
  }
  run.reporter.onEvent({ kind: 'play_end', play: play.name, index, ...(abortedBy ? { aborted: abortedBy } : {}) });
  return abortedBy !== undefined;
}

/** With --resume, a host that failed last time starts at the task it failed on. */
function hostTasks(host: string, tasks: Task[], resume: ResumePlan | undefined): Task[] {
  const at = resume?.startAt.get(host);
  if (!at) return tasks;
  const from = startAtTaskId(tasks, at);
  if (from.length) resume!.startAt.delete(host);
  return from;
}

async function runHost(host: HostState, tasks: Task[], pc: PlayContext, play: Play): Promise<void> {
  if (play.gatherFacts !== false && tasks.length && !host.facts) {
    const gathered = await gatherStep(host, pc);
    if (!gathered) return void pc.board.end(host.name);
  }
  let result = await runHostTasks(host, tasks, pc);
  if (result === 'ok') result = await runHandlers(host, pc);
  if (result === 'failed') {
    host.status = 'failed';
    pc.onHostFailed(host.name);
  }
  pc.board.end(host.name);
}

/** Facts are gathered once per host per run, in one round trip, reported as a task of its own. */
async function gatherStep(host: HostState, pc: PlayContext): Promise<boolean> {
  const { reporter } = pc.run;
  const started = Date.now();
  reporter.onEvent({ kind: 'task_start', host: host.name, taskId: 'facts', task: 'Gather facts', handler: false });
  try {
    await pc.run.limit(() => pc.run.facts(host));
    host.count('ok');
    reporter.onEvent({ kind: 'task_result', host: host.name, taskId: 'facts', task: 'Gather facts', status: 'ok', handler: false, durationMs: Date.now() - started });
    return true;
  } catch (err) {
    const unreachable = (err as { code?: string }).code === 'unreachable';
    host.status = unreachable ? 'unreachable' : 'failed';
    host.count(unreachable ? 'unreachable' : 'failed');
    if (!unreachable) pc.onHostFailed(host.name);
    reporter.onEvent({ kind: 'task_result', host: host.name, taskId: 'facts', task: 'Gather facts', status: unreachable ? 'unreachable' : 'failed', handler: false, msg: (err as Error).message, durationMs: Date.now() - started });
    return false;
  }
}
