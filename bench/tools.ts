/**
 * Running the two tools and the lab from the harness: every timed run goes through GNU time for the
 * controller's CPU time and peak memory, and its recap is read back to check what it did.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Tool } from './workloads.js';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const FURROW_CLI = path.join(REPO, 'dist', 'cli', 'furrow.js');
const GNU_TIME = '/usr/bin/time';

export interface Output {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function runProcess(
  cmd: string,
  args: string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; onStdout?: (chunk: Buffer) => void } = {},
): Promise<Output> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => {
      out.push(c);
      opts.onStdout?.(c);
    });
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', reject);
    child.on('close', (code) =>
      resolve({ code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() }),
    );
  });
}

export async function mustRun(
  cmd: string,
  args: string[],
  what: string,
  opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<Output> {
  const r = await runProcess(cmd, args, opts);
  if (r.code !== 0)
    throw new Error(
      `${what} failed (exit ${r.code}): ${cmd} ${args.join(' ')}\n${r.stderr.slice(-3000)}${r.stdout.slice(-3000)}`,
    );
  return r;
}

export function furrow(args: string[], cwd: string): Promise<Output> {
  return runProcess(process.execPath, [FURROW_CLI, ...args], { cwd });
}

/** furrow with these arguments, which must exit 0: the harness's own steps (lab up, new, ...). */
export async function mustFurrow(args: string[], cwd: string): Promise<Output> {
  const r = await furrow(args, cwd);
  if (r.code !== 0) throw new Error(`furrow ${args.join(' ')} failed (exit ${r.code}):\n${r.stderr.slice(-3000)}`);
  return r;
}

/** One timed run of a tool as the controller sees it. */
export interface Measurement {
  wallS: number;
  /** User + system CPU of the tool and every child it waited for. */
  cpuS: number;
  /** GNU time's "Maximum resident set size": the largest single process, not a sum. */
  maxRssMb: number;
  /**
   * CPU the whole machine spent during the run (/proc/stat: user, nice, system, irq, softirq):
   * the tool, the lab hosts' sshd and commands, and whatever else ran meanwhile.
   */
  machineCpuS: number;
  changed: number;
}

/** Busy CPU seconds of the whole machine since boot, from /proc/stat's first line. */
async function machineBusyS(): Promise<number> {
  const fields = (await readFile('/proc/stat', 'utf8')).split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const [user, nice, system, , , irq, softirq] = fields;
  return (user! + nice! + system! + irq! + softirq!) / CLOCK_TICKS;
}

/** /proc/stat counts in USER_HZ, which is 100 on Linux everywhere this runs. */
const CLOCK_TICKS = 100;

export interface ToolCommand {
  cmd: string;
  args: string[];
  cwd: string;
  env: NodeJS.ProcessEnv;
}

/** Furrow with its defaults: forks = every host of the play. */
export function furrowCommand(playbook: string, inventory: string, hosts: string[], cwd: string): ToolCommand {
  return {
    cmd: process.execPath,
    args: [FURROW_CLI, 'run', playbook, '-i', inventory, '--limit', hosts.join(':')],
    cwd,
    env: process.env,
  };
}

/** A command run under GNU time: its output, and what it cost (Measurement's fields but changed). */
export interface TimedRun extends Omit<Measurement, 'changed'> {
  output: Output;
}

/**
 * Runs a command under GNU time (its figures go to `${logFile}.time`) and writes its output to
 * logFile; onStdout sees each chunk as it comes.
 */
export async function timedRun(
  command: ToolCommand,
  logFile: string,
  onStdout?: (chunk: Buffer) => void,
): Promise<TimedRun> {
  const timeFile = `${logFile}.time`;
  const busyBefore = await machineBusyS();
  const started = performance.now();
  const output = await runProcess(GNU_TIME, ['-f', '%U %S %M', '-o', timeFile, command.cmd, ...command.args], {
    cwd: command.cwd,
    env: command.env,
    ...(onStdout ? { onStdout } : {}),
  });
  const wallS = (performance.now() - started) / 1000;
  const machineCpuS = (await machineBusyS()) - busyBefore;
  await writeFile(logFile, `${output.stdout}\n--- stderr\n${output.stderr}`);
  const [user, sys, rssKb] = (await readFile(timeFile, 'utf8')).trim().split('\n').pop()!.split(' ').map(Number);
  return { output, wallS, cpuS: user! + sys!, maxRssMb: rssKb! / 1024, machineCpuS };
}

/** The last lines of a run's output, for a message: the work folder with its log goes away at the end. */
export const outputTail = (r: Output): string =>
  `\n${`${r.stdout}\n${r.stderr}`.trim().split('\n').slice(-25).join('\n')}`;

/** Runs under GNU time; fails loudly unless every host came out ok with the expected changes. */
export async function measure(
  tool: Tool,
  command: ToolCommand,
  logFile: string,
  expectChanged: number,
): Promise<Measurement> {
  const { output: r, ...cost } = await timedRun(command, logFile);
  const recap = readRecap(tool, r.stdout);
  if (r.code !== 0 || recap.bad > 0)
    throw new Error(`${tool} run failed (exit ${r.code}, ${recap.bad} failed/unreachable):${outputTail(r)}`);
  if (recap.changed !== expectChanged)
    throw new Error(`${tool} changed ${recap.changed} task(s), expected ${expectChanged}:${outputTail(r)}`);
  return { ...cost, changed: recap.changed };
}

/** Sums the per-host recap lines of either tool. */
export function readRecap(tool: Tool, stdout: string): { hosts: number; changed: number; bad: number } {
  const line =
    tool === 'ansible'
      ? /^\S+\s+:\s+ok=\d+\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)/gm
      : /^\S+\s+ok=\d+ changed=(\d+) failed=(\d+) skipped=\d+ unreachable=(\d+)/gm;
  let hosts = 0;
  let changed = 0;
  let bad = 0;
  for (const m of stdout.matchAll(line)) {
    hosts++;
    changed += Number(m[1]);
    bad += Number(m[2]) + Number(m[3]);
  }
  return { hosts, changed, bad: hosts === 0 ? 1 : bad };
}

/** Installs what the harness needs on the controller from Debian's packages, if missing. */
export async function ensureControllerTools(log: (line: string) => void): Promise<void> {
  await aptInstall(
    [...(existsSync('/usr/bin/ansible-playbook') ? [] : ['ansible-core']), ...(existsSync(GNU_TIME) ? [] : ['time'])],
    "from Debian's packages",
    log,
  );
}

/** Installs these Debian packages on the controller (none: nothing to do); `why` ends the log line. */
export async function aptInstall(packages: string[], why: string, log: (line: string) => void): Promise<void> {
  if (!packages.length) return;
  log(`installing ${packages.join(', ')} ${why}`);
  await mustRun('apt-get', ['update', '-qq'], 'apt-get update');
  await mustRun(
    'apt-get',
    ['install', '-y', '-qq', '--no-install-recommends', ...packages],
    'installing controller tools',
    {
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    },
  );
}

/** Stops the ControlPersist masters Ansible left in our control folder, each through its socket. */
export async function stopControlMasters(controlDir: string): Promise<void> {
  const sockets = existsSync(controlDir) ? await readdir(controlDir) : [];
  await Promise.all(
    sockets.map((s) =>
      runProcess('ssh', ['-o', `ControlPath=${path.join(controlDir, s)}`, '-O', 'exit', 'bench-control-master']),
    ),
  );
}

/** The machine and the Furrow a run measures, for a report's header. */
export interface MachineInfo {
  date: string;
  machine: string;
  cores: number;
  kernel: string;
  /** Taken when this is called: call it before the benchmark starts. */
  loadAverage: string;
  /**
   * How fast this machine is at what a run spends its time on, so that reports from two machines
   * (or one machine on two days) can be told apart: a process start, and plain JavaScript.
   */
  speed: string;
  node: string;
  furrow: string;
}

/** 200 fork+execs of /bin/true by one sh, and 10^8 additions in a JavaScript loop, timed here. */
async function measureSpeed(): Promise<string> {
  const execs = 200;
  let started = performance.now();
  await runProcess('sh', ['-c', `i=0; while [ $i -lt ${execs} ]; do /bin/true; i=$((i + 1)); done`]);
  const perExec = (performance.now() - started) / execs;
  started = performance.now();
  let sum = 0;
  for (let i = 0; i < 1e8; i++) sum += i;
  const loop = performance.now() - started;
  if (sum < 0) throw new Error('unreachable'); // keeps the loop from being optimised away
  return (
    `${perExec.toFixed(2)} ms a process (fork+exec of /bin/true), ` +
    `${loop.toFixed(0)} ms for 10^8 additions in JavaScript`
  );
}

export async function describeMachine(): Promise<MachineInfo> {
  const commit = (await runProcess('git', ['rev-parse', '--short', 'HEAD'], { cwd: REPO })).stdout.trim();
  const dirty = (
    await runProcess('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: REPO })
  ).stdout.trim()
    ? ' (working tree has uncommitted changes)'
    : '';
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  return {
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    machine: `${os.cpus().length} cores (${cpu}), ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB memory`,
    cores: os.cpus().length,
    kernel: `${os.type()} ${os.release()}`,
    loadAverage: os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(', '),
    speed: await measureSpeed(),
    node: process.version,
    furrow: `${JSON.parse(await readFile(path.join(REPO, 'package.json'), 'utf8')).version}, commit ${commit}${dirty}`,
  };
}
