import type { Task } from '../playbook/types.js';
import type { PlayContext } from './context.js';
import type { HostState } from './host-state.js';
import { reportPending, runTask } from './task-runner.js';

/**
 * Walks one host through a play's tasks, on its own: a host goes on to its next task as soon as its
 * previous one is done. Blocks, rescue/always and handler flushes are handled here.
 */
type WalkResult = 'ok' | 'failed' | 'unreachable' | 'stopped';

export async function runHostTasks(
  host: HostState,
  tasks: Task[],
  pc: PlayContext,
  topLevel = true,
): Promise<WalkResult> {
  for (const [index, task] of tasks.entries()) {
    if (pc.aborted) return 'stopped';
    host.ahead = { tasks, from: index + 1 };
    const r = await runOne(host, task, pc);
    if (topLevel) pc.board.advance(host.name, index);
    if (r !== 'ok') return r;
  }
  return 'ok';
}

async function runOne(host: HostState, task: Task, pc: PlayContext): Promise<WalkResult> {
  if (task.block) return runBlock(host, task, pc);
  if (task.module === 'meta') {
    const action = String(task.params.action ?? task.params.free_form ?? '');
    if (action === 'flush_handlers') return runHandlers(host, pc, task.id);
    return 'ok';
  }
  const status = await runTask(host, task, pc);
  if (status === 'unreachable') return 'unreachable';
  if (status === 'failed') return 'failed';
  return 'ok';
}

async function runBlock(host: HostState, task: Task, pc: PlayContext): Promise<WalkResult> {
  const body = task.block!;
  let result = await runHostTasks(host, body.tasks, pc, false);
  if (result === 'failed' && body.rescue.length) {
    // A rescued failure does not fail the host (Ansible counts it as rescued).
    host.recap.failed--;
    host.rescued++;
    result = await runHostTasks(host, body.rescue, pc, false);
  }
  if (body.always.length && result !== 'unreachable') {
    const always = await runHostTasks(host, body.always, pc, false);
    if (always !== 'ok') return always;
  }
  return result;
}

/**
 * Runs the handlers a changed task notified, once each, in the order they are defined. A handler
 * leaves the pending list only once it succeeded: a failed one and those after it stay pending, so
 * --resume starts at this flush (`flushAt`) and runs them again.
 */
export async function runHandlers(host: HostState, pc: PlayContext, flushAt?: string): Promise<WalkResult> {
  if (!host.active || host.notified.size === 0) return 'ok';
  host.ahead = undefined;
  for (const handler of pc.play.handlers) {
    const topics = [handler.name, ...handler.listen];
    if (!topics.some((t) => host.notified.has(t))) continue;
    const status = await runTask(host, handler, pc, true, flushAt);
    if (status === 'unreachable') return 'unreachable';
    if (status === 'failed') return 'failed';
    for (const t of topics) host.notified.delete(t);
    reportPending(host, pc);
  }
  host.notified.clear();
  return 'ok';
}
