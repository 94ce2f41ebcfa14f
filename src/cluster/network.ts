/**
 * The pod network's settings (step 06), checked before any host is touched: CLUSTER_NETWORK and
 * FLANNEL_BACKEND as config.yml sets them, else the network role's defaults. The role asserts
 * the same on every host, for values set per host or group in the inventory.
 */
import path from 'node:path';
import { InputError } from '../engine/errors.js';
import type { Cluster } from './cluster.js';
import { roleSetting, settingPlace } from './settings.js';

/** Each checked setting and the values it takes. */
export const NETWORK_CHOICES = {
  CLUSTER_NETWORK: ['flannel', 'routes'],
  FLANNEL_BACKEND: ['vxlan', 'host-gw'],
} as const;

/** A network setting as the role sees it: config.yml, else the network role's default. */
export function networkSetting(cluster: Cluster, key: string): unknown {
  return roleSetting(cluster, 'network', key);
}

/** A setting with a value the network step does not know stops the deploy, naming its line in config.yml. */
export function checkNetworkInput(cluster: Cluster): void {
  for (const [key, allowed] of Object.entries(NETWORK_CHOICES)) {
    const value = networkSetting(cluster, key);
    if ((allowed as readonly unknown[]).includes(value)) continue;
    throw new InputError(
      settingPlace(path.join(cluster.dir, 'config.yml'), key),
      `${key} is ${JSON.stringify(value)}: the pod network step knows ${allowed.join(' and ')}`,
      `set ${key}: ${allowed[0]} (or ${allowed.slice(1).join(', ')}) in config.yml`,
    );
  }
}
