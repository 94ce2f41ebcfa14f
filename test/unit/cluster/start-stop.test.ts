import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';

/**
 * `furrow cluster stop` and `start` cover every service a deploy runs: each unit a role's tasks
 * start and enable at boot is stopped and disabled by some role's tasks/stop.yml, and started and
 * enabled by its tasks/start.yml (which the deploy runs too), so a service added to a role later
 * cannot be forgotten by stop. Hosts' own services (chrony) are not the cluster's.
 */
const ROLES = path.resolve('roles');
const NOT_THE_CLUSTERS = new Set(['chrony']);

interface SystemdTask {
  systemd?: { name: string; state?: string; enabled?: boolean };
  loop?: string[];
}

/** The units a task list sets to `state` with `enabled`, loops expanded, templated names kept as written. */
function units(file: string, state: string, enabled: boolean): string[] {
  const tasks = (YAML.parse(readFileSync(file, 'utf8')) ?? []) as SystemdTask[];
  return tasks
    .filter((t) => t.systemd?.state === state && t.systemd.enabled === enabled)
    .flatMap((t) => (t.systemd!.name === '{{ item }}' ? t.loop! : [t.systemd!.name]))
    .filter((u) => !NOT_THE_CLUSTERS.has(u));
}

function inRoles(file: RegExp, state: string, enabled: boolean): string[] {
  return readdirSync(ROLES)
    .flatMap((role) => {
      const tasks = path.join(ROLES, role, 'tasks');
      return readdirSync(tasks)
        .filter((f) => file.test(f))
        .flatMap((f) => units(path.join(tasks, f), state, enabled));
    })
    .sort();
}

test('every unit a role starts and enables is stopped and disabled by a stop.yml, and started by a start*.yml', () => {
  const deployed = [...new Set(inRoles(/\.yml$/, 'started', true))].sort();
  expect(deployed).toEqual(
    expect.arrayContaining(['etcd', 'kube-apiserver', 'kubelet', 'kube-lb', 'containerd', 'docker', 'keepalived']),
  );
  expect(inRoles(/^stop\.yml$/, 'stopped', false)).toEqual(deployed);
  expect(inRoles(/^start(-[a-z]+)?\.yml$/, 'started', true)).toEqual(deployed);
});

test('stop and start run the roles in opposite orders', () => {
  const rolesOf = (playbook: string) =>
    (YAML.parse(readFileSync(path.resolve('playbooks', playbook), 'utf8')) as Array<{ tasks: unknown[] }>).flatMap(
      (play) => play.tasks.map((t) => (t as { import_role: { name: string } }).import_role.name),
    );
  const stop = rolesOf('cluster-stop.yml');
  const start = rolesOf('cluster-start.yml');
  expect(new Set(stop)).toEqual(new Set(start));
  // The layers: what start brings up first, stop takes down last.
  expect(stop.at(-1)).toBe('etcd');
  expect(start[0]).toBe('etcd');
  expect(stop.indexOf('kube-node')).toBeLessThan(stop.indexOf('kube-master'));
  expect(start.indexOf('kube-master')).toBeLessThan(start.indexOf('kube-node'));
  expect(stop.indexOf('kube-master')).toBeLessThan(stop.indexOf('containerd'));
  expect(start.indexOf('containerd')).toBeLessThan(start.indexOf('kube-master'));
});
