import PQueue from 'p-queue';
import type { Play, Task } from '../playbook/types.js';
import type { PlayContext, RunContext } from './context.js';
import type { HostState } from './host-state.js';
import { runHandlers, runHostTasks } from './host-runner.js';
import { lastIndexByMarker, ProgressBoard, RunOnce } from './joins.js';
import type { ResumePlan } from './resume.js';
import { serialBatches, startAtTaskId } from './selection.js';
import type { TaskOutcome } from './task-runner.js';
import { getOrAdd } from '../get-or-add.js';

/** A play with its hosts resolved and its tasks selected (tags, start point). */
export interface PreparedPlay {
  play: Play;
  hosts: string[];
  tasks: Task[];
  /** gather_facts as written, else whether the play uses facts at all (see facts-use.ts). */
  gatherFacts: boolean;
}

/** What the hosts of one play share across its batches: run_once results and throttles. */
interface PlayShared {
  lastIndex: Map<string, number>;
  runOnce: RunOnce<TaskOutcome>;
  throttles: Map<string, PQueue>;
}

function playContext(
  run: RunContext,
  prepared: PreparedPlay,
  index: number,
  hosts: string[],
  batchIndex: number,
  batch: string[],
  shared: PlayShared,
): PlayContext {
  const { play } = prepared;
  const failedInBatch = new Set<string>();
  const pc: PlayContext = {
    run,
    play,
    index,
    hosts,
    batchIndex,
    runOnce: shared.runOnce,
    board: new ProgressBoard(),
    lastIndex: shared.lastIndex,
    throttled(task, fn) {
      const queue = getOrAdd(shared.throttles, task.id, () => new PQueue({ concurrency: task.throttle ?? 1 }));
      return queue.add(fn, { throwOnTimeout: true });
    },
    onHostFailed(host) {
      failedInBatch.add(host);
      if (play.anyErrorsFatal) pc.aborted = `any_errors_fatal: ${host} failed`;
      else if (
        play.maxFailPercentage !== undefined &&
        (failedInBatch.size / batch.length) * 100 > play.maxFailPercentage
      ) {
        pc.aborted = `max_fail_percentage ${play.maxFailPercentage}% exceeded: ${[...failedInBatch].join(', ')} failed`;
      }
    },
  };
  return pc;
}

const shareFor = (tasks: Task[]): PlayShared => ({
  lastIndex: lastIndexByMarker(tasks),
  runOnce: new RunOnce<TaskOutcome>(),
  throttles: new Map(),
});

/** Runs one play, batch after batch; returns true when the play's failure policy stopped the run. */
export async function runPlay(
  run: RunContext,
  prepared: PreparedPlay,
  index: number,
  resume: ResumePlan | undefined,
): Promise<boolean> {
  const { play, tasks } = prepared;
  const hosts = prepared.hosts.filter((h) => run.hosts.get(h)!.active);
  run.reporter.onEvent({ kind: 'play_start', play: play.name, index, hosts });
  const shared = shareFor(tasks);
  let abortedBy: string | undefined;
  for (const [batchIndex, batch] of serialBatches(hosts, play.serial, play.place.file).entries()) {
    const pc = playContext(run, prepared, index, hosts, batchIndex, batch, shared);
    await Promise.all(
      batch.map((name) =>
        runHost(run.hosts.get(name)!, hostTasks(run.hosts.get(name)!, tasks, resume), pc, prepared.gatherFacts),
      ),
    );
    if (pc.aborted) {
      abortedBy = pc.aborted;
      break;
    }
  }
  run.reporter.onEvent({ kind: 'play_end', play: play.name, index, ...(abortedBy ? { aborted: abortedBy } : {}) });
  return abortedBy !== undefined;
}

/**
 * Plays without joins between them (`furrow deploy all`): each host goes through every play it is
 * in, one after the other, without waiting for the other hosts to finish a play. Hosts still meet
 * where a play needs it (run_once, throttle, wait_for_hosts within a play). Serial batches need a
 * join by definition, so a play with `serial` is rejected here by the caller.
 */
export async function runFlow(
  run: RunContext,
  plays: PreparedPlay[],
  resume: ResumePlan | undefined,
): Promise<boolean> {
  const contexts = plays.map((prepared, index) => {
    const hosts = prepared.hosts.filter((h) => run.hosts.get(h)!.active);
    return playContext(run, prepared, index, hosts, 0, hosts, shareFor(prepared.tasks));
  });
  const entered = plays.map(() => 0);
  const left = plays.map(() => 0);
  const enter = (i: number) => {
    if (entered[i]!++ === 0)
      run.reporter.onEvent({ kind: 'play_start', play: plays[i]!.play.name, index: i, hosts: contexts[i]!.hosts });
  };
  const leave = (i: number) => {
    if (++left[i]! === contexts[i]!.hosts.length) {
      const aborted = contexts[i]!.aborted;
      run.reporter.onEvent({ kind: 'play_end', play: plays[i]!.play.name, index: i, ...(aborted ? { aborted } : {}) });
    }
  };
  const allHosts = [...new Set(contexts.flatMap((pc) => pc.hosts))];
  await Promise.all(
    allHosts.map(async (name) => {
      const host = run.hosts.get(name)!;
      for (const [i, pc] of contexts.entries()) {
        if (!pc.hosts.includes(name)) continue;
        enter(i);
        // A host that failed earlier never arrives: let waits for it end, and close the play for it.
        if (host.active && !pc.aborted)
          await runHost(host, hostTasks(host, plays[i]!.tasks, resume), pc, plays[i]!.gatherFacts);
        else pc.board.end(name);
        leave(i);
      }
    }),
  );
  return contexts.some((pc) => pc.aborted !== undefined);
}

/**
 * Tasks that report a result of their own: a block's body and always, not its rescue (run only on failure), nor meta.
 */
function reportingTasks(tasks: Task[]): number {
  return tasks.reduce(
    (n, t) =>
      n + (t.block ? reportingTasks(t.block.tasks) + reportingTasks(t.block.always) : t.module === 'meta' ? 0 : 1),
    0,
  );
}

/**
 * How many tasks each host is to run in these plays (handlers and fact gathering not counted), as
 * `hostTasks` will hand them out: with --resume, from the task a host failed on. For progress only.
 */
export function plannedTasks(
  run: RunContext,
  plays: PreparedPlay[],
  resume: ResumePlan | undefined,
): Record<string, number> {
  const planned: Record<string, number> = {};
  const resumed = new Set<string>();
  for (const { hosts, tasks } of plays) {
    for (const name of hosts.filter((h) => run.hosts.get(h)?.active)) {
      const at = resume?.startAt.get(name);
      const from = at !== undefined && !resumed.has(name) ? startAtTaskId(tasks, at) : tasks;
      if (from.length && at !== undefined) resumed.add(name);
      planned[name] = (planned[name] ?? 0) + reportingTasks(from);
    }
  }
  return planned;
}

/**
 * With --resume, a host that failed last time starts at the task it failed on (plays before that
 * one have nothing left for it), with the handlers it had pending there.
 */
function hostTasks(host: HostState, tasks: Task[], resume: ResumePlan | undefined): Task[] {
  const at = resume?.startAt.get(host.name);
  if (!at) return tasks;
  const from = startAtTaskId(tasks, at);
  if (from.length) {
    resume!.startAt.delete(host.name);
    for (const handler of resume!.pending.get(host.name) ?? []) host.notified.add(handler);
  }
  return from;
}

async function runHost(host: HostState, tasks: Task[], pc: PlayContext, gatherFacts: boolean): Promise<void> {
  if (gatherFacts && tasks.length && !host.facts) {
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
    reporter.onEvent({
      kind: 'task_result',
      host: host.name,
      taskId: 'facts',
      task: 'Gather facts',
      status: 'ok',
      handler: false,
      durationMs: Date.now() - started,
    });
    return true;
  } catch (err) {
    const unreachable = (err as { code?: string }).code === 'unreachable';
    host.status = unreachable ? 'unreachable' : 'failed';
    host.count(unreachable ? 'unreachable' : 'failed');
    if (!unreachable) pc.onHostFailed(host.name);
    reporter.onEvent({
      kind: 'task_result',
      host: host.name,
      taskId: 'facts',
      task: 'Gather facts',
      status: unreachable ? 'unreachable' : 'failed',
      handler: false,
      msg: (err as Error).message,
      durationMs: Date.now() - started,
    });
    return false;
  }
}
