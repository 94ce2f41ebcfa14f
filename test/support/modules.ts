import path from 'node:path';
import type { Connection } from '../../src/engine/connections/types.js';
import { probeFiles } from '../../src/engine/facts/files.js';
import type { WrittenRecords } from '../../src/engine/facts/written.js';
import type { ApplyResult, Module, ModuleContext, Plan } from '../../src/engine/module.js';
import { renderTemplate } from '../../src/engine/template.js';

/**
 * Drives one module the way the engine does (plan, then apply unless check), for module tests on
 * real hosts and local temp folders. It is not a mock: the module talks to a real connection.
 */
export function moduleContext(
  conn: Connection,
  opts: {
    check?: boolean;
    noLog?: boolean;
    vars?: Record<string, unknown>;
    filesDir?: string;
    render?: ModuleContext['render'];
    facts?: Record<string, unknown>;
    written?: WrittenRecords;
  } = {},
): ModuleContext {
  return {
    host: conn.spec.name,
    conn,
    probeFiles: (queries) => probeFiles(conn, queries, opts.written),
    probeShared: (own, _keysOf, read) => read(own),
    ...(opts.written ? { written: opts.written } : {}),
    check: !!opts.check,
    noLog: !!opts.noLog,
    vars: opts.vars ?? {},
    lookup: { has: (name) => Object.hasOwn(opts.vars ?? {}, name), get: (name) => opts.vars?.[name] },
    facts: async () => opts.facts ?? {},
    findFile: (kind, name) => (path.isAbsolute(name) ? name : path.join(opts.filesDir ?? process.cwd(), kind, name)),
    render: opts.render ?? ((text, file, extra) => renderTemplate(text, { ...opts.vars, ...extra }, { file })),
  };
}

export interface ModuleRun {
  plan: Plan;
  result?: ApplyResult;
  changed: boolean;
}

export async function runModule<P>(mod: Module<P, unknown>, ctx: ModuleContext, params: P): Promise<ModuleRun> {
  const plan = await mod.plan(ctx, params);
  if (ctx.check) return { plan, changed: plan.action !== 'none' };
  const result = plan.action === 'none' && !mod.local ? undefined : await mod.apply(ctx, plan, params);
  return { plan, result, changed: result?.changed ?? plan.action !== 'none' };
}
