import { commandFailed } from '../../engine/command-failure.js';
import type { ExecResult } from '../../engine/connections/types.js';
import type { ModuleContext } from '../../engine/module.js';

/** Runs a command that must succeed; a failure names the host, what we tried and stderr. */
export async function runOrFail(ctx: ModuleContext, command: string, what: string): Promise<ExecResult> {
  const result = await ctx.conn.exec(command);
  if (result.code !== 0) throw commandFailed(ctx.host, what, result, command);
  return result;
}
