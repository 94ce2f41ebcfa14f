import type { ModuleRegistry, AnyModule } from '../engine/module.js';
import { blockinfile } from './blockinfile.js';
import { copy } from './copy.js';
import { fetch } from './fetch.js';
import { file } from './file.js';
import { lineinfile } from './lineinfile.js';
import { template } from './template.js';
import { getUrl } from './get_url.js';
import { aptModule, dnfModule, packageModule, yumModule } from './package.js';
import { unarchive } from './unarchive.js';
import { command } from './command.js';
import { shell } from './shell.js';
import { systemd } from './systemd.js';
import { sysctl } from './sysctl.js';
import { kmod } from './kmod.js';
import { wait_for } from './wait_for.js';
import { set_fact } from './set_fact.js';
import { assert } from './assert.js';
import { debug } from './debug.js';
import { cert } from './cert.js';
import { image } from './image.js';
import { kubeconfig } from './kubeconfig.js';
import { serviceAccountKey } from './service_account_key.js';
import { k8s } from './k8s.js';

/**
 * The module registry: the one place that names concrete modules. Adding a module is one import
 * and one entry here. The engine does not import this file: the CLI and src/cluster pass `modules`
 * to it (RunOptions.modules, LoadOptions.modules).
 */
const all: AnyModule[] = [
  packageModule,
  aptModule,
  dnfModule,
  yumModule,
  getUrl,
  unarchive,
  file,
  copy,
  template,
  lineinfile,
  blockinfile,
  fetch,
  command,
  shell,
  systemd,
  sysctl,
  kmod,
  wait_for,
  set_fact,
  assert,
  debug,
  cert,
  kubeconfig,
  serviceAccountKey,
  image,
  k8s,
];

const byName = new Map(all.map((m) => [m.name, m]));

export function findModule(name: string): AnyModule | undefined {
  return byName.get(name);
}

export function moduleNames(): string[] {
  return [...byName.keys()].sort();
}

export const modules: ModuleRegistry = { findModule, moduleNames };
