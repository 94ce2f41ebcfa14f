import { existsSync } from 'node:fs';
import path from 'node:path';
import { InputError } from '../engine/errors.js';
import { textTable } from '../engine/text-table.js';

/** The deploy steps, in dependency order, with kubeasz's numbers as aliases and what each does. */
export const STEPS = [
  { number: '01', name: 'prepare', does: 'time (chrony), base packages, swap off, kernel modules, sysctls, limits' },
  { number: '02', name: 'etcd', does: 'the etcd cluster with mutual TLS, one member per host of group etcd' },
  { number: '03', name: 'runtime', does: 'the container runtime on every master and node: containerd or docker' },
  { number: '04', name: 'master', does: 'kube-lb everywhere, the control plane on the masters, admin kubeconfig' },
  { number: '05', name: 'node', does: 'kubelet and kube-proxy on every node' },
  {
    number: '06',
    name: 'network',
    does: 'the pod network by CLUSTER_NETWORK: flannel, or routes between the nodes; every node Ready',
  },
  {
    number: '07',
    name: 'addons',
    does: 'cluster add-ons by their switches: CoreDNS, metrics-server, dashboard, ingress-nginx',
  },
  // Needs only the masters' addresses; with no ex_lb hosts its play matches none and does nothing.
  {
    number: '10',
    name: 'ex-lb',
    does: 'keepalived VIP + nginx stream on the ex_lb hosts in front of every apiserver (when ex_lb has hosts)',
  },
] as const;

export interface Step {
  number: string;
  name: string;
  playbook: string;
}

/** The step's playbook file: playbooks/NN.name.yml. */
function stepPlaybook(playbooksDir: string, step: { number: string; name: string }): string {
  return path.join(playbooksDir, `${step.number}.${step.name}.yml`);
}

/** The steps that exist so far (those with a playbook). */
export function availableSteps(playbooksDir: string): Step[] {
  return STEPS.map((s) => ({ ...s, playbook: stepPlaybook(playbooksDir, s) })).filter((s) => existsSync(s.playbook));
}

/**
 * Every step as a table: number, name, what it does, whether its playbook exists yet; then 'all'.
 * `furrow deploy --list` prints it and `furrow deploy --help` shows it.
 */
export function stepTable(playbooksDir: string): string {
  const rows = [
    ['step', 'name', 'what it does', 'exists'],
    ...STEPS.map((s) => [s.number, s.name, s.does, existsSync(stepPlaybook(playbooksDir, s)) ? 'yes' : 'not yet']),
    ['90', 'all', 'every step that exists, in this order, as one run', ''],
  ];
  return textTable(rows);
}

/**
 * 'all' or '90' is every available step; 'a,b,...' those steps (names or numbers), run in the
 * steps' own order as one run; otherwise one step by name or number.
 */
export function resolveSteps(arg: string, playbooksDir: string): Step[] {
  const available = availableSteps(playbooksDir);
  if (arg === 'all' || arg === '90') return available;
  const wanted = new Set(arg.split(',').map((one) => resolveStep(one.trim(), available).name));
  return available.filter((s) => wanted.has(s.name));
}

function resolveStep(arg: string, available: Step[]): Step {
  const known = STEPS.find((s) => s.name === arg || s.number === arg || s.number === arg.padStart(2, '0'));
  const step = available.find((s) => s.name === known?.name);
  if (step) return step;
  const names = available.map((s) => `${s.number} ${s.name}`).join(', ');
  if (known)
    throw new InputError(
      undefined,
      `step '${arg}' (${known.number} ${known.name}) is not available yet`,
      `available steps: ${names}, or all`,
    );
  throw new InputError(
    undefined,
    `unknown deploy step '${arg}'`,
    `use one of: ${names}, a comma-separated list of them, or all (90); furrow deploy --list shows what each does`,
  );
}
