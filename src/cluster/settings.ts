/**
 * A cluster setting as the roles see it, and where config.yml writes it: the one reader every
 * check before a deploy uses (kubernetes.ts, network.ts, ex-lb.ts).
 */
import { existsSync, readFileSync } from 'node:fs';
import YAML from 'yaml';
import { packagePath } from '../package-root.js';
import type { Cluster } from './cluster.js';

/** A setting as a role sees it: config.yml, else that role's default (roles/ROLE/defaults/main.yml). */
export function roleSetting(cluster: Cluster, role: string, key: string): unknown {
  if (key in cluster.config) return cluster.config[key];
  return structuredClone(shippedYaml(packagePath('roles', role, 'defaults', 'main.yml'))[key]);
}

/** Where a setting is written in config.yml (its line), or the file alone when it is not there. */
export function settingPlace(file: string, ...keys: string[]): { file: string; line?: number } {
  if (!existsSync(file)) return { file };
  const text = readFileSync(file, 'utf8');
  const lineCounter = new YAML.LineCounter();
  const doc = YAML.parseDocument(text, { lineCounter });
  let node: unknown = doc.contents;
  let offset: number | undefined;
  for (const key of keys) {
    if (!YAML.isMap(node)) break;
    const pair = node.items.find((p) => YAML.isScalar(p.key) && p.key.value === key);
    if (!pair) break;
    offset = YAML.isScalar(pair.key) ? pair.key.range?.[0] : undefined;
    node = pair.value;
  }
  return offset === undefined ? { file } : { file, line: lineCounter.linePos(offset).line };
}

/** Files shipped with Furrow, parsed once per process: a deploy's checks ask for dozens of settings. */
const shipped = new Map<string, Readonly<Record<string, unknown>>>();

/**
 * A YAML mapping shipped with Furrow (a role's defaults, the default bundle manifest), parsed once
 * per process. Shared between callers: read from it, copy what you change.
 */
export function shippedYaml(file: string): Readonly<Record<string, unknown>> {
  let data = shipped.get(file);
  if (!data) {
    data = (YAML.parse(readFileSync(file, 'utf8')) ?? {}) as Record<string, unknown>;
    shipped.set(file, data);
  }
  return data;
}
