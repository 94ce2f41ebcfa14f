import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import path from 'node:path';
import PQueue from 'p-queue';
import { ConnectionPool, connectionSpecFromVars, DEFAULT_KNOWN_HOSTS } from '../connections/index.js';
import type { Connection, ConnectionSpec } from '../connections/types.js';
import type { SpecDefaults } from '../connections/index.js';
import { InputError, EXIT } from '../errors.js';
import { CompositeReporter, type HostRecap, type Reporter } from '../events.js';
import { gatherFacts } from '../facts/gather.js';
import { hostVars, loadInventory, selectHosts, type Inventory } from '../inventory/index.js';
import type { ModuleRegistry } from '../module.js';
import { loadPlaybook } from '../playbook/index.js';
import { JournalReporter } from '../reporters/journal.js';
import type { RunContext } from './context.js';
import { HostState } from './host-state.js';
import { HostReads } from './read-ahead.js';
import { playUsesFacts } from './facts-use.js';
import { lockRunHosts } from './host-locks.js';
import { precheckTemplates } from './precheck.js';
import { planResume, type ResumePlan } from './resume.js';
import { plannedTasks, type PreparedPlay, runFlow, runPlay } from './play-runner.js';
import { selectTasks, startAtTask, unmatchedTagWarnings, type TagSelection } from './selection.js';
import { describeRun, type ListMode } from './listing.js';
import { getOrAdd } from '../get-or-add.js';

export interface RunOptions {
  playbook: string;
  /** Where task modules are found (src/modules/index.ts's `modules`): the engine imports none. */
  modules: ModuleRegistry;
  /** More playbooks run after `playbook` in the same run (furrow deploy all). */
  morePlaybooks?: string[];
  /** false: no join between plays, each host goes on to its next play at once (see runFlow). */
  joinPlays?: boolean;
  /** Cluster settings (config.yml and the cluster's paths): above role defaults, below the inventory. */
  clusterVars?: Record<string, unknown>;
  inventory: string;
  check?: boolean;
  diff?: boolean;
  /** Hash every file compared, trusting no record of what Furrow wrote (facts/written.ts). */
  verifyFiles?: boolean;
  limit?: string;
  tags?: string[];
  skipTags?: string[];
  extraVars?: Record<string, unknown>;
  forks?: number;
  startAtTask?: string;
  resume?: boolean;
  /**
   * false (--no-wait): when another run holds one of the hosts, fail at once (exit 4) naming it,
   * instead of waiting for it to end. Check mode neither locks nor waits (see host-locks.ts).
   */
  wait?: boolean;
  /** Where journals go: <cwd>/.furrow/runs by default. */
  runsDir?: string;
  knownHostsFile?: string;
  strictHostKeys?: boolean;
  /** Extra role folders searched after the playbook's own (the project's roles/). */
  rolesPath?: string[];
  /** Below the inventory's own (Ansible's -u, -b, -k, -K): login user, become, SSH and become passwords. */
  connection?: Pick<SpecDefaults, 'user' | 'become' | 'password' | 'becomePassword'>;
  /**
   * Read-only checks on the run's hosts, over the run's own connections, once they are open (and
   * locked) and before any task: a throw (an InputError: exit 2) ends the run with no host changed.
   * Hosts that cannot be reached are left out; the run reports them where their first task is.
   */
  beforeTasks?: (hosts: ReachedHost[]) => Promise<void>;
  reporters: Reporter[];
}

/** A host of the run and its open connection. */
export interface ReachedHost {
  name: string;
  conn: Connection;
}

export interface RunSummary {
  runId: string;
  journal: string;
  recap: Record<string, HostRecap>;
  exitCode: number;
}

/** Cap on tasks in flight at once when --forks is not given: all hosts, within reason. */
const MAX_DEFAULT_FORKS = 100;

/** Everything is loaded and checked before the first connection: bad input touches no host. */
async function prepare(
  opts: RunOptions,
): Promise<{ inventory: Inventory; plays: PreparedPlay[]; tagWarnings: string[]; resume?: ResumePlan }> {
  const inventory = await loadInventory(opts.inventory);
  const load = { modules: opts.modules, rolesPath: opts.rolesPath ?? [] };
  const playbook = await loadPlaybook(path.resolve(opts.playbook), load);
  for (const more of opts.morePlaybooks ?? [])
    playbook.plays.push(...(await loadPlaybook(path.resolve(more), load)).plays);
  const sel: TagSelection = { tags: opts.tags ?? [], skipTags: opts.skipTags ?? [] };
  const resume = opts.resume ? planResume(runsDir(opts), runKey(opts)) : undefined;
  if (opts.resume && !resume)
    throw new InputError(
      { file: runsDir(opts) },
      `no earlier run of ${runKey(opts)} to resume`,
      'run it once without --resume',
    );
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
    const otherVars = [...hosts.map((h) => hostVars(inventory, h)), opts.clusterVars, opts.extraVars];
    return { play, hosts, tasks, gatherFacts: playUsesFacts(play, tasks, otherVars) };
  });
  if (!started)
    throw new InputError(
      { file: playbook.file },
      `--start-at-task: no task is named '${opts.startAtTask}'`,
      'give the name exactly as the task has it',
    );
  if (opts.joinPlays === false) {
    const serial = plays.find((p) => p.play.serial?.length);
    if (serial)
      throw new InputError(
        serial.play.place,
        `play '${serial.play.name}' has serial batches, which join its hosts`,
        'run this step on its own, or drop serial',
      );
  }
  precheckTemplates(plays, inventory, opts.clusterVars ?? {}, opts.extraVars ?? {});
  const tagWarnings = unmatchedTagWarnings(
    playbook.plays.flatMap((p) => p.tasks),
    sel,
  );
  return { inventory, plays, tagWarnings, ...(resume ? { resume } : {}) };
}

/**
 * What the run would do, as --list-hosts, --list-tasks, --list-tags or --syntax-check print it:
 * everything is loaded and checked as for a run (bad input is exit 2), and no host is touched.
 */
export async function listRun(opts: RunOptions, mode: ListMode): Promise<string> {
  const { plays } = await prepare(opts);
  return describeRun(plays, mode, process.cwd());
}

/** What --resume matches journals by: the playbook, or every playbook of a multi-playbook run. */
function runKey(opts: RunOptions): string {
  return [opts.playbook, ...(opts.morePlaybooks ?? [])].map((p) => path.resolve(p)).join(',');
}

function runsDir(opts: RunOptions): string {
  return opts.runsDir ?? path.resolve('.furrow', 'runs');
}

export async function runPlaybook(opts: RunOptions): Promise<RunSummary> {
  const { inventory, plays, tagWarnings, resume } = await prepare(opts);
  for (const message of tagWarnings) for (const r of opts.reporters) r.onEvent({ kind: 'warning', message });
  if (resume && plays.every((p) => p.hosts.length === 0)) {
    // No journal for a run that does nothing: the next --resume still reads the one that finished.
    const message = `nothing to resume: the last run of ${runKey(opts)} finished on every host (${resume.journal})`;
    for (const r of opts.reporters) r.onEvent({ kind: 'warning', message });
    return { runId: '', journal: resume.journal, recap: {}, exitCode: EXIT.ok };
  }
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
        ...opts.connection,
        knownHostsFile: opts.knownHostsFile ?? DEFAULT_KNOWN_HOSTS,
        strictHostKeys: !!opts.strictHostKeys,
        baseDir: path.dirname(path.resolve(opts.inventory)),
        resolveHost: (jump) => (inventory.hosts.has(jump) ? specFor(jump) : undefined),
      });
      specs.set(name, spec);
    }
    return spec;
  };
  const opened = new Map<string, Promise<Connection>>();
  const reads = new Map<string, HostReads>();
  const run: RunContext = {
    inventory,
    check: !!opts.check,
    diff: !!opts.diff,
    verifyFiles: !!opts.verifyFiles,
    extraVars,
    clusterVars: opts.clusterVars ?? {},
    reporter,
    hosts,
    connect(name) {
      let p = opened.get(name);
      if (!p) {
        const conn = pool.get(specFor(name));
        p = conn.open().then(() => {
          for (const message of conn.takeNotices?.() ?? []) reporter.onEvent({ kind: 'warning', host: name, message });
          return run.reads(name).track(conn);
        });
        opened.set(name, p);
      }
      return p;
    },
    reads: (name) => getOrAdd(reads, name, () => new HostReads()),
    async facts(host) {
      host.facts ??= (await gatherFacts(await run.connect(host.name))) as Record<string, unknown>;
      return host.facts;
    },
    // No timeout is set on this queue, so a task always settles with its own result.
    limit: (fn) => limit.add(fn, { throwOnTimeout: true }),
  };
  const started = Date.now();
  let unlock = async (): Promise<void> => undefined;
  for (const prepared of plays) for (const h of prepared.hosts) if (!hosts.has(h)) hosts.set(h, new HostState(h));
  reporter.onEvent({
    kind: 'run_start',
    runId,
    playbook: runKey(opts),
    inventory: path.resolve(opts.inventory),
    check: run.check,
    at: new Date().toISOString(),
    ...(resume ? { finished: [...resume.finished] } : {}),
    planned: plannedTasks(run, plays, resume),
  });
  for (const message of resume?.warnings ?? []) reporter.onEvent({ kind: 'warning', message });
  let aborted = false;
  let tasksBegan = false;
  try {
    if (!run.check) {
      unlock = await lockRunHosts([...hosts.keys()], {
        wait: opts.wait !== false,
        started: new Date(started),
        reporter,
        connect: (name) => run.connect(name),
      });
    }
    if (opts.beforeTasks) await opts.beforeTasks(await reachedHosts(run, [...hosts.keys()]));
    tasksBegan = true;
    if (opts.joinPlays === false) aborted = await runFlow(run, plays, resume);
    else {
      for (const [index, prepared] of plays.entries()) {
        aborted = await runPlay(run, prepared, index, resume);
        if (aborted) break;
      }
    }
  } catch (err) {
    await reporter.close(); // the journal's file, kept open for the run
    // Nothing ran: the journal must not become the "last run" that --resume starts from.
    if (!tasksBegan) rmSync(journal.file, { force: true });
    throw err;
  } finally {
    await unlock();
    await pool.closeAll();
  }
  const recap = Object.fromEntries([...hosts].map(([n, h]) => [n, h.recap]));
  reporter.onEvent({ kind: 'run_end', recap, durationMs: Date.now() - started });
  await reporter.close();
  const states = [...hosts.values()];
  const exitCode =
    aborted || states.some((h) => h.status === 'failed')
      ? EXIT.failed
      : states.some((h) => h.status === 'unreachable')
        ? EXIT.unreachable
        : EXIT.ok;
  return { runId, journal: journal.file, recap, exitCode };
}

/** The hosts whose connection opens; the others are left to the run, which reports them. */
async function reachedHosts(run: RunContext, names: string[]): Promise<ReachedHost[]> {
  const reached = await Promise.all(
    names.map((name) =>
      run.connect(name).then(
        (conn) => ({ name, conn }),
        () => null,
      ),
    ),
  );
  return reached.filter((h): h is ReachedHost => h !== null);
}
