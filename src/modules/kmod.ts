/**
 * kmod: a kernel module loaded now (modprobe) and, with `persistent: present`, at every boot
 * (/etc/modules-load.d/<name>.conf, and /etc/modprobe.d/<name>.conf for its params), as
 * Ansible's community.general.modprobe. A module that is already loaded or built into the kernel
 * is fine as it is. Where /lib/modules is missing (containers share the machine's kernel) a module
 * that is not loaded cannot be loaded: apply says so; the boot-time files are still managed.
 */
import type { JSONSchema } from 'json-schema-to-ts';
import { FurrowError, InputError } from '../engine/errors.js';
import { kernelName, loadFilePath, optionsFilePath, probeKmods, type KmodInfo, type KmodState } from './probes/kmod.js';
import type { Module, Plan, ValueChange, ParamsOf } from '../engine/module.js';
import { sh } from '../engine/shell.js';
import { unifiedDiff } from './support/content.js';
import { commandFailure } from '../engine/command-failure.js';

export type KmodParams = ParamsOf<typeof schema>;

const MODULE_NAME_RE = /^[A-Za-z0-9_-]+$/;

export interface KmodData {
  name: string;
  writes: { path: string; content: string }[];
  removes: string[];
  /** modprobe arguments (after `--`), or undefined when nothing is to be loaded or unloaded. */
  modprobe?: string[];
  /** Why loading cannot work on this host, told only if it is really tried and fails. */
  loadProblem?: string;
}

const schema = {
  type: 'object',
  required: ['name'],
  properties: {
    name: { type: 'string', minLength: 1, description: 'The kernel module.', examples: ['br_netfilter'] },
    state: {
      type: 'string',
      enum: ['present', 'absent'],
      description: 'present loads it (modprobe), absent unloads it.',
      examples: ['absent'],
      default: 'present',
    },
    params: {
      type: 'string',
      description: 'Module parameters, space separated, for loading now and (with persistent) at boot.',
      examples: ['hashsize=131072'],
    },
    persistent: {
      type: 'string',
      enum: ['present', 'absent', 'disabled'],
      description:
        'present: also load it at every boot (/etc/modules-load.d/<name>.conf); absent: remove those files; ' +
        'disabled: leave boot-time files alone.',
      examples: ['present'],
      default: 'disabled',
    },
  },
  additionalProperties: false,
} as const satisfies JSONSchema;

export const kmod: Module<KmodParams, KmodData> = {
  name: 'kmod',
  schema,

  async plan(ctx, params) {
    if (!MODULE_NAME_RE.test(params.name)) {
      throw new InputError(
        undefined,
        `kmod: name ${JSON.stringify(params.name)} is not a kernel module name`,
        'give the module name alone, e.g. name: br_netfilter',
      );
    }
    // A loop of modules reads them all in one round trip (the loop's later items too).
    const read = await ctx.probeShared<KmodState>(
      [params.name],
      (later) => (typeof later.name === 'string' && MODULE_NAME_RE.test(later.name) ? [later.name] : []),
      async (names) => {
        const state = await probeKmods(ctx.conn, names);
        return new Map(names.map((n) => [n, { ...state, modules: state.modules.filter((m) => m.name === n) }]));
      },
    );
    return decideKmod(params, read.get(params.name)!);
  },

  async apply(ctx, plan) {
    const data = plan.data;
    if (!data) return {};
    for (const w of data.writes) await ctx.conn.put(w.path, { content: w.content }, { mode: '0644' });
    if (data.removes.length) {
      const r = await ctx.conn.exec(sh`rm -f -- ${data.removes}`);
      if (r.code !== 0)
        return { failed: true, msg: commandFailure(ctx.host, `removing ${data.removes.join(', ')}`, r) };
    }
    if (!data.modprobe) return {};
    const r = await ctx.conn.exec(sh`modprobe ${data.modprobe}`);
    if (r.code === 0) return {};
    const what =
      data.modprobe[0] === '-r' ? `unloading kernel module ${data.name}` : `loading kernel module ${data.name}`;
    const why = data.loadProblem ? `\n  ${data.loadProblem}` : '';
    return { failed: true, msg: `${commandFailure(ctx.host, what, r)}${why}` };
  },
};

/** Pure: what to load, unload, write and remove. */
export function decideKmod(params: KmodParams, state: KmodState): Plan<KmodData> {
  const { name } = params;
  const info: KmodInfo = state.modules[0] ?? { name, loaded: false, builtin: false, loadFile: null, optionsFile: null };
  const present = (params.state ?? 'present') === 'present';
  const args = (params.params ?? '').trim().split(/\s+/).filter(Boolean);
  const data: KmodData = { name, writes: [], removes: [] };
  const values: ValueChange[] = [];
  const reasons: string[] = [];
  const diffs: string[] = [];
  if (present && !info.loaded && !info.builtin) {
    data.modprobe = ['--', name, ...args];
    const problem = loadProblem(state);
    if (problem) data.loadProblem = problem;
    values.push({ key: 'loaded', before: false, after: true });
    reasons.push(`${name} is not loaded`);
  } else if (!present && info.builtin && !info.loaded) {
    throw new FurrowError('module', `kmod: ${name} is built into the kernel (${state.kernel}): it cannot be unloaded`);
  } else if (!present && info.loaded) {
    data.modprobe = ['-r', '--', name];
    values.push({ key: 'loaded', before: true, after: false });
    reasons.push(`${name} is loaded`);
  }
  for (const change of persistChanges(params, info, present, args)) {
    if (change.content === null) data.removes.push(change.path);
    else data.writes.push({ path: change.path, content: change.content });
    diffs.push(unifiedDiff(change.path, change.before ?? '', change.content ?? ''));
    reasons.push(
      change.content === null
        ? `${change.path} exists`
        : change.before === null
          ? `${change.path} does not exist`
          : `${change.path} differs`,
    );
  }
  if (reasons.length === 0) return { action: 'none', reason: noneReason(name, info, present) };
  const diff = { values, ...(diffs.length ? { unified: diffs.join('') } : {}) };
  return {
    action: present ? (info.loaded || info.builtin ? 'update' : 'create') : 'delete',
    reason: reasons.join('; '),
    diff,
    data,
  };
}

interface PersistChange {
  path: string;
  before: string | null;
  /** null: remove the file. */
  content: string | null;
}

/** The boot-time files: written for persistent present (and a present module), removed for absent. */
function persistChanges(params: KmodParams, info: KmodInfo, present: boolean, args: string[]): PersistChange[] {
  const persistent = params.persistent ?? 'disabled';
  if (persistent === 'disabled') return [];
  const load = loadFilePath(params.name);
  const options = optionsFilePath(params.name);
  const keep = persistent === 'present' && present;
  const wanted: [string, string | null, string | null][] = [
    [load, info.loadFile, keep ? `${params.name}\n` : null],
    // Options are ours to write only when params are given; without them an existing file stays.
    [
      options,
      info.optionsFile,
      keep ? (args.length ? `options ${kernelName(params.name)} ${args.join(' ')}\n` : info.optionsFile) : null,
    ],
  ];
  return wanted
    .filter(([, before, after]) => before !== after)
    .map(([path, before, content]) => ({ path, before, content }));
}

function loadProblem(state: KmodState): string | undefined {
  if (!state.modprobe) return 'modprobe is not installed on this host (package kmod)';
  if (!state.moduleDir) {
    return (
      `/lib/modules/${state.kernel} does not exist on this host, so no module can be loaded here (a container ` +
      `shares the machine's kernel: load the module on the machine itself)`
    );
  }
  return undefined;
}

function noneReason(name: string, info: KmodInfo, present: boolean): string {
  if (!present) return `${name} is not loaded`;
  return info.loaded ? `${name} is loaded` : `${name} is built into the kernel`;
}
