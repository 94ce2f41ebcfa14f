/**
 * sysctl: a kernel parameter in a sysctl file and, with reload (the default), its live value.
 * Each is written only when it differs, so a re-run changes nothing. One round trip to look.
 *
 * Where Ansible writes /etc/sysctl.conf, the default file here is the drop-in
 * /etc/sysctl.d/99-furrow.conf: it is ours alone, read at boot by systemd-sysctl after the
 * distribution's files, and never mixed with the operator's own edits. `sysctl_file` picks another.
 * The live value is read from and written to /proc/sys directly (no procps needed); `reload`
 * makes sure the live value is the wanted one whether or not the file changed.
 */
import type { JSONSchema } from 'json-schema-to-ts';
import { FurrowError, InputError } from '../engine/errors.js';
import { probeSysctl, procPath, type SysctlState } from './probes/sysctl.js';
import type { Module, Plan, ValueChange, ParamsOf } from '../engine/module.js';
import { sh } from '../engine/shell.js';
import { unifiedDiff } from './support/content.js';
import { flagSchema, toFlag } from './support/param-values.js';
import { commandFailure } from '../engine/command-failure.js';

export const DEFAULT_SYSCTL_FILE = '/etc/sysctl.d/99-furrow.conf';

export type SysctlParams = ParamsOf<typeof schema>;

export interface SysctlWanted {
  name: string;
  /** Normalized: booleans as 1/0, runs of whitespace as one space. */
  value?: string;
  state: 'present' | 'absent';
  file: string;
  setLive: boolean;
  ignoreErrors: boolean;
}

export interface SysctlData {
  file?: { path: string; content: string };
  live?: { path: string; value: string };
  ignoreErrors: boolean;
}

const schema = {
  type: 'object',
  required: ['name'],
  properties: {
    name: {
      type: 'string',
      minLength: 1,
      description: 'The kernel parameter, dotted.',
      examples: ['net.ipv4.ip_forward'],
    },
    value: {
      type: ['string', 'number', 'boolean'],
      description: 'Its wanted value (required with state present).',
      examples: ['1', 0],
    },
    state: {
      type: 'string',
      enum: ['present', 'absent'],
      description: 'present writes name = value in sysctl_file; absent removes the line (the live value stays).',
      examples: ['absent'],
      default: 'present',
    },
    sysctl_file: {
      type: 'string',
      minLength: 1,
      description: 'The file the setting is kept in, read at boot.',
      examples: ['/etc/sysctl.d/95-k8s.conf'],
      default: DEFAULT_SYSCTL_FILE,
    },
    reload: {
      ...flagSchema,
      description: 'Also make the live value (/proc/sys) the wanted one.',
      examples: [false],
      default: true,
    },
    sysctl_set: {
      ...flagSchema,
      description: 'Accepted for Ansible playbooks: reload already sets the live value.',
      examples: [true],
      default: false,
    },
    ignoreerrors: {
      ...flagSchema,
      description: 'A parameter the kernel does not have is a note, not a failure.',
      examples: [true],
      default: false,
    },
  },
  additionalProperties: false,
} as const satisfies JSONSchema;

export const sysctl: Module<SysctlParams, SysctlData> = {
  name: 'sysctl',
  schema,

  async plan(ctx, params) {
    const want = wanted(params);
    // A loop of sysctls in one file reads them all in one round trip (the loop's later items too).
    const keyOf = (w: SysctlWanted) => `${w.file}\n${w.name}`;
    const read = await ctx.probeShared<SharedSysctl>(
      [keyOf(want)],
      (later) => {
        const w = wantedOrUndefined(later as SysctlParams);
        return w && w.file === want.file ? [keyOf(w)] : [];
      },
      async (keys) => {
        const names = keys.map((k) => k.slice(k.indexOf('\n') + 1));
        const state = await probeSysctl(ctx.conn, names, want.file);
        return new Map(keys.map((k, i) => [k, { live: state.live.get(names[i]!) ?? null, file: state.file }]));
      },
    );
    const mine = read.get(keyOf(want))!;
    return decideSysctl(want, { live: new Map([[want.name, mine.live]]), file: mine.file });
  },

  async apply(ctx, plan) {
    const data = plan.data;
    if (!data) return {};
    if (data.file) await ctx.conn.put(data.file.path, { content: data.file.content }, { mode: '0644' });
    if (!data.live) return {};
    const r = await ctx.conn.exec(sh`printf '%s\\n' ${data.live.value} > ${data.live.path}`);
    if (r.code === 0) return {};
    const msg = commandFailure(ctx.host, `writing ${data.live.value} to ${data.live.path}`, r);
    return data.ignoreErrors ? { msg: `${msg} (ignored: ignoreerrors)` } : { failed: true, msg };
  },
};

/** One key's live value and its file's text, as a shared probe keeps them. */
interface SharedSysctl {
  live: string | null;
  file: string | null;
}

function wantedOrUndefined(params: SysctlParams): SysctlWanted | undefined {
  try {
    return wanted(params);
  } catch {
    return undefined;
  }
}

export function wanted(params: SysctlParams): SysctlWanted {
  const { name } = params;
  if (!/^[A-Za-z0-9_][A-Za-z0-9_./:@-]*$/.test(name) || name.includes('..')) {
    throw new InputError(
      undefined,
      `sysctl: name ${JSON.stringify(name)} is not a sysctl key`,
      'give a key such as net.ipv4.ip_forward',
    );
  }
  const state = params.state ?? 'present';
  if (state === 'present' && params.value === undefined)
    throw new InputError(undefined, `sysctl: ${name}: value is required with state present`, `add value: <the value>`);
  const reload = toFlag(params.reload, 'sysctl', 'reload', true);
  const set = toFlag(params.sysctl_set, 'sysctl', 'sysctl_set', false);
  return {
    name,
    state,
    file: params.sysctl_file ?? DEFAULT_SYSCTL_FILE,
    setLive: state === 'present' && (reload || set),
    ignoreErrors: toFlag(params.ignoreerrors, 'sysctl', 'ignoreerrors', false),
    ...(params.value !== undefined ? { value: normalizeValue(params.value) } : {}),
  };
}

/** As Ansible: yes/true -> 1, no/false -> 0, whitespace collapsed (the kernel prints tabs). */
export function normalizeValue(value: string | number | boolean): string {
  if (typeof value === 'boolean') return value ? '1' : '0';
  const text = String(value).trim().split(/\s+/).join(' ');
  if (['yes', 'true', 'on'].includes(text.toLowerCase())) return '1';
  if (['no', 'false', 'off'].includes(text.toLowerCase())) return '0';
  return text;
}

/** Pure: the file's new text: the key's first line replaced (or appended), duplicates dropped. */
export function rewriteFile(text: string | null, name: string, value: string | undefined): string {
  const lines = text === null || text === '' ? [] : text.replace(/\n$/, '').split('\n');
  const out: string[] = [];
  let placed = false;
  for (const line of lines) {
    if (keyOf(line) !== name) out.push(line);
    else if (value !== undefined && !placed) {
      out.push(`${name}=${value}`);
      placed = true;
    }
  }
  if (value !== undefined && !placed) out.push(`${name}=${value}`);
  return out.length ? `${out.join('\n')}\n` : '';
}

function keyOf(line: string): string | undefined {
  const t = line.trim();
  if (!t || t.startsWith('#') || t.startsWith(';') || !t.includes('=')) return undefined;
  return t.slice(0, t.indexOf('=')).trim().replace(/^-/, '');
}

/** Pure: what to write, from the probed state. */
export function decideSysctl(want: SysctlWanted, state: SysctlState): Plan<SysctlData> {
  const { name, file } = want;
  const value = want.state === 'present' ? want.value : undefined;
  const newText = rewriteFile(state.file, name, value);
  const fileChanges = newText !== (state.file ?? '');
  const live = state.live.get(name) ?? null;
  if (want.setLive && live === null && !want.ignoreErrors) {
    throw new FurrowError(
      'module',
      `sysctl: ${name} does not exist on this host (no ${procPath(name)}): check the name, load the module that ` +
        `provides it first (e.g. br_netfilter for net.bridge.*), or set ignoreerrors: true`,
    );
  }
  const liveChanges = want.setLive && live !== null && normalizeValue(live) !== value;
  const values: ValueChange[] = [];
  const reasons: string[] = [];
  if (liveChanges) {
    values.push({ key: name, before: live, after: value });
    reasons.push(`${name} is ${live}, wants ${value}`);
  }
  if (fileChanges)
    reasons.push(want.state === 'absent' ? `${file} sets ${name}` : `${file} does not set ${name}=${value}`);
  if (!fileChanges && !liveChanges) return { action: 'none', reason: noneReason(want, live) };
  const data: SysctlData = {
    ignoreErrors: want.ignoreErrors,
    ...(fileChanges ? { file: { path: file, content: newText } } : {}),
    ...(liveChanges ? { live: { path: procPath(name), value: value! } } : {}),
  };
  const diff = { values, ...(fileChanges ? { unified: unifiedDiff(file, state.file ?? '', newText) } : {}) };
  return {
    action: want.state === 'absent' ? 'delete' : state.file === null ? 'create' : 'update',
    reason: reasons.join('; '),
    diff,
    data,
  };
}

function noneReason(want: SysctlWanted, live: string | null): string {
  if (want.state === 'absent') return `${want.file} does not set ${want.name}`;
  if (!want.setLive) return `${want.file} sets ${want.name}=${want.value}`;
  if (live === null) return `${want.file} sets ${want.name}=${want.value} (not in /proc/sys: ignored)`;
  return `${want.name} is ${want.value}`;
}
