import type { Connection, ExecOptions, GetOptions, PutOptions, PutSource } from '../connections/types.js';
import { withEnvironment } from '../connections/remote-commands.js';
import { FurrowError, UnreachableError } from '../errors.js';
import type { TaskStatus } from '../events.js';
import { probeFiles, type FileQuery } from '../facts/files.js';
import { WRITTEN_DIR } from '../facts/written.js';
import type { ApplyResult, Diff, Module, ModuleContext, Plan, AnyModule } from '../module.js';
import { hostsOfGroup } from '../inventory/index.js';
import { findFile } from '../playbook/index.js';
import type { Task } from '../playbook/types.js';
import { shownDiff } from '../redact.js';
import type { PlayContext } from './context.js';
import type { HostState } from './host-state.js';
import { markerOf } from './joins.js';
import { checkParams } from './params.js';
import { scopeFor, type TaskScope } from './scope.js';
import { TaskWatch } from './wait-watch.js';

/** The outcome of one task on one host, as `register` stores it and reporters show it. */
export interface TaskOutcome {
  status: TaskStatus;
  result: Record<string, unknown>;
  msg?: string;
  /** Output the user asked to see (debug): always shown. */
  print?: string;
  diff?: Diff;
}

/** Every host keeps its records of what Furrow wrote in the same place. */
const WRITTEN = { dir: WRITTEN_DIR };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function errorText(err: unknown): string {
  return err instanceof FurrowError || err instanceof Error ? err.message : String(err);
}

/**
 * Runs one task on one host and reports it; returns its status. For a handler, `flushAt` is the
 * flush_handlers task that ran it: where --resume starts again if it fails.
 */
export async function runTask(
  host: HostState,
  task: Task,
  pc: PlayContext,
  handler = false,
  flushAt?: string,
): Promise<TaskStatus> {
  const { run } = pc;
  const started = Date.now();
  const role = task.role ? { role: task.role.name } : {};
  run.reporter.onEvent({ kind: 'task_start', host: host.name, taskId: task.id, task: task.name, handler, ...role });
  host.started();
  const watch = new TaskWatch(run.reporter, host.name, task.id, task.name, `${task.module} on the host`);
  let outcome: TaskOutcome;
  try {
    for (const w of task.waitFor) {
      const members = new Set(hostsOfGroup(run.inventory, w.group));
      const others = pc.hosts.filter((h) => members.has(h) && h !== host.name);
      watch.phase(`other hosts (${others.join(', ')}) to finish ${markerOf(w)}`);
      await pc.board.waitFor(others, pc.lastIndex.get(markerOf(w)));
    }
    const work = () => {
      watch.phase('a free slot (--forks)');
      return run.limit(() => decide(host, task, pc, watch));
    };
    if (task.throttle)
      watch.phase(`its turn (throttle: ${task.throttle} host${task.throttle === 1 ? '' : 's'} at a time)`);
    outcome = await (task.throttle ? pc.throttled(task, work) : work());
  } catch (err) {
    outcome =
      err instanceof UnreachableError
        ? { status: 'unreachable', result: { unreachable: true, msg: err.message }, msg: err.message }
        : { status: 'failed', result: { failed: true, msg: errorText(err) }, msg: errorText(err) };
  } finally {
    watch.stop();
  }
  const ignored = outcome.status === 'failed' && task.ignoreErrors;
  if (ignored) outcome = { ...outcome, status: 'ok', msg: `${outcome.msg ?? ''} (ignored)` };
  if (task.register) host.registered[task.register] = outcome.result;
  // In check mode too: handlers then report what they would do, without doing it.
  const notifies = outcome.status === 'changed' && task.notify.some((n) => !host.notified.has(n));
  if (outcome.status === 'changed') for (const n of task.notify) host.notified.add(n);
  host.count(ignored ? 'ignored' : outcome.status);
  if (outcome.status === 'unreachable') host.status = 'unreachable';
  run.reporter.onEvent({
    kind: 'task_result',
    host: host.name,
    taskId: task.id,
    task: task.name,
    status: outcome.status,
    handler,
    ...role,
    ...(outcome.msg !== undefined ? { msg: task.noLog ? '(output hidden by no_log)' : outcome.msg } : {}),
    ...(outcome.print !== undefined && !task.noLog ? { print: outcome.print } : {}),
    ...(outcome.diff ? { diff: shownDiff(outcome.diff, task.noLog)! } : {}),
    ...(ignored ? { ignored: true } : {}),
    ...(handler && flushAt !== undefined && outcome.status === 'failed' ? { resumeAt: flushAt } : {}),
    durationMs: Date.now() - started,
  });
  if (notifies) reportPending(host, pc);
  return outcome.status;
}

/** The journal keeps each host's pending handlers, so --resume can run them (see resume.ts). */
export function reportPending(host: HostState, pc: PlayContext): void {
  pc.run.reporter.onEvent({ kind: 'handlers_pending', host: host.name, handlers: [...host.notified] });
}

const SKIPPED: TaskOutcome = { status: 'skipped', result: { skipped: true, changed: false } };

async function decide(host: HostState, task: Task, pc: PlayContext, watch: TaskWatch): Promise<TaskOutcome> {
  if (task.module === 'wait_for_hosts') return { status: 'ok', result: { changed: false } };
  const scope = await scopeFor(host, task, pc);
  // With a loop, `when` is judged per item (it may read the item), as in Ansible.
  if (task.loop === undefined && task.when.length && !scope.condition(task.when)) return SKIPPED;
  if (!task.runOnce) return runLooped(host, task, pc, scope, watch);
  watch.phase('the host that runs it once for all (run_once)');
  const { promise, ranHere } = pc.runOnce.once(`${pc.index}:${pc.batchIndex}:${task.id}`, () =>
    runLooped(host, task, pc, scope, watch),
  );
  const outcome = await promise;
  return ranHere ? outcome : { ...outcome, msg: [outcome.msg, '(result of run_once)'].filter(Boolean).join(' ') };
}

async function runLooped(
  host: HostState,
  task: Task,
  pc: PlayContext,
  scope: TaskScope,
  watch: TaskWatch,
): Promise<TaskOutcome> {
  if (task.loop === undefined) return runWithRetries(host, task, pc, scope, watch);
  const items = scope.resolve(task.loop);
  if (!Array.isArray(items))
    throw new FurrowError(
      'module',
      `${host.name}: loop of '${task.name}' (${task.place.file}:${task.place.line}) is not a list`,
    );
  const outcomes: TaskOutcome[] = [];
  const scopes = items.map((item, i) =>
    scope.withVars({
      [task.loopVar]: item,
      ...(task.loopIndexVar ? { [task.loopIndexVar]: i } : {}),
    }),
  );
  try {
    for (const [i, itemScope] of scopes.entries()) {
      // The items after this one are what its probe reads ahead first (queriesAhead).
      host.loopRest = { task, scopes: scopes.slice(i + 1) };
      outcomes.push(
        task.when.length && !itemScope.condition(task.when)
          ? SKIPPED
          : await itemOutcome(() => runWithRetries(host, task, pc, itemScope, watch)),
      );
    }
  } finally {
    host.loopRest = undefined;
  }
  const status: TaskStatus = outcomes.some((o) => o.status === 'failed')
    ? 'failed'
    : outcomes.some((o) => o.status === 'changed')
      ? 'changed'
      : outcomes.every((o) => o.status === 'skipped') && outcomes.length
        ? 'skipped'
        : 'ok';
  const units = outcomes.map((o) => o.diff).filter((d): d is Diff => !!d);
  const diff: Diff | undefined = units.length
    ? {
        unified:
          units
            .map((d) => d.unified)
            .filter(Boolean)
            .join('\n') || undefined,
        values: units.flatMap((d) => d.values ?? []),
      }
    : undefined;
  const msg =
    outcomes
      .map((o, i) => (o.msg ? `[${i}] ${o.msg}` : ''))
      .filter(Boolean)
      .join('\n') || undefined;
  return {
    status,
    result: { changed: status === 'changed', failed: status === 'failed', results: outcomes.map((o) => o.result) },
    ...(msg ? { msg } : {}),
    ...(diff ? { diff } : {}),
  };
}

/**
 * One item of a loop: a failure fails that item, and the loop goes on with the next (as Ansible
 * does); the task fails at the end if any item did. A lost host ends the loop.
 */
async function itemOutcome(run: () => Promise<TaskOutcome>): Promise<TaskOutcome> {
  try {
    return await run();
  } catch (err) {
    if (err instanceof UnreachableError) throw err;
    return { status: 'failed', result: { failed: true, msg: errorText(err) }, msg: errorText(err) };
  }
}

async function runWithRetries(
  host: HostState,
  task: Task,
  pc: PlayContext,
  scope: TaskScope,
  watch: TaskWatch,
): Promise<TaskOutcome> {
  if (!task.until?.length) return runModule(host, task, pc, scope, watch);
  const retries = Number(scope.resolve(task.retries ?? 3));
  const delay = Number(scope.resolve(task.delay ?? 5));
  let outcome = await runModule(host, task, pc, scope, watch);
  for (let attempt = 1; ; attempt++) {
    const bound = scope.withVars({ [task.register ?? 'result']: outcome.result });
    if (bound.condition(task.until)) return outcome;
    if (attempt > retries)
      return {
        ...outcome,
        status: 'failed',
        msg: `${outcome.msg ?? ''} until condition not met after ${attempt} attempt(s)`.trim(),
      };
    // Long waits say what they wait for and how much is left, as Ansible's "FAILED - RETRYING" does.
    pc.run.reporter.onEvent({
      kind: 'task_retry',
      host: host.name,
      taskId: task.id,
      task: task.name,
      attempt,
      retriesLeft: retries - attempt + 1,
      delaySeconds: delay,
    });
    watch.phase(`its until condition (attempt ${attempt + 1} of ${retries + 1} next)`, (retries - attempt + 1) * delay);
    await sleep(delay * 1000);
    pc.run.reads(targetOf(host, task, scope)).drop(); // the retry must see the host as it is now
    outcome = await runModule(host, task, pc, scope, watch, true);
  }
}

/** plan, then apply unless in check mode or nothing is to be done; then changed_when / failed_when. */
/** `retrying`: an attempt of an until loop, whose bound (the retries left) the watch keeps. */
async function runModule(
  host: HostState,
  task: Task,
  pc: PlayContext,
  scope: TaskScope,
  watch: TaskWatch,
  retrying = false,
): Promise<TaskOutcome> {
  const mod = task.impl as Module<Record<string, unknown>, unknown> | undefined;
  if (!mod) throw new FurrowError('module', `unknown module '${task.module}' (${task.place.file}:${task.place.line})`);
  const params = checkParams(mod, scope.resolve(task.params), task);
  const ctx = await moduleContext(host, task, pc, scope, mod);
  if (!retrying) watch.phase(`${mod.name} to look at the host`, mod.waitsUpTo?.(params));
  const plan: Plan = await mod.plan(ctx, params);
  let applied: ApplyResult | undefined;
  const check = checkModeOf(task, pc);
  if (mod.local || (!check && plan.action !== 'none')) {
    // What the module does now, in its own words (not under no_log: the reason may quote values).
    if (!retrying)
      watch.phase(task.noLog ? `${mod.name} on the host` : `${mod.name}: ${clip(plan.reason)}`, plan.waitsUpTo);
    applied = await mod.apply(ctx, plan, params);
  }
  let changed = applied?.changed ?? plan.action !== 'none';
  let failed = !!applied?.failed;
  if (applied?.facts) Object.assign(host.registered, applied.facts);
  const result: Record<string, unknown> = {
    changed,
    failed,
    ...(applied?.output ?? {}),
    ...(applied?.msg ? { msg: applied.msg } : {}),
  };
  if (task.changedWhen || task.failedWhen) {
    const bound = scope.withVars({ [task.register ?? 'result']: result, ...result });
    if (task.changedWhen) changed = bound.condition(task.changedWhen);
    if (task.failedWhen) failed = bound.condition(task.failedWhen);
    Object.assign(result, { changed, failed });
  }
  // A command that changed nothing by its changed_when keeps the host quiet: its run already
  // dropped what was read, and how far the next probe reads ahead is all this sets.
  if (!mod.local) pc.run.reads(targetOf(host, task, scope)).settled(changed);
  const status: TaskStatus = failed ? 'failed' : changed ? 'changed' : 'ok';
  const msg = failed
    ? (applied?.msg ?? plan.reason)
    : (applied?.msg ?? (plan.action !== 'none' || check ? plan.reason : undefined));
  const print = applied?.show && applied.msg !== undefined ? applied.msg : undefined;
  return {
    status,
    result,
    ...(msg ? { msg } : {}),
    ...(print !== undefined ? { print } : {}),
    ...(plan.diff && plan.action !== 'none' ? { diff: plan.diff } : {}),
  };
}

/** Whether this task only plans: the run's --check, unless the task's check_mode says otherwise (Ansible's rule). */
function checkModeOf(task: Task, pc: PlayContext): boolean {
  return task.checkMode ?? pc.run.check;
}

function clip(text: string): string {
  const line = text.split('\n')[0]!;
  return line.length > 120 ? `${line.slice(0, 117)}...` : line;
}

/** The host a task's module works on: its own, or the one it is delegated to. */
function targetOf(host: HostState, task: Task, scope: TaskScope): string {
  return task.delegateTo !== undefined ? String(scope.resolve(task.delegateTo)) : host.name;
}

/**
 * Who the task's commands run as, and with which environment. Ansible's precedence: a become
 * variable (`ansible_become_user`, Furrow's `furrow_become_user`, from any variable layer) wins
 * over the `become_user` keyword, which the task takes from itself, its blocks, role and play.
 */
interface RunAs {
  become?: boolean;
  becomeUser?: string;
  environment?: Record<string, string>;
}

function runAsOf(task: Task, pc: PlayContext, scope: TaskScope): RunAs {
  const variable = ['furrow_become_user', 'ansible_become_user'].find((name) => scope.lookup.has(name));
  const becomeUser =
    variable !== undefined
      ? scope.lookup.get(variable)
      : task.becomeUser !== undefined
        ? scope.resolve(task.becomeUser)
        : undefined;
  const environment =
    task.environment === undefined
      ? undefined
      : Object.fromEntries(
          Object.entries(scope.resolve(task.environment) as Record<string, unknown>).map(([k, v]) => [k, String(v)]),
        );
  const become = task.become ?? pc.play.become;
  return {
    ...(become !== undefined ? { become } : {}),
    ...(becomeUser !== undefined ? { becomeUser: String(becomeUser) } : {}),
    ...(environment !== undefined ? { environment } : {}),
  };
}

/** Tasks whose commands run alike, for the read-ahead: the same become and become user. */
function runAsKey(runAs: RunAs): string {
  return `${String(runAs.become)} ${runAs.becomeUser ?? ''}`;
}

async function moduleContext(
  host: HostState,
  task: Task,
  pc: PlayContext,
  scope: TaskScope,
  mod: AnyModule,
): Promise<ModuleContext> {
  const target = targetOf(host, task, scope);
  const runAs = runAsOf(task, pc, scope);
  const conn = mod.local ? undefined : await pc.run.connect(target);
  let vars: Record<string, unknown> | undefined;
  const ctx: ModuleContext = {
    host: host.name,
    get conn() {
      if (!conn) throw new FurrowError('internal', `module '${mod.name}' is local and has no connection`);
      return withRunAs(conn, runAs);
    },
    probeFiles(queries) {
      const trusted = pc.run.verifyFiles ? undefined : WRITTEN;
      // Read ahead only along this host's own task list, for its own connection.
      if (target !== host.name) return probeFiles(ctx.conn, queries, trusted);
      return pc.run
        .reads(target)
        .probe(ctx.conn, runAsKey(runAs), queries, (tasks) => queriesAhead(host, pc, tasks, runAsKey(runAs)), trusted);
    },
    probeShared(own, keysOf, read) {
      if (target !== host.name) return read(own);
      const become = runAsKey(runAs);
      const ahead = (items: number) => sharedKeysAhead(host, task, pc, keysOf, become, items);
      return pc.run.reads(target).probeShared(become, own, ahead, read);
    },
    written: WRITTEN,
    get vars() {
      vars ??= scope.all();
      return vars;
    },
    lookup: scope.lookup,
    check: checkModeOf(task, pc),
    noLog: task.noLog,
    facts: () => pc.run.facts(pc.run.hosts.get(target) ?? host),
    findFile: (kind, name) => findFile(task, kind, name),
    render: (text, file, v) => scope.render(text, file, v),
  };
  return ctx;
}

/**
 * The file queries of this host's next tasks (up to `tasks` of them) for a read-ahead: first the
 * rest of the loop that is running (each item counts as a task), then the tasks after it, as long
 * as they declare their queries from their params, run on this host, with the same become. It
 * stops at the first task that will run something else on the host (which would drop the reads
 * anyway), or that depends on more than its params (loops, waits, run_once, blocks). Local tasks
 * (set_fact, debug) are passed over, and so are tasks and items whose `when` is false now. Anything
 * that fails here ends the read-ahead: the task tells its own story when it runs.
 */
async function queriesAhead(host: HostState, pc: PlayContext, tasks: number, runAs: string): Promise<FileQuery[]> {
  const queries: FileQuery[] = [];
  let taken = 0;
  const read = async (task: Task, scopeOf: () => TaskScope | Promise<TaskScope>): Promise<'next' | 'stop'> => {
    const mod = task.impl as Module<Record<string, unknown>, unknown> | undefined;
    if (!mod?.fileQueries || task.delegateTo !== undefined || task.runOnce || task.waitFor.length) return 'stop';
    try {
      const scope = await scopeOf();
      const params = paramsAhead(task, pc, scope, runAs);
      if (params === 'stop') return 'stop';
      if (params === 'pass') return 'next';
      queries.push(...(await mod.fileQueries(await moduleContext(host, task, pc, scope, mod), params)));
      taken++;
      return 'next';
    } catch {
      return 'stop';
    }
  };
  // A loop whose module declares no queries (a cert item probing files itself) reads past its
  // items, as before loops were read ahead.
  const loop = host.loopRest;
  const items = (loop?.task.impl as AnyModule | undefined)?.fileQueries ? loop!.scopes : [];
  for (const scope of items) {
    if (taken >= tasks || (await read(loop!.task, () => scope)) === 'stop') return queries;
  }
  const list = host.ahead;
  if (!list) return queries;
  for (let i = list.from; i < list.tasks.length && taken < tasks; i++) {
    const task = list.tasks[i]!;
    if ((task.impl as AnyModule | undefined)?.local) continue;
    if (task.loop !== undefined) break;
    if ((await read(task, () => scopeFor(host, task, pc))) === 'stop') break;
  }
  return queries;
}

/**
 * The keys the next `items` items of the running loop of `task` will ask a shared probe for
 * (ModuleContext.probeShared): items whose `when` is false now are passed over; another become,
 * or params that cannot be known yet, end it.
 */
async function sharedKeysAhead(
  host: HostState,
  task: Task,
  pc: PlayContext,
  keysOf: (params: Record<string, unknown>) => string[],
  runAs: string,
  items: number,
): Promise<string[]> {
  const loop = host.loopRest;
  if (loop?.task !== task) return [];
  const keys: string[] = [];
  for (const scope of loop.scopes.slice(0, items)) {
    const params = paramsAhead(task, pc, scope, runAs);
    if (params === 'stop') break;
    if (params === 'pass') continue;
    try {
      keys.push(...keysOf(params));
    } catch {
      break;
    }
  }
  return keys;
}

/**
 * A later task's (or loop item's) checked params, for a read ahead: 'pass' when its `when` is
 * false now, so it will not run; 'stop' when it runs with another become, or its params cannot be
 * known yet (the task tells its own story when it runs).
 */
function paramsAhead(
  task: Task,
  pc: PlayContext,
  scope: TaskScope,
  runAs: string,
): Record<string, unknown> | 'pass' | 'stop' {
  try {
    if (runAsKey(runAsOf(task, pc, scope)) !== runAs) return 'stop';
    if (task.when.length && !scope.condition(task.when)) return 'pass';
    return checkParams(task.impl as AnyModule, scope.resolve(task.params), task);
  } catch {
    return 'stop';
  }
}

/**
 * The task's become, become user and environment for every command and file the module sends, on
 * the host's one connection. The environment goes on the command's input, never in its text
 * (see withEnvironment).
 */
function withRunAs(conn: Connection, runAs: RunAs): Connection {
  const user = {
    ...(runAs.become !== undefined ? { become: runAs.become } : {}),
    ...(runAs.becomeUser !== undefined ? { becomeUser: runAs.becomeUser } : {}),
  };

  return {
    spec: conn.spec,
    open: () => conn.open(),
    close: () => conn.close(),
    exec: (command: string, opts: ExecOptions = {}) => {
      const withEnv = withEnvironment(command, runAs.environment ?? {}, opts.stdin);
      return conn.exec(withEnv.command, { ...user, ...withoutUndefined({ ...opts, stdin: withEnv.stdin }) });
    },
    put: (dest: string, source: PutSource, opts: PutOptions = {}) =>
      conn.put(dest, source, { ...user, ...withoutUndefined(opts) }),
    get: (src: string, localPath: string, opts: GetOptions = {}) =>
      conn.get(src, localPath, { ...user, ...withoutUndefined(opts) }),
    tunnel: (address: string, port: number) => conn.tunnel(address, port),
  };
}

function withoutUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
