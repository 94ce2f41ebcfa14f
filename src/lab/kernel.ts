/**
 * The machine-wide kernel settings every kubelet checks when it starts. On a host of its own a
 * kubelet sets them itself; the lab's hosts share this machine's kernel, so the lab's kubelets run
 * with protectKernelDefaults (inventory/config.lab.yml) and only check, and the machine must have
 * them: `furrow lab kubernetes` puts them in place, once, and says which it changed.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { LabError } from '../engine/errors.js';

/** Each setting under /proc/sys and the value kubelet v1.20 wants (pkg/kubelet/cm setupKernelTunables). */
export const KUBELET_KERNEL_SETTINGS: Readonly<Record<string, string>> = {
  'vm/overcommit_memory': '1',
  'vm/panic_on_oom': '0',
  'kernel/panic': '10',
  'kernel/panic_on_oops': '1',
  'kernel/keys/root_maxkeys': '1000000',
  'kernel/keys/root_maxbytes': '25000000',
};

/** Sets each kubelet setting this machine does not have yet; the changes made, as `name: before -> after`. */
export function ensureKubeletKernelSettings(procSys = '/proc/sys'): string[] {
  const changes: string[] = [];
  for (const [key, want] of Object.entries(KUBELET_KERNEL_SETTINGS)) {
    const file = path.join(procSys, key);
    const have = readFileSync(file, 'utf8').trim();
    if (have === want) continue;
    const name = key.replaceAll('/', '.');
    try {
      writeFileSync(file, want);
    } catch (err) {
      throw new LabError(
        `the lab's kubelets need ${name} = ${want} on this machine (it is ${have}), and it cannot be set here ` +
          `(${(err as Error).message}): run \`sysctl -w ${name}=${want}\` as root`,
      );
    }
    changes.push(`${name}: ${have} -> ${want}`);
  }
  return changes;
}
