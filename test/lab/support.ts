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
  if (process.env.FURROW_LAB_REQUIRED === '1') throw new Error('lab tests are required (FURROW_LAB_REQUIRED=1) but need root');
  return false;
}

export const describeLab = (name: string, fn: () => void) => (labAvailable() ? describe(name, fn) : describe.skip(name, fn));

/**
 * The folder of the lab's Kubernetes v1.20.2 binaries: the per-machine cache `furrow lab
 * kubernetes` fills (.ci/run runs it first), or FURROW_K8S_BIN. A test that needs them fails
 * without them, naming the command; it never skips.
 */
export function labKubernetesBin(): string {
  const dir = process.env.FURROW_K8S_BIN ?? cachedKubernetesBinDir();
  if (!dir) throw new Error('no Kubernetes binaries for the lab: run `furrow lab kubernetes` first (.ci/run does), or set FURROW_K8S_BIN');
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
export function furrow(args: string[], opts: { cwd?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: opts.cwd ?? process.cwd(), stdio: ['ignore', 'pipe', 'pipe'], ...(opts.env ? { env: { ...process.env, ...opts.env } } : {}) });
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

/** Per host, the counts of a run's RECAP lines: { h1: { ok, changed, failed, skipped, unreachable } }. */
export function recap(stdout: string): Record<string, Record<string, number>> {
  const out: Record<string, Record<string, number>> = {};
  for (const m of stdout.matchAll(/^(h\d+)\s+((?:\w+=\d+\s*)+)/gm)) {
    out[m[1]!] = Object.fromEntries([...m[2]!.matchAll(/(\w+)=(\d+)/g)].map((p) => [p[1]!, Number(p[2])]));
  }
  return out;
}

/** Per host, how many tasks a run changed: { h1: 0, h2: 3, ... }. */
export const changedCounts = (r: CliResult) => Object.fromEntries(Object.entries(recap(r.stdout)).map(([h, c]) => [h, c.changed]));

/** Fails the test with the command's whole output when it did not exit as expected. */
export function expectExit(r: CliResult, code: number): void {
  if (r.code !== code) throw new Error(`expected exit ${code}, got ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`);
}

/**
 * A connection (not yet open) to a lab host as the inventory reaches it, `vars` over its own; host
 * keys are recorded in the test's `cwd`, the way a first contact with new hosts goes.
 */
export function labHostConnection(inv: Inventory, host: string, cwd: string, vars: Record<string, unknown> = {}): Connection {
  return openConnection(connectionSpecFromVars(host, { ...hostVars(inv, host), ...vars }, { knownHostsFile: path.join(cwd, 'known_hosts'), strictHostKeys: false }));
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
    if (r.code !== 0) throw new Error(`${host}: ${command}: exit ${r.code}: ${r.stdout.toString()}${r.stderr.toString()}`);
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
