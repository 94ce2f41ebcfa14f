import type { Connection } from '../connections/types.js';
import type { Reporter } from '../events.js';
import type { Inventory } from '../inventory/index.js';
import type { Play, Task } from '../playbook/types.js';
import type { HostState } from './host-state.js';
import type { ProgressBoard, RunOnce } from './joins.js';
import type { HostReads } from './read-ahead.js';
import type { TaskOutcome } from './task-runner.js';

/** One run: what every play and task of it shares. */
export interface RunContext {
  inventory: Inventory;
  check: boolean;
  diff: boolean;
  /** --verify: hash every file a task compares, trusting no record of what Furrow wrote. */
  verifyFiles: boolean;
  extraVars: Record<string, unknown>;
  /** Cluster settings: a layer above role defaults and below the inventory. */
  clusterVars: Record<string, unknown>;
  reporter: Reporter;
  hosts: Map<string, HostState>;
  /** The host's one connection, opened on first use and reused by every task. */
  connect(host: string): Promise<Connection>;
  /** A host's file reads ahead, and what drops them (read-ahead.ts). */
  reads(host: string): HostReads;
  /** Facts of a host, gathered once per run in one round trip. */
  facts(host: HostState): Promise<Record<string, unknown>>;
  /** Runs fn within --forks: at most that many tasks are in flight at once, across all hosts. */
  limit<T>(fn: () => Promise<T>): Promise<T>;
}

/** One play (or one serial batch of it) while it runs. */
export interface PlayContext {
  run: RunContext;
  play: Play;
  index: number;
  /** All hosts of the play (what `ansible_play_hosts` lists). */
  hosts: string[];
  batchIndex: number;
  runOnce: RunOnce<TaskOutcome>;
  board: ProgressBoard;
  /** Last top-level task index of each role / tag, for cross-host waits. */
  lastIndex: Map<string, number>;
  /** Set when the play must stop (any_errors_fatal, max_fail_percentage): hosts stop before their next task. */
  aborted?: string;
  /** Runs fn for a task with `throttle: N`: at most N hosts inside at once. */
  throttled<T>(task: Task, fn: () => Promise<T>): Promise<T>;
  /** Called when a host fails, so the play's failure policy can decide. */
  onHostFailed(host: string): void;
}

export type { Task };
