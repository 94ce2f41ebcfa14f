import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { parseYaml, yamlProblem } from '../engine/yaml.js';
import { InputError } from '../engine/errors.js';
import { loadInventory } from '../engine/inventory/index.js';
import type { Inventory } from '../engine/inventory/types.js';

/**
 * A cluster lives in a folder: its inventory (`hosts` in kubeasz's INI, or `inventory.yml`), an
 * optional `config.yml` of cluster settings, `pki/` (certificates, made by Furrow), `bin/`
 * (binaries for the hosts, filled by the offline bundle or by hand) and `repo/` (a package
 * repository served to the hosts during a deploy). A kubeasz cluster folder works as it is.
 */
export interface Cluster {
  dir: string;
  inventory: string;
  /** config.yml, or {} when there is none (every setting then has its role's default). */
  config: Record<string, unknown>;
  pkiDir: string;
  binDir: string;
  repoDir: string;
}

const INVENTORY_NAMES = ['hosts', 'inventory.yml', 'inventory.yaml', 'hosts.yml', 'hosts.yaml'];

/** What a cluster folder has beside its inventory, and an Ansible inventory folder does not. */
const CLUSTER_MARKS = ['config.yml', 'pki', 'bin'];

/** A folder with an inventory file of INVENTORY_NAMES and config.yml, pki/ or bin/ beside it. */
export function isClusterFolder(dir: string): boolean {
  return (
    isDirectory(dir) &&
    INVENTORY_NAMES.some((n) => existsSync(path.join(dir, n))) &&
    CLUSTER_MARKS.some((m) => existsSync(path.join(dir, m)))
  );
}

function isDirectory(p: string): boolean {
  return existsSync(p) && statSync(p).isDirectory();
}

/**
 * What `-i` names, one rule for every command (docs/cli.md): a cluster folder, or its inventory
 * file, is that cluster (its inventory and settings); anything else is an inventory file or folder
 * as Ansible reads it, with no cluster settings.
 */
export function resolveInventoryArg(arg: string): { inventory: string; cluster?: Cluster } {
  const resolved = path.resolve(arg);
  const clusterDir = isClusterFolder(resolved)
    ? resolved
    : INVENTORY_NAMES.includes(path.basename(resolved)) && isClusterFolder(path.dirname(resolved))
      ? path.dirname(resolved)
      : undefined;
  if (!clusterDir) return { inventory: arg };
  const cluster = loadCluster(clusterDir);
  return { inventory: cluster.inventory, cluster };
}

/** A cluster folder, or the inventory file inside one. */
export function loadCluster(dirArg: string): Cluster {
  const named = path.resolve(dirArg);
  const dir =
    !isDirectory(named) && existsSync(named) && INVENTORY_NAMES.includes(path.basename(named))
      ? path.dirname(named)
      : named;
  if (!isDirectory(dir)) {
    throw new InputError(
      { file: dirArg },
      'is not a cluster folder',
      "give the folder that holds the cluster's hosts (or inventory.yml) and config.yml; 'furrow new NAME' makes one",
    );
  }
  const inventory = dir === named ? INVENTORY_NAMES.map((n) => path.join(dir, n)).find((f) => existsSync(f)) : named;
  if (!inventory)
    throw new InputError(
      { file: dir },
      'the cluster folder has no inventory',
      `add one of: ${INVENTORY_NAMES.join(', ')}`,
    );
  return {
    dir,
    inventory,
    config: readConfig(path.join(dir, 'config.yml')),
    pkiDir: path.join(dir, 'pki'),
    binDir: path.join(dir, 'bin'),
    repoDir: path.join(dir, 'repo'),
  };
}

function readConfig(file: string): Record<string, unknown> {
  if (!existsSync(file)) return {};
  const doc = parseYaml(readFileSync(file, 'utf8'));
  const error = doc.errors[0];
  if (error) {
    const [line, column] = error.linePos?.[0] ? [error.linePos[0].line, error.linePos[0].col] : [undefined, undefined];
    throw new InputError({ file, line, column }, yamlProblem(error.message), 'fix the YAML syntax');
  }
  const value = doc.toJS() as unknown;
  if (value === null || value === undefined) return {};
  if (typeof value !== 'object' || Array.isArray(value))
    throw new InputError({ file, line: 1 }, 'config.yml must be a mapping of settings', 'write key: value lines');
  return value as Record<string, unknown>;
}

/** A cluster to run on: its folder and its inventory, which must list hosts (no host is guessed at). */
export async function loadClusterWithHosts(dirArg: string): Promise<{ cluster: Cluster; inventory: Inventory }> {
  const cluster = loadCluster(dirArg);
  const inventory = await loadInventory(cluster.inventory);
  if (inventory.hosts.size === 0) {
    throw new InputError(
      { file: cluster.inventory },
      'the cluster has no hosts yet',
      'add your machines to its groups (etcd, kube_master, kube_node, chrony)',
    );
  }
  return { cluster, inventory };
}

/** The variables every task of a deploy sees about its cluster (the settings, then the paths). */
export function clusterVars(cluster: Cluster, repo?: { url: string; line: string }): Record<string, unknown> {
  return {
    ...cluster.config,
    furrow_cluster_dir: cluster.dir,
    furrow_pki_dir: cluster.pkiDir,
    furrow_bin_dir: cluster.binDir,
    ...(repo ? { furrow_repo_url: repo.url, furrow_repo_line: repo.line } : {}),
  };
}
