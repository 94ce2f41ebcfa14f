import { raw, sh } from '../../engine/shell.js';

/**
 * Package probes: what is installed, what the package manager would install, and how old apt's
 * cache is, for many names in ONE round trip. Each part has a pure parser over its output, so the
 * parsers are tested on canned text. The script detects the manager itself (apt first, then dnf,
 * then yum) unless one is forced, which saves a facts round trip.
 */

export type PackageManager = 'apt' | 'dnf' | 'yum';

export interface InstalledPackage {
  /** Installed version, or undefined when the package is absent (or only its config files remain). */
  version?: string;
}

export interface AptPolicy {
  installed?: string;
  /** What `apt-get install` would install now; undefined when apt knows no installable version. */
  candidate?: string;
}

export interface PackageProbe {
  manager: PackageManager | 'none';
  installed: Map<string, InstalledPackage>;
  /** apt: `apt-cache policy`; dnf/yum: only packages with an upgrade, from `list --upgrades`. */
  candidates: Map<string, AptPolicy>;
  /** Seconds since apt's lists were last refreshed (apt only; undefined if never). */
  cacheAgeSeconds?: number;
}

// The architecture too, so a name asked for as NAME:ARCH (libc6:amd64) is found as well.
const DPKG_FORMAT = '${Package}:${Architecture}\\t${Status}\\t${Version}\\n';
const RPM_FORMAT = '%{NAME}\\t%{VERSION}-%{RELEASE}\\n';
/** Our own stamp after `apt-get update` (the file update-notifier and Ansible use too). */
export const APT_UPDATE_STAMP = '/var/lib/apt/periodic/update-success-stamp';

/** `dpkg-query -W` with stderr merged: a name dpkg never heard of gives "no packages found matching NAME". */
export function parseDpkgQuery(output: string, names: string[]): Map<string, InstalledPackage> {
  const found = new Map<string, InstalledPackage>(names.map((n) => [n, {}]));
  for (const line of output.split('\n')) {
    const [qualified, status, version] = line.split('\t');
    if (qualified === undefined || status === undefined) continue;
    // Status is "want error state": only state 'installed' counts (not config-files, half-installed...).
    const installed = status.trim().split(/\s+/)[2] === 'installed';
    const name = qualified.replace(/:[^:]*$/, '');
    for (const key of [name, qualified]) {
      if (installed || !found.get(key)?.version)
        found.set(key, installed && version ? { version: version.trim() } : {});
    }
  }
  return found;
}

/** `apt-cache policy NAMES`: a block per known name; unknown names print nothing. */
export function parseAptPolicy(output: string): Map<string, AptPolicy> {
  const found = new Map<string, AptPolicy>();
  let current: AptPolicy | undefined;
  for (const line of output.split('\n')) {
    const head = /^(\S+):$/.exec(line);
    if (head?.[1]) {
      current = {};
      found.set(head[1].replace(/:[a-z0-9]+$/, ''), current);
      continue;
    }
    const field = /^ {2}(Installed|Candidate): (.+)$/.exec(line);
    if (!current || !field?.[2]) continue;
    const value = field[2].trim() === '(none)' ? undefined : field[2].trim();
    if (field[1] === 'Installed') current.installed = value;
    else current.candidate = value;
  }
  return found;
}

/** `rpm -q --qf NAME\tVERSION-RELEASE`: a missing one prints "package NAME is not installed". */
export function parseRpmQuery(output: string, names: string[]): Map<string, InstalledPackage> {
  const found = new Map<string, InstalledPackage>(names.map((n) => [n, {}]));
  for (const line of output.split('\n')) {
    const [name, version] = line.split('\t');
    if (name && version && found.has(name)) found.set(name, { version: version.trim() });
  }
  return found;
}

/** `dnf list --upgrades` / `yum list updates`: "NAME.ARCH  VERSION  REPO" lines; headers ignored. */
export function parseRpmUpgrades(output: string): Map<string, AptPolicy> {
  const found = new Map<string, AptPolicy>();
  for (const line of output.split('\n')) {
    const cols = line.trim().split(/\s+/);
    const nameArch = /^(.+)\.([A-Za-z0-9_]+)$/.exec(cols[0] ?? '');
    if (cols.length !== 3 || !nameArch?.[1] || !/\d/.test(cols[1] ?? '')) continue;
    found.set(nameArch[1], { candidate: (cols[1] ?? '').replace(/^\d+:/, '') });
  }
  return found;
}

/** `date +%s` then the mtimes of the stamp and the lists folder: the newest one is the last update. */
export function parseCacheAge(output: string): number | undefined {
  const [now, ...mtimes] = output
    .trim()
    .split(/\s+/)
    .map(Number)
    .filter((n) => Number.isFinite(n) && n > 0);
  if (now === undefined || !mtimes.length) return undefined;
  return Math.max(0, now - Math.max(...mtimes));
}

function aptScript(names: string[], needs: AptNeeds): string {
  const lines = [
    sh`echo '### policy'; apt-cache policy ${names} 2>/dev/null`,
    // The lists folder changes only when an update fetched something; the stamp on every update we run.
    sh`echo '### cache'; date +%s; stat -c %Y ${APT_UPDATE_STAMP} /var/lib/apt/lists 2>/dev/null`,
  ];
  if (needs === 'always')
    return [sh`echo '### dpkg'; dpkg-query -W -f=${DPKG_FORMAT} ${names} 2>&1`, ...lines].join('\n');
  // apt-cache (which starts dpkg twice itself) and the cache's age only when a name is not
  // installed: dpkg-query's lines each end their status in " installed" (a tab follows) then, and
  // a name dpkg does not know gives a line that does not. Judged by the shell: no process more.
  return [
    sh`echo '### dpkg'; q=$(dpkg-query -W -f=${DPKG_FORMAT} ${names} 2>&1); printf '%s\n' "$q"`,
    `m=0; set -f; IFS='\n'; for l in $q; do case $l in *' installed\t'*) ;; *) m=1 ;; esac; done; unset IFS; set +f`,
    `if [ $m = 1 ]; then\n${lines.join('\n')}\nfi`,
  ].join('\n');
}

function rpmScript(manager: 'dnf' | 'yum', names: string[], upgrades: boolean): string {
  const lines = [sh`echo '### rpm'; rpm -q --qf ${RPM_FORMAT} ${names} 2>&1`];
  const list = manager === 'dnf' ? raw('dnf -q list --upgrades') : raw('yum -q list updates');
  if (upgrades) lines.push(sh`echo '### upgrades'; ${list} ${names} 2>/dev/null`);
  return lines.join('\n');
}

/**
 * What an apt probe reads besides the installed versions: apt's candidates and the cache's age
 * 'always', or only 'if-missing' (some name is not installed): a task that installs nothing needs
 * neither unless it upgrades (state latest) or keeps the cache fresh (cache_valid_time).
 */
export type AptNeeds = 'always' | 'if-missing';

/**
 * One shell script probing the given names. `upgrades` (state latest on dnf/yum) also asks the
 * repositories which have upgrades, which is slower and so only done when needed.
 */
export function packageProbeCommand(
  names: string[],
  opts: { manager?: PackageManager; upgrades?: boolean; apt?: AptNeeds } = {},
): string {
  const apt = aptScript(names, opts.apt ?? 'always');
  const branches: [PackageManager, string, string][] = [
    ['apt', 'command -v dpkg-query >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1', apt],
    ['dnf', 'command -v dnf >/dev/null 2>&1', rpmScript('dnf', names, !!opts.upgrades)],
    ['yum', 'command -v yum >/dev/null 2>&1', rpmScript('yum', names, !!opts.upgrades)],
  ];
  const chosen = opts.manager ? branches.filter(([m]) => m === opts.manager) : branches;
  const parts = chosen.map(
    ([m, test, body], i) => `${i === 0 ? 'if' : 'elif'} ${test}; then\necho '### manager ${m}'\n${body}`,
  );
  return `export LC_ALL=C\n${parts.join('\n')}\nelse echo '### manager none'\nfi`;
}

function sections(stdout: string): Map<string, string> {
  const out = new Map<string, string>();
  let name = '';
  for (const line of stdout.split('\n')) {
    const head = /^### (\w+)(?: (\w+))?$/.exec(line);
    if (head?.[1]) {
      name = head[1];
      out.set(name, head[2] ?? '');
    } else if (name) out.set(name, `${out.get(name) ?? ''}${line}\n`);
  }
  return out;
}

export function parsePackageProbe(stdout: string, names: string[]): PackageProbe {
  const parts = sections(stdout);
  const manager = (parts.get('manager')?.trim() || 'none') as PackageProbe['manager'];
  if (manager === 'apt') {
    const cacheAgeSeconds = parseCacheAge(parts.get('cache') ?? '');
    return {
      manager,
      installed: parseDpkgQuery(parts.get('dpkg') ?? '', names),
      candidates: parseAptPolicy(parts.get('policy') ?? ''),
      ...(cacheAgeSeconds !== undefined ? { cacheAgeSeconds } : {}),
    };
  }
  if (manager === 'dnf' || manager === 'yum') {
    return {
      manager,
      installed: parseRpmQuery(parts.get('rpm') ?? '', names),
      candidates: parseRpmUpgrades(parts.get('upgrades') ?? ''),
    };
  }
  return { manager: 'none', installed: new Map(), candidates: new Map() };
}
