import type { ExecResult } from './connections/types.js';
import { FurrowError } from './errors.js';

/**
 * The one way a failed command on a host is told: host, what was tried, how it ended, the end of
 * its stderr, and (when the caller gives it) the command. Modules, their probes and fact gathering
 * all say it this way.
 */

/** How a command ended: 'exit status 2', 'timed out' or 'killed by signal KILL'. */
export function howItEnded(result: ExecResult): string {
  if (result.timedOut) return 'timed out';
  return result.code === null ? `killed by signal ${result.signal ?? '?'}` : `exit status ${result.code}`;
}

/** The last lines of a command's stderr, indented for a message; empty when it wrote none. */
export function stderrTail(result: ExecResult, lines = 20): string {
  const text = result.stderr.toString('utf8').trim();
  return text ? `:\n  ${text.split('\n').slice(-lines).join('\n  ')}` : '';
}

/** "<host>: <what> failed (exit status 1):\n  <stderr>", then the command when given. */
export function commandFailure(host: string, what: string, result: ExecResult, command?: string): string {
  return (
    `${host}: ${what} failed ` +
    `(${howItEnded(result)})${stderrTail(result)}${command === undefined ? '' : `\n  command: ${command}`}`
  );
}

/** The same, as the error that fails the task. */
export function commandFailed(host: string, what: string, result: ExecResult, command?: string): FurrowError {
  return new FurrowError('module', commandFailure(host, what, result, command));
}
