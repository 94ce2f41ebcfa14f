import { spawn } from 'node:child_process';
import path from 'node:path';
import { connectionSpecFromVars, openConnection } from '../../src/engine/connections/index.js';
import type { Connection } from '../../src/engine/connections/types.js';
import { hostVars, loadInventory, type Inventory } from '../../src/engine/inventory/index.js';
import { cachedKubernetesBinDir } from '../../src/lab/kubernetes.js';

/**
 * Lab tests boot real hosts, which needs root and systemd-nspawn. They skip when they can't run,
 * except where FURROW_LAB_REQUIRED=1 (CI sets it): there a lab test that cannot run fails.
 */
export function labAvailable(): boolean {
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  if (root) return true;
  if (process.env.FURROW_LAB_REQUIRED === '1')
    throw new Error('lab tests are required (FURROW_LAB_REQUIRED=1) but need root');
  return false;
}

export const describeLab = (name: string, fn: () => void) =>
  labAvailable() ? describe(name, fn) : describe.skip(name, fn);

/**
 * The folder of the lab's Kubernetes v1.20.2 binaries: the per-machine cache `furrow lab
 * kubernetes` fills (.ci/run runs it first), or FURROW_K8S_BIN. A test that needs them fails
 * without them, naming the command; it never skips.
 */
export function labKubernetesBin(): string {
  const dir = process.env.FURROW_K8S_BIN ?? cachedKubernetesBinDir();
  if (!dir)
    throw new Error(
      'no Kubernetes binaries for the lab: run `furrow lab kubernetes` first (.ci/run does), or set FURROW_K8S_BIN',
    );
  return dir;
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

const CLI = path.resolve('dist/cli/furrow.js');

/** Runs the furrow command as a user would, from `cwd` (default: the repository). */
/** `env` adds variables to the command's environment (jest's own process.env does not reach children). */
export function furrow(
  args: string[],
  opts: { cwd?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {},
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd: opts.cwd ?? process.cwd(),
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(opts.env ? { env: { ...process.env, ...opts.env } } : {}),
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 300_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() });
    });
  });
}

/**
 * A command on one lab host through `furrow exec` (a connection of its own each time, so it works on a
 * host that was powered off and on), its stdout; a non-zero exit fails the test.
 */
export async function execOnHost(inventory: string, host: string, command: string, cwd: string): Promise<string> {
  const r = await furrow(['exec', host, '-i', inventory, '--json', '--', command], { cwd, timeoutMs: 120_000 });
  expectExit(r, 0);
  return (JSON.parse(r.stdout.trim().split('\n')[0]!) as { stdout: string }).stdout;
}

/** Per host, the counts of a run's RECAP lines: { h1: { ok, changed, failed, skipped, unreachable } }. */
export function recap(stdout: string): Record<string, Record<string, number>> {
  const out: Record<string, Record<string, number>> = {};
  for (const m of stdout.matchAll(/^(h\d+)\s+((?:\w+=\d+\s*)+)/gm)) {
    out[m[1]!] = Object.fromEntries([...m[2]!.matchAll(/(\w+)=(\d+)/g)].map((p) => [p[1]!, Number(p[2])]));
  }
  return out;
}

/** Per host, how many tasks a run changed: { h1: 0, h2: 3, ... }. */
export const changedCounts = (r: CliResult) =>
  Object.fromEntries(Object.entries(recap(r.stdout)).map(([h, c]) => [h, c.changed]));

/** Fails the test with the command's whole output when it did not exit as expected. */
export function expectExit(r: CliResult, code: number): void {
  if (r.code !== code)
    throw new Error(`expected exit ${code}, got ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`);
}

/**
 * A connection (not yet open) to a lab host as the inventory reaches it, `vars` over its own; host
 * keys are recorded in the test's `cwd`, the way a first contact with new hosts goes.
 */
export function labHostConnection(
  inv: Inventory,
  host: string,
  cwd: string,
  vars: Record<string, unknown> = {},
): Connection {
  return openConnection(
    connectionSpecFromVars(
      host,
      { ...hostVars(inv, host), ...vars },
      { knownHostsFile: path.join(cwd, 'known_hosts'), strictHostKeys: false },
    ),
  );
}

/**
 * One SSH connection per lab host, opened as the inventory says, so a test checks the hosts as a
 * user would. `close` is safe to call when nothing was opened (a lab that failed to boot).
 */
export class LabHosts {
  private readonly conns = new Map<string, Connection>();

  async connect(inventoryFile: string, hosts: readonly string[], cwd: string): Promise<void> {
    const inv = await loadInventory(inventoryFile);
    for (const h of hosts) {
      const conn = labHostConnection(inv, h, cwd);
      this.conns.set(h, conn);
      await conn.open();
    }
  }

  get(host: string): Connection {
    const conn = this.conns.get(host);
    if (!conn) throw new Error(`${host}: no connection to this lab host`);
    return conn;
  }

  /** A command's trimmed stdout; a non-zero exit fails with the host, the command and its output. */
  readonly on = async (host: string, command: string): Promise<string> => {
    const r = await this.get(host).exec(command);
    if (r.code !== 0)
      throw new Error(`${host}: ${command}: exit ${r.code}: ${r.stdout.toString()}${r.stderr.toString()}`);
    return r.stdout.toString().trim();
  };

  async close(): Promise<void> {
    await Promise.all([...this.conns.values()].map((c) => c.close().catch(() => undefined)));
    this.conns.clear();
  }
}

/**
 * A test lab's name: `base`, plus `-SUFFIX` when FURROW_LAB_SUFFIX is set, so two checkouts on one
 * machine can run the same lab test at once without taking down each other's lab. Names stay 't-*'
 * so the clean-up finds them.
 */
export function labTestName(base: string): string {
  const suffix = process.env.FURROW_LAB_SUFFIX;
  return suffix ? `${base}-${suffix}` : base;
}

/**
 * A host's state as a destroy must leave it: unit files, active services, the files under the
 * folders Furrow writes to (names only; logs, apt's and systemd's own state, SSH keys and
 * /run/agetty.reload, which the console's agetty makes whenever it notices interfaces come and go,
 * left out), network interfaces, iptables rules (without counters), IPVS services, mounts, /etc/hosts
 * and the installed packages. Compare two with `fingerprintChanges`.
 */
export const FINGERPRINT_SCRIPT = [
  'echo "## units"; systemctl list-unit-files --no-legend --type=service,socket,timer,mount | awk \'{print ' +
    '$1" "$2}\' | sort',
  'echo "## active"; systemctl list-units --no-legend --state=active --type=service | awk \'{print $1}\' | sort',
  'echo "## files"; find /etc /opt /var/lib /usr/local /usr/lib/systemd/system /root /run -xdev \\( -path ' +
    '/var/lib/apt -o -path /var/lib/dpkg -o -path /var/lib/systemd -o -path /var/log -o -path /etc/ssh -o -path ' +
    '/root/.ssh -o -path /var/lib/dhcp -o -path /run/systemd -o -path /run/user -o -path /run/udev -o -path ' +
    '/etc/ld.so.cache -o -path /var/cache -o -path /run/furrow.lock -o -path /run/sshd -o -path /run/utmp -o -path ' +
    '/run/agetty.reload \\) -prune -o -print 2>/dev/null | sort',
  'echo "## links"; ip -o link show | awk -F": " \'{print $2}\' | sed "s/@.*//" | sort',
  'echo "## iptables"; iptables-save 2>/dev/null | grep -v "^#" | sed "s/\\[[0-9]*:[0-9]*\\]//"',
  'echo "## ipvs"; ipvsadm -Sn 2>/dev/null',
  'echo "## mounts"; awk \'{print $2}\' /proc/self/mounts | sort',
  'echo "## hosts"; cat /etc/hosts',
  'echo "## packages"; dpkg-query -W -f "\\${Package}\\n" | sort',
].join('\n');

/** An iptables table with no rules, only its built-in chains' default policies: as if never loaded. */
const EMPTY_IPTABLES_LINE =
  /^(\*(filter|nat|mangle|raw|security)|:(PREROUTING|INPUT|FORWARD|OUTPUT|POSTROUTING) ACCEPT\s*|COMMIT)$/;

/** Per section of two fingerprints, the lines only `after` has and those only `before` has. */
export function fingerprintChanges(before: string, after: string): { added: string[]; removed: string[] } {
  const lines = (text: string) => {
    let section = '';
    const out = new Set<string>();
    for (const line of text.split('\n')) {
      if (line.startsWith('## ')) section = line.slice(3);
      else if (line.trim() && !EMPTY_IPTABLES_LINE.test(line)) out.add(`${section}: ${line}`);
    }
    return out;
  };
  const [b, a] = [lines(before), lines(after)];
  return { added: [...a].filter((l) => !b.has(l)), removed: [...b].filter((l) => !a.has(l)) };
}

/**
 * What the Debian packages a deploy installed leave when Furrow takes its own parts away: made by
 * their install scripts (dpkg does not list these as theirs), or chrony's, which stays configured
 * and running (as kubeasz's clean leaves it). Everything else a cleaned host gained must be owned
 * by a package (`dpkg -S`).
 */
const MADE_BY_PACKAGES = new RegExp(
  `^files: (${[
    /\/etc\/rc[0-6S]\.d\//,
    /\/etc\/ssl\//,
    /\/etc\/chrony|\/run\/chrony|\/var\/lib\/chrony/,
    /\/var\/lib\/nginx|\/var\/lib\/ucf/,
    /\/etc\/apparmor\.d\/local/,
    /\/etc\/ca-certificates\.conf$|\/usr\/local\/share\/ca-certificates$/,
    /\/etc\/nginx\/(modules|sites)-enabled\//,
    /\/run\/adduser$/,
    /\/etc\/systemd\/system\/chronyd\.service$|\/etc\/systemd\/system\/multi-user\.target\.wants\/chrony\.service$/,
    /.*\.(ucf|dpkg)-dist$/,
  ]
    .map((r) => r.source)
    .join('|')})`,
);

/**
 * The lines of a cleaned host's fingerprint (`fingerprintChanges(before, after)`) that no package
 * explains: what Furrow left behind. `run` runs a shell command on the host (for `dpkg -S`).
 */
export async function leftBehind(
  changes: { added: string[]; removed: string[] },
  run: (command: string) => Promise<string>,
): Promise<string[]> {
  const candidates = changes.added.filter((l) => !/^(packages|units|active): /.test(l) && !MADE_BY_PACKAGES.test(l));
  const files = candidates.filter((l) => l.startsWith('files: ')).map((l) => l.slice('files: '.length));
  // dpkg records a merged-/usr system's /usr/lib/... files by their /lib/... names.
  const unowned = files.length
    ? (
        await run(
          `for p in ${files.map((f) => `'${f}'`).join(' ')}; do dpkg -S "$p" >/dev/null 2>&1 || dpkg -S "\${p#/usr}" ` +
            `>/dev/null 2>&1 || echo "$p"; done`,
        )
      )
        .split('\n')
        .filter(Boolean)
    : [];
  // Units and services the packages brought stay (chrony runs; nginx and ipvsadm as installed); none of Furrow's may
  // run or be enabled. (A package's unit file left disabled is the package's; Furrow's own unit files are files
  // no package owns, found above.)
  const furrowUnits = changes.added.filter(
    (l) => (/^active: /.test(l) || /^units: .* enabled$/.test(l)) && /kube|containerd|docker|furrow|etcd|ex-lb/.test(l),
  );
  return [
    ...candidates.filter((l) => !l.startsWith('files: ')),
    ...unowned.map((f) => `files: ${f}`),
    ...furrowUnits,
    ...changes.removed.map((l) => `gone: ${l}`),
  ];
}
