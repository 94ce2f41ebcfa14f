/**
 * command: runs a program with its arguments, never through a shell: every argument is quoted,
 * so `$HOME`, `*`, `|` and `;` reach the program as they are written. Always a change, unless a
 * `creates` / `removes` guard says there is nothing to do (one round trip to look, none without
 * guards). The guards and the run itself are shared with `shell`.
 */
import type { JSONSchema } from 'json-schema-to-ts';
import path from 'node:path';
import { InputError } from '../engine/errors.js';
import type { ExecResult } from '../engine/connections/types.js';
import type { ApplyResult, Module, ModuleContext, Plan, ParamsOf } from '../engine/module.js';
import { sh } from '../engine/shell.js';
import { flagSchema, toFlag } from './support/param-values.js';
import { commandFailed } from '../engine/command-failure.js';

/** The run options command and shell share (chdir, creates, removes, stdin, ...). */
export type RunParams = ParamsOf<{ type: 'object'; properties: typeof runSchemaProperties }>;

export type CommandParams = ParamsOf<typeof schema>;

/** What apply runs: the whole sh text, and the command as the result reports it. */
export interface RunData {
  script: string;
  cmd: string | string[];
  /** Exactly what goes to the command's standard input. */
  stdin?: string;
  /** Drop trailing newlines from stdout and stderr (strip_empty_ends). */
  strip?: boolean;
}

export const runSchemaProperties = {
  chdir: { type: 'string', minLength: 1, description: 'the folder on the host to run in', examples: ['/var/lib/etcd'] },
  creates: {
    type: 'string',
    minLength: 1,
    description: 'a path on the host: when it exists the command does not run (ok, not changed)',
    examples: ['/etc/kubernetes/pki/ca.crt'],
  },
  removes: {
    type: 'string',
    minLength: 1,
    description: 'a path on the host: the command runs only when it exists',
    examples: ['/var/lib/etcd/member'],
  },
  stdin: { type: 'string', description: 'text for the command on its standard input', examples: ['y'] },
  stdin_add_newline: { ...flagSchema, default: true, description: 'end stdin with a newline', examples: [false] },
  strip_empty_ends: {
    ...flagSchema,
    default: true,
    description: "drop stdout's and stderr's trailing newlines",
    examples: [false],
  },
} as const;

const schema = {
  type: 'object',
  properties: {
    cmd: {
      type: 'string',
      description:
        'The command line, split into words as a shell would but run without one (no pipes, redirections or ' +
        'variables); or give it as the free form.',
      examples: ['/opt/kube/bin/etcdctl endpoint health'],
    },
    argv: {
      type: 'array',
      items: { type: 'string' },
      minItems: 1,
      description: 'The command as a list of words, none of them split again.',
      examples: [['/opt/kube/bin/kubectl', 'get', 'nodes', '-o', 'name']],
    },
    ...runSchemaProperties,
  },
  additionalProperties: false,
} as const satisfies JSONSchema;

export const command: Module<CommandParams, RunData> = {
  name: 'command',
  freeForm: 'cmd',
  schema,

  async plan(ctx, params) {
    const argv = commandArgv(params);
    return planRun(ctx, params, { script: withChdir(params.chdir, sh`exec ${argv}`), cmd: argv }, 'command');
  },

  apply: applyRun,
};

function commandArgv(params: CommandParams): string[] {
  if (params.argv && params.cmd !== undefined)
    throw new InputError(undefined, 'command: give either cmd or argv, not both', 'keep one of them');
  if (params.argv) return params.argv;
  let argv: string[] = [];
  try {
    argv = splitArgv(params.cmd ?? '');
  } catch (err) {
    throw new InputError(
      undefined,
      `command: cannot split ${JSON.stringify(params.cmd)} into words: ${(err as Error).message}`,
      'balance the quotes, or give the words as argv: [prog, arg, ...]',
    );
  }
  if (argv.length === 0)
    throw new InputError(undefined, 'command: no command given', 'write `command: prog args` or give cmd / argv');
  return argv;
}

/** Words as Python's shlex.split (posix, no comments), which Ansible's command uses. */
export function splitArgv(text: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (/\s/.test(c)) {
      if (inWord) words.push(word);
      [word, inWord] = ['', false];
      continue;
    }
    inWord = true;
    if (c === "'") {
      const end = text.indexOf("'", i + 1);
      if (end < 0) throw new Error('no closing quotation');
      word += text.slice(i + 1, end);
      i = end;
    } else if (c === '"') {
      let j = i + 1;
      for (; j < text.length && text[j] !== '"'; j++) {
        if (text[j] === '\\' && (text[j + 1] === '"' || text[j + 1] === '\\')) j++;
        word += text[j];
      }
      if (j >= text.length) throw new Error('no closing quotation');
      i = j;
    } else if (c === '\\') {
      if (i + 1 >= text.length) throw new Error('no escaped character');
      word += text[++i];
    } else word += c;
  }
  if (inWord) words.push(word);
  return words;
}

export function withChdir(chdir: string | undefined, body: string): string {
  return chdir ? `${sh`cd ${chdir}`} && ${body}` : body;
}

/** Guards are relative to chdir, as in Ansible (which changes directory first). */
function guardPath(p: string, chdir: string | undefined): string {
  return chdir && !path.posix.isAbsolute(p) ? path.posix.join(chdir, p) : p;
}

/** One sh script answering both guards; a glob matches when any path matches it. */
export function guardCommand(creates: string | undefined, removes: string | undefined): string {
  // Unquoted $1 with IFS empty: pathname expansion only, no word splitting, nothing else.
  const lines = [
    'furrow_exists() { IFS=; for f in $1; do if [ -e "$f" ] || [ -L "$f" ]; then return 0; fi; done; return 1; }',
  ];
  if (creates !== undefined)
    lines.push(sh`if furrow_exists ${creates}; then echo 'creates 1'; else echo 'creates 0'; fi`);
  if (removes !== undefined)
    lines.push(sh`if furrow_exists ${removes}; then echo 'removes 1'; else echo 'removes 0'; fi`);
  return lines.join('\n');
}

export interface GuardState {
  creates?: { path: string; exists: boolean };
  removes?: { path: string; exists: boolean };
}

export function parseGuards(stdout: string, creates: string | undefined, removes: string | undefined): GuardState {
  const seen = (key: string) => new RegExp(`^${key} 1$`, 'm').test(stdout);
  return {
    ...(creates !== undefined ? { creates: { path: creates, exists: seen('creates') } } : {}),
    ...(removes !== undefined ? { removes: { path: removes, exists: seen('removes') } } : {}),
  };
}

/** Pure: run, unless a guard says the work is done. */
export function decideRun(guards: GuardState, run: RunData): Plan<RunData> {
  if (guards.creates?.exists) return { action: 'none', reason: `${guards.creates.path} exists: not running` };
  if (guards.removes && !guards.removes.exists)
    return { action: 'none', reason: `${guards.removes.path} does not exist: not running` };
  const shown = Array.isArray(run.cmd) ? run.cmd.join(' ') : run.cmd;
  return { action: 'run', reason: `runs: ${shown}`, data: run };
}

export async function planRun(
  ctx: ModuleContext,
  params: RunParams,
  command: Pick<RunData, 'script' | 'cmd'>,
  module: string,
): Promise<Plan<RunData>> {
  const addNewline = toFlag(params.stdin_add_newline, module, 'stdin_add_newline', true);
  const run: RunData = {
    ...command,
    strip: toFlag(params.strip_empty_ends, module, 'strip_empty_ends', true),
    ...(params.stdin !== undefined ? { stdin: addNewline ? `${params.stdin}\n` : params.stdin } : {}),
  };
  const creates = params.creates !== undefined ? guardPath(params.creates, params.chdir) : undefined;
  const removes = params.removes !== undefined ? guardPath(params.removes, params.chdir) : undefined;
  if (creates === undefined && removes === undefined) return decideRun({}, run);
  const r = await ctx.conn.exec(guardCommand(creates, removes));
  if (r.code !== 0) throw commandFailed(ctx.host, 'checking the creates/removes guards', r);
  return decideRun(parseGuards(r.stdout.toString('utf8'), creates, removes), run);
}

export async function applyRun(ctx: ModuleContext, plan: Plan<RunData>): Promise<ApplyResult> {
  const run = plan.data;
  if (!run) return {};
  const start = new Date();
  // ownChannel: an operator's command may start a daemon that keeps its output open.
  const r = await ctx.conn.exec(
    run.script,
    run.stdin === undefined ? { ownChannel: true } : { stdin: run.stdin, ownChannel: true },
  );
  return commandResult(r, run.cmd, run.strip ?? true, start, new Date());
}

/** What `register` keeps, with Ansible's keys; failed when the exit status is not 0. */
export function commandResult(
  r: ExecResult,
  cmd: string | string[],
  strip: boolean,
  start: Date,
  end: Date,
): ApplyResult {
  const text = (b: Buffer) => (strip ? b.toString('utf8').replace(/[\r\n]+$/, '') : b.toString('utf8'));
  const stdout = text(r.stdout);
  const stderr = text(r.stderr);
  const rc = r.code ?? -1;
  const output = {
    rc,
    stdout,
    stderr,
    stdout_lines: lines(stdout),
    stderr_lines: lines(stderr),
    cmd,
    start: stamp(start),
    end: stamp(end),
    delta: delta(end.getTime() - start.getTime()),
  };
  if (rc === 0) return { output, changed: true };
  const why = r.timedOut
    ? 'timed out'
    : r.code === null
      ? `killed by signal ${r.signal ?? '?'}`
      : 'non-zero return code';
  const tail = stderr ? `: ${stderr.split('\n').slice(-20).join('\n')}` : '';
  return { output: { ...output, msg: why }, changed: true, failed: true, msg: `${why} (rc ${rc})${tail}` };
}

function lines(text: string): string[] {
  return text === '' ? [] : text.replace(/\r?\n$/, '').split(/\r?\n/);
}

function stamp(d: Date): string {
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return (
    `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ` +
    `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}000`
  );
}

function delta(ms: number): string {
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  const s = Math.floor(ms / 1000);
  return `${Math.floor(s / 3600)}:${p(Math.floor(s / 60) % 60)}:${p(s % 60)}.${p(ms % 1000, 3)}000`;
}
