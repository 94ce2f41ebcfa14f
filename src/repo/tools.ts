import { execFile } from 'node:child_process';
import { FurrowError } from '../engine/errors.js';

/** Building or serving the package repository failed; the message says what to do. */
export class RepoError extends FurrowError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('module', message, options);
  }
}

/** Progress lines (one per step), for the console or a test's log. */
export type RepoLog = (line: string) => void;

/**
 * Runs a controller tool (apt-cache, apt-get, dpkg-deb) with an argument list: no shell, so no
 * quoting is involved. Fails with the command and the last lines of its error output.
 */
export function runTool(command: string, args: string[], opts: { cwd?: string } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      command,
      args,
      { cwd: opts.cwd, maxBuffer: 256 * 1024 * 1024, env: { ...process.env, LC_ALL: 'C' } },
      (err, stdout, stderr) => {
        if (!err) return resolve(stdout);
        const tail = String(stderr || stdout)
          .trim()
          .split('\n')
          .slice(-20)
          .join('\n');
        const shown = [command, ...args].join(' ');
        const short = shown.length > 300 ? `${shown.slice(0, 300)}...` : shown;
        reject(
          new RepoError(`${short} failed (${(err as NodeJS.ErrnoException).code ?? 'error'}):\n${tail}`, {
            cause: err,
          }),
        );
      },
    );
  });
}
