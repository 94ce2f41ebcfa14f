/**
 * systemd: a unit's state (started, stopped, restarted, reloaded), enabled, masked, and
 * optionally its unit file's content in /etc/systemd/system. One round trip to look: one
 * `systemctl show` plus the unit file's sha256 (and its old text only when it differs, for the diff).
 *
 * daemon_reload: runs `systemctl daemon-reload` only when it is needed, so a re-run stays
 * changed=0: when this task wrote the unit file, or when daemon_reload is asked and systemd
 * reports NeedDaemonReload=yes for the unit (another task changed its file or a drop-in). Without
 * a name, daemon_reload looks at every loaded unit. `restarted` and `reloaded` always act: restarts
 * on change are the handlers' job.
 * enable changes the boot links without a reload of its own (planEnabled).
 */
import type { JSONSchema } from 'json-schema-to-ts';
import { FurrowError, InputError } from '../engine/errors.js';
import { probeUnits, staleUnits, unitName, UNIT_DIR, type UnitStatus } from './probes/systemd.js';
import type { ApplyResult, Module, Plan, ValueChange, ParamsOf } from '../engine/module.js';
import { sh } from '../engine/shell.js';
import { sha256, unifiedDiff } from './support/content.js';
import { flagSchema, toFlag } from './support/param-values.js';
import { commandFailed, commandFailure } from '../engine/command-failure.js';
import type { ExecResult } from '../engine/connections/types.js';

export type UnitState = 'started' | 'stopped' | 'restarted' | 'reloaded';

export type SystemdParams = ParamsOf<typeof schema>;

export interface SystemdData {
  unit?: string;
  /** Unit file text to install first. */
  write?: { path: string; content: string };
  /** systemctl argument lists, run in this order. */
  steps: string[][];
}

/** What the task asks for, with the unit's full name. */
export interface UnitWanted {
  unit: string;
  state?: UnitState;
  enabled?: boolean;
  masked?: boolean;
  daemonReload: boolean;
  content?: string;
}

const schema = {
  type: 'object',
  properties: {
    name: {
      type: 'string',
      minLength: 1,
      description: 'The unit (.service when no suffix is given); without it only daemon_reload may be given.',
      examples: ['etcd', 'containerd.service'],
    },
    state: {
      type: 'string',
      enum: ['started', 'stopped', 'restarted', 'reloaded'],
      description:
        'started or stopped only when needed; restarted and reloaded always act (use them in handlers). A start, ' +
        "restart or reload that fails shows the unit's journal lines since the attempt.",
      examples: ['started', 'restarted'],
    },
    enabled: {
      ...flagSchema,
      description:
        'Start at boot; absent: left as it is. Enabling changes only the boot links: systemd is not reloaded ' +
        'for it (--no-reload), unless the unit changed on disk and nothing else reloads it.',
      examples: [true],
    },
    masked: {
      ...flagSchema,
      description: 'Masked (can not be started at all); absent: left as it is.',
      examples: [false],
    },
    daemon_reload: {
      ...flagSchema,
      description: "Run systemctl daemon-reload when systemd says the unit's files changed (or this task wrote them).",
      examples: [true],
      default: false,
    },
    content: {
      type: 'string',
      description: "The unit file's text, written to /etc/systemd/system/<name> (daemon-reload follows).",
      examples: ['[Unit]\nDescription=etcd\n\n[Service]\nExecStart=/opt/kube/bin/etcd\n'],
    },
  },
  additionalProperties: false,
} as const satisfies JSONSchema;

export const systemd: Module<SystemdParams, SystemdData> = {
  name: 'systemd',
  schema,

  async plan(ctx, params) {
    const daemonReload = toFlag(params.daemon_reload, 'systemd', 'daemon_reload', false);
    if (params.name === undefined) {
      if (
        !daemonReload ||
        params.state ||
        params.enabled !== undefined ||
        params.masked !== undefined ||
        params.content !== undefined
      ) {
        throw new InputError(
          undefined,
          'systemd: name is required',
          'add name: <unit>, or use daemon_reload: true alone',
        );
      }
      const r = await ctx.conn.exec(staleUnits.command());
      if (r.code !== 0) throw commandFailed(ctx.host, 'systemctl show', r);
      return decideReloadOnly(staleUnits.parse(r.stdout.toString('utf8')));
    }
    const want = wanted(params, daemonReload);
    const [status] = await probeUnits(ctx.conn, [
      {
        unit: want.unit,
        ...(want.content !== undefined ? { wantSha256: sha256(want.content) } : {}),
        ...(want.enabled !== undefined ? { checkEnabled: true } : {}),
      },
    ]);
    return decideUnit(want, status!, ctx.check);
  },

  async apply(ctx, plan) {
    const data = plan.data;
    if (!data) return {};
    if (data.write) await ctx.conn.put(data.write.path, { content: data.write.content }, { mode: '0644' });
    if (data.steps.length === 0) return { output: { name: data.unit } };
    const r = await ctx.conn.exec(stepsScript(data.steps, data.unit));
    if (r.code === 0) return { output: { name: data.unit } };
    return {
      failed: true,
      output: { name: data.unit, rc: r.code },
      msg: stepsFailure(ctx.host, data.steps, data.unit, r),
    } satisfies ApplyResult;
  },
};

/** Steps after whose failure the unit's own journal says why (a bind error, a bad flag, ...). */
const STARTING = new Set(['start', 'restart', 'reload']);
const JOURNAL_MARK = 'furrow-journal:';
const JOURNAL_LINES = 15;

function wanted(params: SystemdParams, daemonReload: boolean): UnitWanted {
  const name = params.name!;
  if (name.includes('/') || name.startsWith('.')) {
    throw new InputError(
      undefined,
      `systemd: name ${JSON.stringify(name)} is not a unit name`,
      'give the unit name alone, e.g. name: containerd or name: containerd.service',
    );
  }
  const enabled = toFlag(params.enabled, 'systemd', 'enabled');
  const masked = toFlag(params.masked, 'systemd', 'masked');
  if (masked === true && params.content !== undefined) {
    throw new InputError(
      undefined,
      `systemd: ${name}: masked: true and content cannot go together (masking replaces the unit file with a ` +
        `link to /dev/null)`,
      'drop one of them',
    );
  }
  return {
    unit: unitName(name),
    daemonReload,
    ...(params.state ? { state: params.state } : {}),
    ...(enabled !== undefined ? { enabled } : {}),
    ...(masked !== undefined ? { masked } : {}),
    ...(params.content !== undefined ? { content: params.content } : {}),
  };
}

/**
 * Each step reports itself when it fails, so the message names the command that did; a start that
 * fails adds the unit's journal lines since the attempt began.
 */
function stepsScript(steps: string[][], unit: string | undefined): string {
  const script = steps.map((s) => {
    const failed = `${sh`echo ${`furrow-step-failed: systemctl ${s.join(' ')}`}`} >&2`;
    const journal =
      unit && STARTING.has(s[0]!)
        ? `; ${sh`echo ${JOURNAL_MARK}`} >&2; ` +
          `${sh`journalctl -u ${unit} -n ${String(JOURNAL_LINES)} --no-pager -o cat`} --since "@$since" >&2 2>&1`
        : '';
    return `${sh`systemctl ${s}`} || { ${failed}${journal}; exit 1; }`;
  });
  // A second early: journald's timestamps and this clock may round apart.
  return ['since=$(($(date +%s) - 1))', ...script].join('\n');
}

/** The failed step, systemctl's own words, then the unit's journal lines of the attempt when there are any. */
export function stepsFailure(host: string, steps: string[][], unit: string | undefined, r: ExecResult): string {
  const stderr = r.stderr.toString('utf8');
  const step =
    /^furrow-step-failed: (.*)$/m.exec(stderr)?.[1] ?? steps.map((s) => `systemctl ${s.join(' ')}`).join(' && ');
  const mark = stderr.indexOf(`${JOURNAL_MARK}\n`);
  const own = (mark < 0 ? stderr : stderr.slice(0, mark)).replace(/^furrow-step-failed:.*\n?/m, '');
  const journal =
    mark < 0
      ? []
      : stderr
          .slice(mark + JOURNAL_MARK.length + 1)
          .trim()
          .split('\n')
          .filter(Boolean);
  const said = commandFailure(host, step, { ...r, stderr: Buffer.from(own) });
  const lines = journal.length ? `\n  ${unit}'s journal since the attempt:\n    ${journal.join('\n    ')}` : '';
  return `${said}${lines}${unit ? `\n  see: journalctl -u ${unit} -n 50` : ''}`;
}

export function decideReloadOnly(stale: string[]): Plan<SystemdData> {
  if (stale.length === 0) return { action: 'none', reason: 'no loaded unit needs a daemon-reload' };
  return {
    action: 'update',
    reason: `unit files changed on disk: ${stale.join(', ')}`,
    diff: { values: [{ key: 'daemon-reload', before: 'needed', after: 'done' }] },
    data: { steps: [['daemon-reload']] },
  };
}

const RUNNING = ['active', 'activating', 'reloading'];
/** States in which `enabled: true` holds (static and generated units cannot be enabled further). */
const ENABLED_LIKE = ['enabled', 'enabled-runtime', 'static', 'alias', 'indirect', 'generated'];
/** States `systemctl disable` would change. */
const ENABLED = ['enabled', 'enabled-runtime'];

/** What the plan accumulates: systemctl steps, old/new values and the reasons, in order. */
interface Changes {
  steps: string[][];
  values: ValueChange[];
  reasons: string[];
}

function add(changes: Changes, step: string[], value: ValueChange, reason: string): void {
  changes.steps.push(step);
  changes.values.push(value);
  changes.reasons.push(reason);
}

/** Pure: from what systemd reports to what must be done. */
export function decideUnit(want: UnitWanted, status: UnitStatus, check = false): Plan<SystemdData> {
  const { unit } = want;
  const path = `${UNIT_DIR}/${unit}`;
  const changes: Changes = { steps: [], values: [], reasons: [] };
  const newSha = want.content !== undefined ? sha256(want.content) : undefined;
  const writes = newSha !== undefined && status.fileSha256 !== newSha;
  if (writes) {
    const before = status.fileSha256 ? `sha256:${status.fileSha256}` : null;
    add(
      changes,
      ['daemon-reload'],
      { key: 'content', before, after: `sha256:${newSha}` },
      status.fileSha256 ? `${path} differs` : `${path} does not exist`,
    );
  } else if (want.daemonReload && status.needDaemonReload) {
    add(
      changes,
      ['daemon-reload'],
      { key: 'daemon-reload', before: 'needed', after: 'done' },
      `systemd reports that ${unit} changed on disk (NeedDaemonReload=yes)`,
    );
  }
  const found = status.loadState !== 'not-found' || writes;
  if (
    !found &&
    (want.state === 'started' || want.state === 'restarted' || want.state === 'reloaded' || want.enabled === true)
  ) {
    // In check mode an earlier task (a package, a copy of the unit) would have made it: say what would happen.
    if (check) {
      const after = want.state ?? 'enabled';
      return {
        action: 'update',
        reason: `${unit} does not exist yet: assuming an earlier task installs it, it would be ${after}`,
        diff: { values: [{ key: 'state', before: 'not-found', after }] },
        data: { unit, steps: [] },
      };
    }
    throw new FurrowError(
      'module',
      `systemd: unit ${unit} not found on the host (LoadState=not-found): install the package that provides it, or ` +
        `give its text as content`,
    );
  }
  const unmasking = planMask(want, status, changes);
  if (found) planEnabled(want, status, unmasking, changes);
  const stateStep = found ? decideState(want.state, status) : undefined;
  if (stateStep)
    add(
      changes,
      [stateStep.verb, unit],
      { key: 'state', before: status.activeState, after: stateStep.after },
      stateStep.reason(unit),
    );
  if (changes.steps.length === 0) return { action: 'none', reason: describeUnit(unit, status, found) };
  // The old text is known for a new file ('') or when the probe sent it; then the diff shows text, not hashes.
  const before = status.fileSha256 ? status.content : '';
  const unified = writes && before !== undefined ? unifiedDiff(path, before, want.content!) : undefined;
  const values = unified ? changes.values.filter((v) => v.key !== 'content') : changes.values;
  const data: SystemdData = {
    unit,
    steps: changes.steps,
    ...(writes ? { write: { path, content: want.content! } } : {}),
  };
  // A start (Type=notify, oneshot) may take up to the unit's TimeoutStartSec: say so while it runs.
  const starts = stateStep && ['start', 'restart'].includes(stateStep.verb) && status.startTimeoutSeconds !== undefined;
  return {
    action: writes && !status.fileSha256 ? 'create' : 'update',
    reason: changes.reasons.join('; '),
    diff: { values, ...(unified ? { unified } : {}) },
    data,
    ...(starts ? { waitsUpTo: status.startTimeoutSeconds! } : {}),
  };
}

/** Returns whether the unit gets unmasked (its enablement is then unknown). */
function planMask(want: UnitWanted, status: UnitStatus, changes: Changes): boolean {
  const isMasked = status.loadState === 'masked' || status.unitFileState.startsWith('masked');
  if (want.masked === undefined || want.masked === isMasked) return false;
  const reason = `${want.unit} is ${isMasked ? 'masked' : 'not masked'}, wants ${want.masked ? 'masked' : 'unmasked'}`;
  add(
    changes,
    [want.masked ? 'mask' : 'unmask', want.unit],
    { key: 'masked', before: isMasked, after: want.masked },
    reason,
  );
  return !want.masked;
}

/**
 * enable only changes the links read at boot; on its own it also reloads systemd, which reruns every generator
 * (~0.3 s a host, ten or so times in a first deploy). A start works the same without it, so enable skips it
 * (--no-reload), except when the unit's file changed on disk and this plan reloads not: then its reload is what makes
 * the start that follows see the new file, as it always was. systemd may then go on saying disabled until its next
 * reload, so the probe checks that answer on disk (probes/systemd.ts). disable keeps its reload: the probe trusts an
 * enabled.
 */
function planEnabled(want: UnitWanted, status: UnitStatus, unmasking: boolean, changes: Changes): void {
  if (want.enabled === undefined || want.masked === true) return;
  const shown = status.unitFileState || 'disabled';
  const off = want.enabled ? !ENABLED_LIKE.includes(status.unitFileState) : ENABLED.includes(status.unitFileState);
  // After an unmask the old enablement is unknown: enable/disable is harmless when it is already so.
  if (!off && !unmasking) return;
  const after = want.enabled ? 'enabled' : 'disabled';
  const reloads = changes.steps.some(([verb]) => verb === 'daemon-reload' || verb === 'unmask');
  const quiet = want.enabled && (reloads || !status.needDaemonReload) ? ['--no-reload'] : [];
  add(
    changes,
    [want.enabled ? 'enable' : 'disable', ...quiet, want.unit],
    { key: 'enabled', before: shown, after },
    `${want.unit} is ${shown}, wants ${after}`,
  );
}

interface StateStep {
  verb: string;
  after: string;
  reason(unit: string): string;
}

function decideState(state: UnitState | undefined, status: UnitStatus): StateStep | undefined {
  const running = RUNNING.includes(status.activeState);
  const now = status.activeState;
  switch (state) {
    case 'started':
      return running ? undefined : { verb: 'start', after: 'active', reason: (u) => `${u} is ${now}, wants started` };
    case 'stopped':
      return running || now === 'deactivating'
        ? { verb: 'stop', after: 'inactive', reason: (u) => `${u} is ${now}, wants stopped` }
        : undefined;
    case 'restarted':
      return {
        verb: running ? 'restart' : 'start',
        after: 'restarted',
        reason: (u) => `restarted asked (${u} is ${now})`,
      };
    case 'reloaded':
      return {
        verb: running ? 'reload' : 'start',
        after: 'reloaded',
        reason: (u) => `reloaded asked (${u} is ${now})`,
      };
    default:
      return undefined;
  }
}

function describeUnit(unit: string, status: UnitStatus, found: boolean): string {
  if (!found) return `${unit} is not installed`;
  return (
    `${unit} is ${status.activeState} (${status.subState}) and ` + `${status.unitFileState || 'has no unit file state'}`
  );
}
