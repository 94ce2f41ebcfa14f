/**
 * Turns workload 7's runs into docs/benchmarks-kubeasz.md: kubeasz's steps 01 and 02 against
 * Furrow's, medians and ratios per step and phase, and every run.
 */
import { median, runTable } from './report.js';
import type { MachineInfo } from './tools.js';

export type KubeaszPhase = 'first run' | 're-run';
export const KUBEASZ_PHASES: KubeaszPhase[] = ['first run', 're-run'];
const STEPS = ['01', '02'] as const;
const STEP_NAMES: Record<(typeof STEPS)[number], string> = { '01': '01 prepare', '02': '02 etcd' };
const TOOLS = ['kubeasz', 'furrow'] as const;

export interface KubeaszRun {
  tool: (typeof TOOLS)[number];
  round: number;
  step: (typeof STEPS)[number];
  phase: KubeaszPhase;
  wallS: number;
  cpuS: number;
  maxRssMb: number;
  machineCpuS: number;
  /** Tasks reported changed, summed over the recap's hosts (kubeasz's includes localhost). */
  changed: number;
}

export interface KubeaszInfo extends MachineInfo {
  runs: number;
  hosts: number;
  kubeasz: string;
  ansible: string;
  packages: string[];
  /** Machine-wide kernel settings kubeasz's step 01 changed through the lab's shared kernel (put back). */
  machineSysctls: string[];
  durationMin: number;
}

const s2 = (n: number): string => n.toFixed(2);

function medianOf(runs: KubeaszRun[], key: 'wallS' | 'cpuS' | 'machineCpuS' | 'maxRssMb' | 'changed'): number {
  return median(runs.map((r) => r[key]));
}

function mediansTable(runs: KubeaszRun[]): string[] {
  const rows = [
    '| Step | Phase | kubeasz (s) | Furrow (s) | kubeasz / Furrow | controller CPU kubeasz / Furrow (s) | ' +
      'machine CPU kubeasz / Furrow (s) | tasks changed kubeasz / Furrow |',
    '|---|---|---:|---:|---:|---:|---:|---:|',
  ];
  for (const step of STEPS) {
    for (const phase of KUBEASZ_PHASES) {
      const of = (tool: (typeof TOOLS)[number]) =>
        runs.filter((r) => r.tool === tool && r.step === step && r.phase === phase);
      const k = of('kubeasz');
      const f = of('furrow');
      if (!k.length || !f.length) continue;
      const pair = (key: 'cpuS' | 'machineCpuS') => `${s2(medianOf(k, key))} / ${s2(medianOf(f, key))}`;
      rows.push(
        `| ${STEP_NAMES[step]} | ${phase} | ${s2(medianOf(k, 'wallS'))} | ${s2(medianOf(f, 'wallS'))} | ` +
          `${(medianOf(k, 'wallS') / medianOf(f, 'wallS')).toFixed(1)}x | ${pair('cpuS')} | ${pair('machineCpuS')} | ` +
          `${medianOf(k, 'changed')} / ${medianOf(f, 'changed')} |`,
      );
    }
  }
  return rows;
}

function everyRun(runs: KubeaszRun[]): string[] {
  return [
    '| Round | Tool | Step | Phase | Wall (s) | Controller CPU (s) | Machine CPU (s) | Peak RSS (MB) | Changed |',
    '|---:|---|---|---|---:|---:|---:|---:|---:|',
    ...runs.map(
      (r) =>
        `| ${r.round} | ${r.tool} | ${STEP_NAMES[r.step]} | ${r.phase} | ${s2(r.wallS)} | ${s2(r.cpuS)} | ` +
        `${s2(r.machineCpuS)} | ${r.maxRssMb.toFixed(0)} | ${r.changed} |`,
    ),
  ];
}

export function renderKubeaszReport(info: KubeaszInfo, runs: KubeaszRun[]): string {
  return [
    "# Benchmark: kubeasz's steps 01 and 02 against Furrow's",
    '',
    `Written by workload 7 of \`npm run bench\` (alone: \`npm run bench:kubeasz -- --kubeasz DIR\`; ` +
      `bench/kubeasz.ts) on ${info.date}; the whole run took ${info.durationMin.toFixed(1)} min. Timings are ` +
      'measured here, never asserted in a test.',
    '',
    `kubeasz ${info.kubeasz} runs from an unmodified checkout, as \`ezctl setup NAME 01\` and \`02\` run it ` +
      '(`ansible-playbook -i clusters/NAME/hosts -e @clusters/NAME/config.yml playbooks/01.prepare.yml`), with ' +
      "its own ansible.cfg, against Furrow's `deploy 01` and `deploy 02`. Offline, as the lab is:",
    '',
    `- Both tools' hosts boot from one root filesystem that already holds the Debian packages kubeasz's ` +
      `prepare role installs, and python3 and python3-apt for Ansible: ${info.packages.join(', ')}. ` +
      "kubeasz's own package tasks then find them installed; its `apt update` fails offline and kubeasz " +
      'ignores that.',
    "- kubeasz's bin/ holds the binaries Furrow deploys (the lab bundle's etcd 3.4, etcdctl, kubectl, " +
      "kube-apiserver) and Debian's cfssl and cfssljson. etcd 3.4 has no etcdutl: a stub stands in for it, " +
      'which step 02 copies to the hosts and never runs.',
    "- The cluster's `hosts` and `config.yml` are kubeasz's examples as `ezctl new` fills them, with the " +
      "lab's addresses: every host in etcd and kube_node, the first in kube_master, no chrony host (the " +
      "example's default). So kubeasz's step 01 runs no chrony, and Furrow's runs with `--skip-tags chrony`.",
    "- Ansible logs in as the lab's root with the lab's key and known_hosts (checked strictly), with " +
      'ControlPersist as in kubeasz; Furrow uses the same key and known_hosts.',
    '',
    `Each round (${info.runs} in all) gives each tool ${info.hosts} fresh lab hosts (kubeasz first in odd rounds, ` +
      'Furrow first in even ones) and times step 01 twice, then step 02 twice: a first run, and a re-run right ' +
      'after it. Afterwards, on every host, etcd must be active, and the cluster must answer healthy over TLS ' +
      "with all members started, asked with that tool's own certificates. IPv4 forwarding and bridged traffic " +
      'through iptables must be on. Every round passed these checks.',
    '',
    ...runTable(info, [
      ['kubeasz', info.kubeasz],
      ['Ansible', info.ansible],
    ]),
    '',
    '## Medians',
    '',
    ...mediansTable(runs),
    '',
    'Wall is process start to exit as the controller sees it. Controller CPU is user + system time of the tool ' +
      'and the children it waited for (GNU time): for kubeasz, ansible-playbook and its forks, ssh and cfssl. ' +
      "Machine CPU is what the whole machine spent meanwhile (/proc/stat), the hosts' work included.",
    '',
    '## What the tools do differently',
    '',
    '- A kubeasz re-run of step 01 skips its prepare role on a host that has /opt/kubeasz_prepare_tasks, ' +
      'the marker its first run leaves: what drifted since is not put back. It re-makes the kubeconfigs on the ' +
      "controller each time (its localhost tasks report changes). Furrow's re-run checks every file, package, " +
      'sysctl and module and changes nothing.',
    "- kubeasz's step 02 restarts etcd on every member on every run, all at once; Furrow's restarts a member " +
      'only when its unit, certificates or binary changed, one member at a time.',
    "- kubeasz's step 01 writes machine-wide kernel settings (fs, kernel, vm) in its sysctl file. The lab's hosts " +
      "share this machine's kernel, so the bench reads those settings before each kubeasz turn and puts them " +
      `back after. ${
        info.machineSysctls.length
          ? `kubeasz changed ${info.machineSysctls.join(', ')}; they were put back.`
          : 'kubeasz changed none of them in this run.'
      }`,
    '',
    '## Every run (in order)',
    '',
    ...everyRun(runs),
    '',
  ].join('\n');
}
