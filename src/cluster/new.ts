import { copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { InputError } from '../engine/errors.js';
import { labClientDir } from '../lab/layout.js';
import { PACKAGE_ROOT } from '../package-root.js';

export interface NewClusterOptions {
  /** Take the hosts from this running lab (its inventory and the lab settings). */
  fromLab?: string;
  /** Where labs are looked up (the lab's folder is under it). */
  cwd: string;
}

/** `furrow new DIR`: a cluster folder from the examples, or from a running lab; what to do next. */
export function newCluster(dir: string, o: NewClusterOptions): string {
  if (existsSync(path.join(dir, 'hosts')) || existsSync(path.join(dir, 'inventory.yml'))) {
    throw new InputError({ file: dir }, 'already holds a cluster', 'pick a new folder name');
  }
  let labInventory: string | undefined;
  if (o.fromLab !== undefined) {
    labInventory = path.join(labClientDir(o.cwd, o.fromLab), 'inventory.yml');
    if (!existsSync(labInventory))
      throw new InputError(
        { file: labInventory },
        `lab '${o.fromLab}' is not up here`,
        `run 'furrow lab up${o.fromLab === 'default' ? '' : ` --name ${o.fromLab}`}' first`,
      );
  }
  mkdirSync(dir, { recursive: true });
  if (labInventory) {
    copyFileSync(labInventory, path.join(dir, 'inventory.yml'));
    copyFileSync(path.join(PACKAGE_ROOT, 'inventory', 'config.lab.yml'), path.join(dir, 'config.yml'));
  } else {
    copyFileSync(path.join(PACKAGE_ROOT, 'inventory', 'hosts.example'), path.join(dir, 'hosts'));
    copyFileSync(path.join(PACKAGE_ROOT, 'inventory', 'config.example.yml'), path.join(dir, 'config.yml'));
  }
  for (const sub of ['pki', 'bin']) mkdirSync(path.join(dir, sub), { recursive: true });
  writeFileSync(
    path.join(dir, 'bin', 'README'),
    'Binaries for the hosts (etcd, etcdctl, ...): filled by `furrow bundle preload` or by hand.\n',
  );
  return `edit ${labInventory ? 'config.yml' : 'hosts and config.yml'}, then: furrow deploy all -i ${dir}`;
}
