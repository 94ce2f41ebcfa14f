import { execFile, spawnSync } from 'node:child_process';
import { fileSha256 } from '../bundle/download.js';
import { LabError } from '../engine/errors.js';

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a machine tool (ip, mount, mmdebstrap...) without a shell; never throws on exit status. */
export function run(
  file: string,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(
      file,
      args,
      { env: opts.env ?? process.env, timeout: opts.timeoutMs ?? 0, maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const code = err
          ? typeof (err as { code?: unknown }).code === 'number'
            ? (err as { code: number }).code
            : 127
          : 0;
        resolve({ code, stdout: String(stdout), stderr: String(stderr || (err && code === 127 ? err.message : '')) });
      },
    );
  });
}

/** Like run, but a non-zero exit is a LabError naming the command and its stderr. */
export async function must(
  file: string,
  args: string[],
  what: string,
  opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<string> {
  const r = await run(file, args, opts);
  if (r.code !== 0) {
    const tail = r.stderr.trim().split('\n').slice(-20).join('\n');
    throw new LabError(`${what} failed: ${file} ${args.join(' ')} exited ${r.code}\n${tail}`);
  }
  return r.stdout;
}

function hasCommand(name: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status === 0;
}

/** The lab manipulates mounts, namespaces and links: only root can. */
export function requireRoot(): void {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    throw new LabError(
      'furrow lab needs root (it creates mounts, network namespaces and a bridge): run it as root, e.g. with sudo.',
    );
  }
}

/** Tools the lab needs, by command and the Debian package that provides it. */
const TOOLS: Array<{ command: string; pkg: string }> = [
  { command: 'systemd-nspawn', pkg: 'systemd-container' },
  { command: 'mmdebstrap', pkg: 'mmdebstrap' },
  { command: 'ip', pkg: 'iproute2' },
];

/** Installs missing lab tools with apt-get (we are root here), or says exactly what to install. */
export async function ensureTools(log: (line: string) => void): Promise<void> {
  const missing = TOOLS.filter((t) => !hasCommand(t.command));
  if (missing.length === 0) return;
  const pkgs = missing.map((t) => t.pkg);
  if (!hasCommand('apt-get')) {
    throw new LabError(
      `furrow lab needs ${missing.map((t) => t.command).join(', ')}: install the packages ${pkgs.join(' ')}.`,
    );
  }
  log(`installing ${pkgs.join(' ')} with apt-get`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  await must('apt-get', ['update', '-qq'], 'apt-get update', { env });
  await must('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...pkgs], `installing ${pkgs.join(' ')}`, {
    env,
  });
}

/** The bundle code's streamed sha256 (fileSha256), for a file that must be there. */
export async function sha256File(file: string): Promise<string> {
  const hash = await fileSha256(file);
  if (hash === undefined) throw new LabError(`${file} is gone: it was there a moment ago`);
  return hash;
}
