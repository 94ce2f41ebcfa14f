import type { FromSchema, JSONSchema } from 'json-schema-to-ts';
import type { Connection } from './connections/types.js';
import type { FileInfo, FileQuery } from './facts/files.js';
import type { WrittenRecords } from './facts/written.js';

/**
 * The module contract. A module is one file in src/modules/ exporting a `Module`; it is listed once
 * in src/modules/index.ts and the engine never names it nor imports it: the caller (CLI, src/cluster)
 * hands the engine a `ModuleRegistry`. `plan` only reads the host (as few round
 * trips as possible) and decides; `apply` carries out exactly that plan and never re-decides.
 * Check mode is `plan` alone.
 */

/** A closed set of actions, as Terraform has; changed means action !== 'none'. */
export type PlanAction = 'none' | 'create' | 'update' | 'delete' | 'replace' | 'run';

export interface ValueChange {
  key: string;
  before: unknown;
  after: unknown;
}

/** What a change looks like to a person. Never secret material: secret fields say "(secret changed)". */
export interface Diff {
  /** A unified diff of a file's text (before/after labels are the path). */
  unified?: string;
  /** Old/new for values: mode, owner, a sysctl, a unit's state, a cert's subject/SANs/expiry. */
  values?: ValueChange[];
  /** Why (part of) the diff is not shown: no_log, or a private key (see redact.ts). */
  hidden?: string;
}

export interface Plan<D = unknown> {
  action: PlanAction;
  /** Always set, also for 'none' ("net.ipv4.ip_forward is 1"): it explains, never steers apply. */
  reason: string;
  diff?: Diff;
  /** Opaque data handed from plan to apply (what to write, which commands to run). */
  data?: D;
  /**
   * At most how long apply may wait, in seconds, when something bounds it (a unit's start
   * timeout): the run's progress lines say how much of it is left (run/wait-watch.ts).
   */
  waitsUpTo?: number;
}

export interface ApplyResult {
  /** Values a task can `register` (rc, stdout, stderr, path, ...). */
  output?: Record<string, unknown>;
  /** Variables to set on the host (set_fact). */
  facts?: Record<string, unknown>;
  /** The module's own verdict that the task failed (assert, command rc != 0, ...). */
  failed?: boolean;
  msg?: string;
  /** The message is what the user asked to see (debug): reporters always show it. */
  show?: boolean;
  /** Overrides the plan's verdict where only running tells (command: always changed unless guarded). */
  changed?: boolean;
}

/** What a module may use: the host's one connection, its facts, and the controller-side helpers. */
export interface ModuleContext {
  /** Inventory name of the host: starts every message. */
  host: string;
  conn: Connection;
  /**
   * The file probe (facts/files.ts) in one round trip. Answers from what the engine read ahead for
   * this task, while nothing else has run on the host since; otherwise probes now.
   */
  probeFiles(queries: FileQuery[]): Promise<FileInfo[]>;
  /**
   * A probe of the module's own that a loop's items share: `read` gets this item's keys (`own`)
   * and, on a quiet host, the keys of the loop's later items (`keysOf` their params), in one round
   * trip. A later item whose keys were read plans without one, while nothing else reached the host
   * since (the file read-ahead's rules). Outside a loop it is `read(own)`.
   */
  probeShared<T>(
    own: string[],
    keysOf: (params: Record<string, unknown>) => string[],
    read: (keys: string[]) => Promise<Map<string, T>>,
  ): Promise<Map<string, T>>;
  /** Facts gathered once per host per run, on first use. */
  facts(): Promise<Record<string, unknown>>;
  /** Every variable of the task, resolved (costly: prefer `lookup`, which resolves only what is read). */
  vars: Record<string, unknown>;
  /** Reads one variable, resolving only it (conditions, debug var=). */
  lookup: { has(name: string): boolean; get(name: string): unknown };
  check: boolean;
  /** Where the host records what Furrow writes (facts/written.ts); absent: nothing is recorded. */
  written?: WrittenRecords;
  /** The task is no_log: content must not be read back from the host nor shown in a diff. */
  noLog: boolean;
  /** Finds a controller file the way Ansible does: the role's files/ or templates/, then beside the playbook. */
  findFile(kind: 'files' | 'templates', name: string): string;
  /**
   * Renders a template with the task's variables (plus `extra`); strict: an undefined variable is an error naming file
   * and line.
   */
  render(text: string, file: string, extra?: Record<string, unknown>): string;
}

/**
 * A module of any params and data, as the registry and the engine hold them: each module checks its
 * own params against its schema, so the engine needs no more than the contract.
 */
// biome-ignore lint/suspicious/noExplicitAny: existential; unknown rejects every module (params are contravariant)
export type AnyModule = Module<any, any>;

/**
 * A module's params type, derived from its JSON Schema (one declaration): what ajv accepts is what
 * the code gets. Defaulted params stay optional in the type, as a module called directly (tests)
 * may leave them out; the run's validator fills them in.
 */
/** A module's params schema: an object schema (not JSON Schema's `true` or `false`). */
export type ParamsSchema = Exclude<JSONSchema, boolean>;

export type ParamsOf<S extends JSONSchema> = FromSchema<S, { keepDefaultedPropertiesOptional: true }>;

/** Where the engine finds modules: the real registry (src/modules/index.ts) or, in tests, fakes. */
export interface ModuleRegistry {
  findModule(name: string): AnyModule | undefined;
  moduleNames(): string[];
}

export interface Module<P = Record<string, unknown>, D = unknown> {
  /** One lowercase word, as in a task: `file: {...}`. */
  name: string;
  /**
   * JSON Schema of the params (ajv), validated before any host is touched; a module's params type
   * is derived from it (ParamsOf), so the two cannot disagree.
   */
  schema: ParamsSchema;
  /** When the task's params may be given as one string (`command: ls -l`), the key it goes to. */
  freeForm?: string;
  /** Params never printed (passwords, keys). */
  secret?: string[];
  /** Runs on the controller only (set_fact, assert, debug): no connection is needed. */
  local?: boolean;
  /**
   * The file queries `plan` starts with, when the params alone tell them (never by reading the
   * host). The engine then reads them ahead: an earlier task's probe carries them in its round
   * trip (run/read-ahead.ts). A mismatch with what plan asks only costs a probe of its own.
   */
  fileQueries?(ctx: ModuleContext, params: P): Promise<FileQuery[]>;
  /**
   * Hooks the engine calls before any host is touched, on the params as written (templates not
   * rendered): the controller template files the task will render (checked for undefined
   * variables, and read to see whether the play uses facts), and the variables it sets for the
   * tasks after it (known names for that check).
   */
  templateFiles?(params: Record<string, unknown>): string[];
  setsVariables?(params: Record<string, unknown>): string[];
  /** At most how long plan may wait, in seconds, when its params bound it (wait_for's timeout). */
  waitsUpTo?(params: P): number | undefined;
  plan(ctx: ModuleContext, params: P): Promise<Plan<D>>;
  apply(ctx: ModuleContext, plan: Plan<D>, params: P): Promise<ApplyResult>;
}
