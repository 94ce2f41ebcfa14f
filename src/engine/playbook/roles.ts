import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import type { InputError } from '../errors.js';
import type { LoadContext } from './context.js';
import { keywordsOn, ownKeywords, record, str, type At, type InheritedKeywords } from './keywords.js';
import type { YamlSource } from './yaml-source.js';

/**
 * Roles on disk: `roles/<name>/{tasks,handlers,defaults,vars,templates,files,meta}/`, each with a
 * main.yml (or main.yaml). Found beside the playbook, then in its parent folder's roles/, then in
 * the extra folders the caller gives (the project's own roles/), as Ansible searches.
 */

/** A `roles:` entry, a meta dependency or an import_role, normalised. */
export type RoleEntry = Partial<InheritedKeywords> & {
  name: string;
  /** `vars:` and any extra keys of the entry: role params. */
  params: Record<string, unknown>;
  at: At;
};

/** The keys of a role entry that are not role params: its name, its vars, and the keywords it hands down. */
const ENTRY_KEYWORDS = new Set(['role', 'name', 'vars', ...keywordsOn('role')]);

export function roleEntry(raw: unknown, at: At, ctx: LoadContext): RoleEntry | undefined {
  if (typeof raw === 'string') return { name: raw, params: {}, at };
  const entry = record(raw);
  const name = str(entry.role) ?? str(entry.name);
  if (name === undefined) {
    ctx.report(at.source.place(at.path), "a role entry needs 'role: NAME'");
    return undefined;
  }
  const params: Record<string, unknown> = { ...record(entry.vars) };
  for (const [key, value] of Object.entries(entry)) if (!ENTRY_KEYWORDS.has(key)) params[key] = value;
  const errors: InputError[] = [];
  const own = ownKeywords(entry, at, errors, keywordsOn('role'));
  ctx.problems.addAll(errors);
  return { ...own, name, params, at };
}

export function roleSearchPaths(playbookDir: string, extra: string[]): string[] {
  const paths = [
    path.join(playbookDir, 'roles'),
    path.join(path.dirname(playbookDir), 'roles'),
    ...extra.map((p) => path.resolve(p)),
  ];
  return [...new Set(paths)];
}

/** The role's folder, or undefined after reporting where it was looked for. */
export function findRoleDir(entry: RoleEntry, playbookDir: string, ctx: LoadContext): string | undefined {
  const looked: string[] = [];
  // A name with a slash is a path to the role, relative to the playbook.
  const candidates = entry.name.includes('/')
    ? [path.resolve(playbookDir, entry.name)]
    : roleSearchPaths(playbookDir, ctx.extraRolePaths).map((p) => path.join(p, entry.name));
  for (const dir of candidates) {
    looked.push(dir);
    if (isDirectory(dir)) return dir;
  }
  ctx.report(
    entry.at.source.place(entry.at.path),
    `role '${entry.name}' not found`,
    `looked in: ${looked.join(', ')}; create the role there or add its folder to the role path`,
  );
  return undefined;
}

/** What a role's folder holds, read once per load. */
export interface RoleFiles {
  name: string;
  dir: string;
  defaults: Record<string, unknown>;
  vars: Record<string, unknown>;
  dependencies: { raw: unknown; at: At }[];
  allowDuplicates: boolean;
}

export async function readRole(name: string, dir: string, ctx: LoadContext): Promise<RoleFiles> {
  const defaultsFile = mainFile(dir, 'defaults');
  const varsFile = mainFile(dir, 'vars');
  const metaFile = mainFile(dir, 'meta');
  const meta = metaFile ? await ctx.source(metaFile, 'roleMeta') : undefined;
  const metaData = record(meta?.data);
  const deps = Array.isArray(metaData.dependencies) ? metaData.dependencies : [];
  return {
    name: path.basename(name),
    dir,
    defaults: defaultsFile ? await ctx.varsFile(defaultsFile) : {},
    vars: varsFile ? await ctx.varsFile(varsFile) : {},
    dependencies: deps.map((raw, i) => ({ raw, at: { source: meta as YamlSource, path: ['dependencies', i] } })),
    allowDuplicates: metaData.allow_duplicates === true,
  };
}

/** `<dir>/<section>/<base>.yml` or `.yaml` (base may already carry its extension). */
export function mainFile(dir: string, section: string, base = 'main'): string | undefined {
  const names = /\.ya?ml$/.test(base) ? [base] : [`${base}.yml`, `${base}.yaml`];
  return names.map((n) => path.join(dir, section, n)).find((f) => existsSync(f));
}

function isDirectory(dir: string): boolean {
  try {
    return statSync(dir).isDirectory();
  } catch {
    return false;
  }
}
