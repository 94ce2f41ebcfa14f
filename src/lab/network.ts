import { existsSync, readdirSync } from 'node:fs';
import { ipv6Gateway, ipv6Prefix, type LabHostLayout, type LabLayout, withNet } from './layout.js';
import { LabError } from '../engine/errors.js';
import { must, run } from './system.js';

/**
 * The lab's network: a bridge on the controller holding the gateway address, and per host a
 * network namespace joined to it by a veth pair. Hosts get no default route, so nothing in the
 * lab can reach beyond the bridge.
 */
/** The lab's /24: the one its name hashes to, or the next one no route on this machine uses yet. */
export async function chooseNet(lab: LabLayout): Promise<LabLayout> {
  return withNet(lab, freeNet(lab.net, (await run('ip', ['-4', 'route', 'show'])).stdout));
}

/** Pure: the first of net, net+1, ... (wrapping in 10.213.0.0/16) with no route in `routes`. */
export function freeNet(net: string, routes: string): string {
  const routed = new Set(routes.split('\n').map((l) => l.split(' ')[0]));
  const base = Number(net.split('.')[2]);
  for (let i = 0; i < 256; i++) {
    const candidate = `10.213.${(base + i) % 256}`;
    if (!routed.has(`${candidate}.0/24`)) return candidate;
  }
  throw new LabError('every /24 of 10.213.0.0/16 is in use on this machine: take some labs down');
}

/** `ipv6`: the bridge also holds the gateway of the lab's IPv6 /64 (no duplicate address detection: nobody else
 * is on it, and DAD would hold the address back for a second or two). */
export async function createBridge(lab: LabLayout, ipv6 = false): Promise<void> {
  const routed = (await run('ip', ['-4', 'route', 'show', `${lab.net}.0/24`])).stdout.trim();
  if (routed) {
    throw new LabError(
      `the lab network ${lab.net}.0/24 of lab '${lab.name}' is taken already (${routed}); run lab up again`,
    );
  }
  await must('ip', ['link', 'add', lab.bridge, 'type', 'bridge'], `creating bridge ${lab.bridge}`);
  await must('ip', ['addr', 'add', `${lab.gateway}/24`, 'dev', lab.bridge], `addressing bridge ${lab.bridge}`);
  if (ipv6) {
    await must(
      'ip',
      ['-6', 'addr', 'add', `${ipv6Gateway(lab.net)}/64`, 'dev', lab.bridge, 'nodad'],
      `addressing bridge ${lab.bridge} (IPv6 ${ipv6Prefix(lab.net)}/64)`,
    );
  }
  await must('ip', ['link', 'set', lab.bridge, 'up'], `raising bridge ${lab.bridge}`);
}

export async function createHostNetwork(lab: LabLayout, host: LabHostLayout, ipv6 = false): Promise<void> {
  const what = `network of ${host.name}`;
  await must('ip', ['netns', 'add', host.netns], what);
  await must('ip', ['link', 'add', host.veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', host.netns], what);
  await must('ip', ['link', 'set', host.veth, 'master', lab.bridge, 'up'], what);
  await must('ip', ['-n', host.netns, 'addr', 'add', `${host.address}/24`, 'dev', 'eth0'], what);
  if (ipv6)
    await must('ip', ['-n', host.netns, '-6', 'addr', 'add', `${host.address6}/64`, 'dev', 'eth0', 'nodad'], what);
  await must('ip', ['-n', host.netns, 'link', 'set', 'eth0', 'up'], what);
  await must('ip', ['-n', host.netns, 'link', 'set', 'lo', 'up'], what);
}

/** Network namespaces of this lab that exist now (found by name, whoever made them). */
export function labNamespaces(lab: LabLayout): string[] {
  if (!existsSync('/run/netns')) return [];
  return readdirSync('/run/netns').filter((n) => n.startsWith(lab.netnsPrefix));
}

/** Links of this lab that exist now: its bridge and host-side veths. */
export async function labLinks(lab: LabLayout): Promise<string[]> {
  const out = await run('ip', ['-o', 'link', 'show']);
  const names = out.stdout
    .split('\n')
    .map((l) => l.split(':')[1]?.trim().split('@')[0])
    .filter((n): n is string => !!n);
  return names.filter((n) => n === lab.bridge || n.startsWith(lab.vethPrefix));
}

export async function removeNetwork(lab: LabLayout): Promise<void> {
  for (const ns of labNamespaces(lab)) await run('ip', ['netns', 'delete', ns]);
  // Deleting a namespace removes its veth end; the host end goes with it, but a veth whose
  // namespace was lost in a crash may linger, so remove whatever is left by name.
  for (const link of await labLinks(lab)) await run('ip', ['link', 'delete', link]);
}
