/**
 * The systemd probe: for a list of units, one `systemctl show` each, all in one round trip; when asked, the sha256 of
 * the unit file Furrow manages in /etc/systemd/system, and `systemctl is-enabled` for a unit systemd calls disabled
 * (see the command).
 */
import { FurrowError } from '../../engine/errors.js';
import { sh } from '../../engine/shell.js';
import type { Connection } from '../../engine/connections/types.js';
import { commandFailed } from '../../engine/command-failure.js';

export const UNIT_DIR = '/etc/systemd/system';

export interface UnitStatus {
  unit: string;
  /** loaded, not-found, masked, bad-setting, error. */
  loadState: string;
  /** active, inactive, failed, activating, deactivating, reloading. */
  activeState: string;
  subState: string;
  /** enabled, disabled, static, masked, indirect, ... ('' when there is no unit file). */
  unitFileState: string;
  needDaemonReload: boolean;
  /** When the unit last became active ('' if never): a restart changes it. */
  activeEnterTimestamp: string;
  /** How long a start may take before systemd gives up (TimeoutStartSec=), when it is bounded. */
  startTimeoutSeconds?: number;
  /** sha256 of /etc/systemd/system/<unit>, or null when that file does not exist or was not asked for (wantSha256). */
  fileSha256: string | null;
  /** The unit file's text, when asked for and its sha256 differs from the wanted one. */
  content?: string;
}

export interface UnitQuery {
  unit: string;
  /** Send the file's text back when its sha256 differs from this (for a diff). */
  wantSha256?: string;
  /** Check a 'disabled' answer against the disk: only a task that sets `enabled` needs it. */
  checkEnabled?: boolean;
}

const MAX_CONTENT = 256 * 1024;

const PROPERTIES =
  'ActiveState,SubState,UnitFileState,LoadState,NeedDaemonReload,ActiveEnterTimestamp,TimeoutStartUSec';

/** `nginx` means `nginx.service`, as systemctl reads it. */
export function unitName(name: string): string {
  return /\.(service|socket|timer|mount|automount|swap|target|path|slice|scope|device)$/.test(name)
    ? name
    : `${name}.service`;
}

export const systemdStatus = {
  /** Exit status 127 means systemctl is missing (no systemd on this host). */
  command(queries: UnitQuery[]): string {
    const lines = ['command -v systemctl >/dev/null 2>&1 || { echo "systemctl not found" >&2; exit 127; }'];
    for (const { unit, wantSha256, checkEnabled } of queries) {
      const file = `${UNIT_DIR}/${unit}`;
      lines.push(sh`echo ${`@unit ${unit}`}`, sh`s=$(systemctl show -p ${PROPERTIES} -- ${unit}) || exit 1; echo "$s"`);
      // After `enable --no-reload` (systemd.ts) systemd may go on saying disabled until its next reload (seen in a
      // deploy, not in every case), so that answer is checked on disk.
      if (checkEnabled) {
        lines.push(
          sh`case "$s" in *UnitFileState=disabled*) ` +
            sh`echo "@enabled $(systemctl is-enabled -- ${unit} 2>/dev/null)";; esac`,
        );
      }
      // The unit file is hashed only for a task that gives its text, and its old text comes back only when it
      // differs, for the diff: an unchanged unit costs nothing more.
      if (wantSha256 !== undefined) {
        lines.push(
          sh`if [ -f ${file} ]; then h=$(sha256sum < ${file}); h=\${h%% *}; echo "@sha256 $h"; else h=; echo ` +
            sh`"@sha256 -"; fi`,
          sh`if [ -n "$h" ] && [ "$h" != ${wantSha256} ] && [ "$(wc -c < ${file})" -le ${MAX_CONTENT} ]; then echo ` +
            sh`@content; base64 < ${file}; echo @end; fi`,
        );
      }
    }
    return lines.join('\n');
  },

  /** Pure: one UnitStatus per `@unit` block, in order. */
  parse(stdout: string): UnitStatus[] {
    const out: UnitStatus[] = [];
    let inContent = false;
    let encoded: string[] = [];
    for (const line of stdout.split('\n')) {
      if (line.startsWith('@unit ')) {
        out.push({ ...systemdStatus.default, unit: line.slice(6) });
        continue;
      }
      const current = out[out.length - 1];
      if (!current || line === '') continue;
      if (line === '@content') {
        inContent = true;
        encoded = [];
        continue;
      }
      if (inContent) {
        if (line === '@end') {
          current.content = Buffer.from(encoded.join(''), 'base64').toString('utf8');
          inContent = false;
        } else encoded.push(line);
        continue;
      }
      if (line.startsWith('@enabled ')) {
        const onDisk = line.slice('@enabled '.length).trim();
        if (onDisk) current.unitFileState = onDisk;
        continue;
      }
      if (line.startsWith('@sha256 ')) {
        const hash = line.slice(8);
        current.fileSha256 = /^[0-9a-f]{64}$/.test(hash) ? hash : null;
        continue;
      }
      setProperty(current, line);
    }
    return out;
  },

  /** A unit systemd has never heard of. */
  default: {
    unit: '',
    loadState: 'not-found',
    activeState: 'inactive',
    subState: 'dead',
    unitFileState: '',
    needDaemonReload: false,
    activeEnterTimestamp: '',
    fileSha256: null,
  } as UnitStatus,
};

function setProperty(status: UnitStatus, line: string): void {
  const eq = line.indexOf('=');
  if (eq < 0) return;
  const value = line.slice(eq + 1);
  switch (line.slice(0, eq)) {
    case 'LoadState':
      status.loadState = value;
      break;
    case 'ActiveState':
      status.activeState = value;
      break;
    case 'SubState':
      status.subState = value;
      break;
    case 'UnitFileState':
      status.unitFileState = value;
      break;
    case 'NeedDaemonReload':
      status.needDaemonReload = value === 'yes';
      break;
    case 'ActiveEnterTimestamp':
      status.activeEnterTimestamp = value;
      break;
    case 'TimeoutStartUSec': {
      const seconds = systemdSpanSeconds(value);
      if (seconds !== undefined) status.startTimeoutSeconds = seconds;
      break;
    }
  }
}

const SPAN_UNITS: Record<string, number> = { us: 1e-6, ms: 1e-3, s: 1, min: 60, h: 3600, d: 86400 };

/**
 * systemd's time span as `systemctl show` prints it ("1min 30s", "300ms"), in seconds; undefined for "infinity" or what
 * does not parse.
 */
export function systemdSpanSeconds(text: string): number | undefined {
  const parts = text.trim().split(/\s+/);
  let total = 0;
  for (const part of parts) {
    const m = /^(\d+(?:\.\d+)?)(us|ms|s|min|h|d)$/.exec(part);
    if (!m) return undefined;
    total += Number(m[1]) * SPAN_UNITS[m[2]!]!;
  }
  return parts.length && text.trim() ? Math.ceil(total) : undefined;
}

/** Probes `units` in one round trip. */
export async function probeUnits(conn: Connection, queries: UnitQuery[]): Promise<UnitStatus[]> {
  const units = queries.map((q) => q.unit);
  const r = await conn.exec(systemdStatus.command(queries));
  if (r.code === 127)
    throw new FurrowError('module', `${conn.spec.name}: systemctl not found: this host does not run systemd`);
  if (r.code !== 0) {
    throw commandFailed(conn.spec.name, `systemctl show ${units.join(' ')}`, r);
  }
  const found = systemdStatus.parse(r.stdout.toString('utf8'));
  if (found.length !== units.length)
    throw new FurrowError(
      'module',
      `${conn.spec.name}: systemd probe returned ${found.length} results for ${units.length} units`,
    );
  return found;
}

/** For `daemon_reload` without a unit: the loaded units whose files changed on disk. */
export const staleUnits = {
  command(): string {
    return `systemctl show -p Id,NeedDaemonReload -- '*'`;
  },
  parse(stdout: string): string[] {
    const stale: string[] = [];
    let id = '';
    for (const line of stdout.split('\n')) {
      if (line.startsWith('Id=')) id = line.slice(3);
      else if (line === 'NeedDaemonReload=yes' && id) stale.push(id);
    }
    return stale;
  },
  default: [] as string[],
};
