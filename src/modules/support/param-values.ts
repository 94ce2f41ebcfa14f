/**
 * Param values as Ansible users write them. Schemas accept strings too, because a param may be a
 * template (`port: "{{ api_port }}"`) that only becomes a number once rendered; the module then
 * reads the rendered value here and says exactly what was expected when it is not one.
 */
import { FurrowError, InputError } from '../../engine/errors.js';
import type { ExecResult } from '../../engine/connections/types.js';

export const flagSchema = { type: ['boolean', 'string'] };
export const intSchema = { type: ['integer', 'string'] };

const YES = ['yes', 'true', 'on', 'y', '1'];
const NO = ['no', 'false', 'off', 'n', '0'];

/** yes/no/true/false/on/off/1/0 (any case) or a boolean; undefined stays undefined. */
export function toFlag(value: unknown, module: string, param: string): boolean | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'boolean') return value;
  const text = String(value).trim().toLowerCase();
  if (YES.includes(text)) return true;
  if (NO.includes(text)) return false;
  throw new InputError(undefined, `${module}: ${param} is ${JSON.stringify(value)}, not a boolean`, `write ${param}: true or ${param}: false`);
}

/** A whole number (given as a number or its text); undefined stays undefined. */
export function toInt(value: unknown, module: string, param: string, min = 0): number | undefined {
  if (value === undefined || value === null) return undefined;
  const n = typeof value === 'number' ? value : /^\s*-?\d+\s*$/.test(String(value)) ? Number(value) : NaN;
  if (!Number.isInteger(n) || n < min) {
    throw new InputError(undefined, `${module}: ${param} is ${JSON.stringify(value)}, not a whole number >= ${min}`, `write ${param} as a number, e.g. ${param}: ${Math.max(min, 1)}`);
  }
  return n;
}

/** The last lines of a command's stderr, indented for an error message. */
export function stderrTail(result: ExecResult, lines = 20): string {
  const text = result.stderr.toString('utf8').trim();
  return text ? `:\n  ${text.split('\n').slice(-lines).join('\n  ')}` : '';
}

/** A failed probe or step: names the host, what we tried, the exit status and stderr. */
export function commandFailed(host: string, what: string, result: ExecResult): FurrowError {
  const status = result.timedOut ? 'timed out' : result.code === null ? `killed by signal ${result.signal ?? '?'}` : `exit status ${result.code}`;
  return new FurrowError('module', `${host}: ${what} failed (${status})${stderrTail(result)}`);
}
