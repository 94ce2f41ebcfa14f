/**
 * Workload 7 of `npm run bench` (alone: `npm run bench:kubeasz -- --kubeasz DIR`): kubeasz's own
 * steps 01 (prepare) and 02 (etcd) against Furrow's `deploy 01` and `deploy 02`, on identical fresh
 * lab hosts. kubeasz runs offline from an unmodified checkout (DIR): its packages are in the hosts'
 * root filesystem already, its binaries are the ones Furrow deploys (the lab bundle's), cfssl is
 * Debian's. Each round boots fresh hosts for each tool, alternating which goes first; each tool then
 * runs step 01 twice and step 02 twice (a first run and a re-run), and both must leave the same
 * etcd cluster. Writes docs/benchmarks-kubeasz.md; the lab always goes down again, and the machine's
 * kernel settings kubeasz's step 01 reaches through the lab's shared kernel are put back.
 */
import { existsSync } from 'node:fs';
import { copyFile, cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { type KubeaszInfo, type KubeaszRun, KUBEASZ_PHASES, renderKubeaszReport } from './kubeasz-report.js';
import { kubeaszConfig, kubeaszHosts, kubeaszVersion, machineWideSysctls } from './kubeasz-files.js';
import { shutLab } from './lab.js';
import {
  aptInstall,
  describeMachine,
  furrow,
  FURROW_CLI,
  mustFurrow,
  mustRun,
  outputTail,
  readRecap,
  REPO,
  stopControlMasters,
  timedRun,
  type ToolCommand,
} from './tools.js';

export const KUBEASZ_WORKLOAD = 7;
const LAB = 'bench-kubeasz';
const HOSTS = 3;
const CLUSTER = 'bench';

/**
 * Debian packages in the hosts' root filesystem, for both tools: python3 and python3-apt for
 * Ansible's apt module, and the list kubeasz's prepare role installs on Debian
 * (roles/prepare/tasks/debian.yml), which it could not fetch offline.
 */
export const KUBEASZ_HOST_PACKAGES = [
  'python3',
  'python3-apt',
  'bash-completion',
  'conntrack',
  'ipset',
  'ipvsadm',
  'jq',
  'libseccomp2',
  'lvm2',
  'nfs-common',
  'psmisc',
  'rsync',
  'socat',
];

/** What kubeasz needs on the controller: Ansible with its collections (modprobe, sysctl), and cfssl. */
const CONTROLLER_NEEDS: Array<{ file: string; pkg: string }> = [
  { file: '/usr/lib/python3/dist-packages/ansible_collections/community/general', pkg: 'ansible' },
  { file: '/usr/lib/python3/dist-packages/ansible_collections/ansible/posix', pkg: 'ansible' },
  { file: '/usr/bin/cfssl', pkg: 'golang-cfssl' },
  { file: '/usr/bin/cfssljson', pkg: 'golang-cfssl' },
];

/** The files of a kubeasz checkout the workload uses. */
const CHECKOUT_FILES = [
  'ansible.cfg',
  'ezdown',
  'example/hosts.multi-node',
  'example/config.yml',
  'playbooks/01.prepare.yml',
  'playbooks/02.etcd.yml',
  'roles/prepare/templates/95-k8s-sysctl.conf.j2',
];

/** The binaries kubeasz's steps 01 and 02 take from its bin/, from the bundle Furrow deploys. */
const BUNDLE_BINARIES = ['etcd', 'etcdctl', 'kubectl', 'kube-apiserver'];

type Tool = 'kubeasz' | 'furrow';

const log0 = (log: (line: string) => void) => (line: string) => log(`workload ${KUBEASZ_WORKLOAD}: ${line}`);

function ensureKubeaszTools(log: (line: string) => void): Promise<void> {
  const missing = [...new Set(CONTROLLER_NEEDS.filter((n) => !existsSync(n.file)).map((n) => n.pkg))];
  return aptInstall(missing, "from Debian's packages (kubeasz needs them on the controller)", log);
}

interface LabHosts {
  cwd: string;
  inventory: string;
  knownHosts: string;
  privateKey: string;
  addresses: string[];
  /** The Furrow cluster folder made from the lab (`furrow new --from-lab`): its bundle has the binaries. */
  clusterDir: string;
}

/** Fresh hosts and their cluster folder, made the same way for both tools (untimed). */
async function freshHosts(cwd: string): Promise<LabHosts> {
  // The same name from the same folder: lab up takes down the previous hosts first.
  await mustFurrow(
    ['lab', 'up', '--hosts', String(HOSTS), '--name', LAB, '--packages', KUBEASZ_HOST_PACKAGES.join(',')],
    cwd,
  );
  const clusterDir = path.join(cwd, 'cluster');
  await rm(clusterDir, { recursive: true, force: true });
  await mustFurrow(['new', clusterDir, '--from-lab', LAB], cwd);
  const labDir = path.join(cwd, '.furrow', `lab-${LAB}`);
  const inventory = path.join(labDir, 'inventory.yml');
  const doc = YAML.parse(await readFile(inventory, 'utf8')) as {
    all: { vars: { ansible_ssh_private_key_file: string }; hosts: Record<string, { ansible_host: string }> };
  };
  return {
    cwd,
    inventory,
    knownHosts: path.join(labDir, 'known_hosts'),
    privateKey: doc.all.vars.ansible_ssh_private_key_file,
    addresses: Object.values(doc.all.hosts).map((h) => h.ansible_host),
    clusterDir,
  };
}

/**
 * A copy of the checkout as kubeasz's base_dir (its clusters/ and certificates are made there, never
 * in DIR), with bin/ filled and the cluster's files written as `ezctl new` would.
 */
async function kubeaszBase(checkout: string, work: string, hosts: LabHosts): Promise<string> {
  const base = path.join(work, 'kubeasz');
  await rm(base, { recursive: true, force: true });
  await cp(checkout, base, { recursive: true, filter: (src) => path.basename(src) !== '.git' });
  const bin = path.join(base, 'bin');
  await mkdir(bin, { recursive: true });
  for (const name of BUNDLE_BINARIES)
    await copyFile(path.join(hosts.clusterDir, 'bundle', 'bin', 'amd64', name), path.join(bin, name));
  for (const name of ['cfssl', 'cfssljson']) await copyFile(`/usr/bin/${name}`, path.join(bin, name));
  // etcd 3.4 (Debian 12's, the bundle's) has no etcdutl; step 02 copies one to the hosts and never runs it.
  await writeFile(
    path.join(bin, 'etcdutl'),
    '#!/bin/sh\necho "etcdutl: not part of etcd 3.4; put here by the Furrow bench so kubeasz can copy it" >&2\n' +
      'exit 1\n',
    { mode: 0o755 },
  );
  const clusterDir = path.join(base, 'clusters', CLUSTER);
  await mkdir(clusterDir, { recursive: true });
  const [first] = hosts.addresses;
  await writeFile(
    path.join(clusterDir, 'hosts'),
    kubeaszHosts(
      await readFile(path.join(base, 'example', 'hosts.multi-node'), 'utf8'),
      CLUSTER,
      { etcd: hosts.addresses, kube_master: [first!], kube_node: hosts.addresses },
      base,
      { user: 'root', privateKey: hosts.privateKey },
    ),
  );
  const version = (
    await mustRun(path.join(bin, 'kubectl'), ['version', '--client', '--short'], 'kubectl version')
  ).stdout.replace(/^.*v(\d+\.\d+\.\d+).*$/s, '$1');
  await writeFile(
    path.join(clusterDir, 'config.yml'),
    kubeaszConfig(await readFile(path.join(base, 'example', 'config.yml'), 'utf8'), version),
  );
  return base;
}

/** The machine's values of kubeasz's sysctls that are not per network namespace. */
async function readSysctls(keys: string[]): Promise<Map<string, string>> {
  const values = new Map<string, string>();
  for (const key of keys) {
    const file = path.join('/proc/sys', key);
    if (existsSync(file)) values.set(key, (await readFile(file, 'utf8')).trim());
  }
  return values;
}

/** Puts back every value that differs from `before`; returns what kubeasz had changed ("vm.swappiness 60 -> 0"). */
async function restoreSysctls(before: Map<string, string>): Promise<string[]> {
  const changed: string[] = [];
  for (const [key, value] of before) {
    const file = path.join('/proc/sys', key);
    const now = (await readFile(file, 'utf8')).trim();
    if (now === value) continue;
    changed.push(`${key.replaceAll('/', '.')} ${value} -> ${now}`);
    await writeFile(file, value);
  }
  return changed;
}

interface StepCommand {
  step: '01' | '02';
  command: ToolCommand;
}

function kubeaszCommands(base: string, hosts: LabHosts, controlDir: string): StepCommand[] {
  const env = {
    ...process.env,
    // kubeasz's own ansible.cfg, with its roles_path (/etc/kubeasz/roles) pointed at the copy.
    ANSIBLE_CONFIG: path.join(base, 'ansible.cfg'),
    ANSIBLE_ROLES_PATH: path.join(base, 'roles'),
    // How Ansible reaches the lab: its known_hosts, checked strictly, and ControlPersist as kubeasz's
    // defaults have it; the control sockets in our work folder, to be stopped afterwards.
    ANSIBLE_SSH_ARGS:
      `-C -o ControlMaster=auto -o ControlPersist=60s -o UserKnownHostsFile=${hosts.knownHosts} ` +
      '-o StrictHostKeyChecking=yes',
    ANSIBLE_SSH_CONTROL_PATH: path.join(controlDir, 'ansible-ssh-%%h-%%p-%%r'),
    ANSIBLE_NOCOLOR: '1',
    ANSIBLE_FORCE_COLOR: '0',
  };
  const clusterDir = path.join('clusters', CLUSTER);
  // As `ezctl setup NAME 01` runs it.
  const play = (playbook: string): ToolCommand => ({
    cmd: 'ansible-playbook',
    args: ['-i', path.join(clusterDir, 'hosts'), '-e', `@${path.join(clusterDir, 'config.yml')}`, playbook],
    cwd: base,
    env,
  });
  return [
    { step: '01', command: play('playbooks/01.prepare.yml') },
    { step: '02', command: play('playbooks/02.etcd.yml') },
  ];
}

/**
 * Furrow's steps on the same hosts. kubeasz's example inventory has no chrony host, so its step 01
 * runs no chrony: Furrow's skips its chrony tasks too.
 */
function furrowCommands(hosts: LabHosts): StepCommand[] {
  const deploy = (step: '01' | '02'): ToolCommand => ({
    cmd: process.execPath,
    args: [FURROW_CLI, 'deploy', step, '-i', hosts.clusterDir, ...(step === '01' ? ['--skip-tags', 'chrony'] : [])],
    cwd: hosts.cwd,
    env: process.env,
  });
  return [
    { step: '01', command: deploy('01') },
    { step: '02', command: deploy('02') },
  ];
}

/**
 * The end state both tools must reach: on every host etcd is active and its cluster answers healthy
 * over TLS with all members, each asked with that tool's own certificates, and IPv4 forwarding and
 * bridged traffic through iptables are on.
 */
async function checkEndState(tool: Tool, hosts: LabHosts): Promise<void> {
  const endpoints = hosts.addresses.map((a) => `https://${a}:2379`).join(',');
  const tls =
    tool === 'kubeasz'
      ? '--cacert /etc/kubernetes/ssl/ca.pem --cert /etc/kubernetes/ssl/etcd.pem --key /etc/kubernetes/ssl/etcd-key.pem'
      : '--cacert /etc/kubernetes/pki/etcd/ca.crt --cert /etc/kubernetes/pki/etcd/healthcheck-client.crt ' +
        '--key /etc/kubernetes/pki/etcd/healthcheck-client.key';
  const etcdctl = `ETCDCTL_API=3 /opt/kube/bin/etcdctl ${tls} --endpoints ${endpoints}`;
  const check = [
    'set -e',
    'systemctl is-active --quiet etcd.service',
    `${etcdctl} endpoint health`,
    `test "$(${etcdctl} member list | grep -c ', started, ')" = ${HOSTS}`,
    'test "$(cat /proc/sys/net/ipv4/ip_forward)" = 1',
    'test "$(cat /proc/sys/net/bridge/bridge-nf-call-iptables)" = 1',
  ].join('\n');
  const r = await furrow(['exec', 'all', '-i', hosts.inventory, '--', check], hosts.cwd);
  if (r.code !== 0)
    throw new Error(`after ${tool}'s steps 01 and 02 the hosts are not as both tools must leave them:${outputTail(r)}`);
}

/** One tool's turn on fresh hosts: step 01 twice, step 02 twice, then the end state. */
async function turn(
  tool: Tool,
  round: number,
  ctx: { checkout: string; work: string; sysctls: string[]; log: (line: string) => void },
): Promise<{ runs: KubeaszRun[]; machineChanges: string[] }> {
  const hosts = await freshHosts(ctx.work);
  const controlDir = path.join(ctx.work, 'cp');
  await mkdir(controlDir, { recursive: true, mode: 0o700 });
  const commands =
    tool === 'kubeasz'
      ? kubeaszCommands(await kubeaszBase(ctx.checkout, ctx.work, hosts), hosts, controlDir)
      : furrowCommands(hosts);
  const before = await readSysctls(ctx.sysctls);
  const runs: KubeaszRun[] = [];
  let machineChanges: string[] = [];
  try {
    for (const { step, command } of commands) {
      for (const phase of KUBEASZ_PHASES) {
        const logFile = path.join(ctx.work, `round${round}-${tool}-${step}-${phase.replaceAll(' ', '-')}.log`);
        const { output, ...cost } = await timedRun(command, logFile);
        const recap = readRecap(tool === 'kubeasz' ? 'ansible' : 'furrow', output.stdout);
        if (output.code !== 0 || recap.bad > 0)
          throw new Error(`${tool} step ${step} ${phase} failed (exit ${output.code}):${outputTail(output)}`);
        if (tool === 'furrow' && phase === 're-run' && recap.changed !== 0)
          throw new Error(`furrow step ${step} re-run changed ${recap.changed} task(s):${outputTail(output)}`);
        runs.push({ tool, round, step, phase, ...cost, changed: recap.changed });
        ctx.log(
          `round ${round} ${tool.padEnd(7)} step ${step} ${phase.padEnd(9)} ${cost.wallS.toFixed(2)} s ` +
            `(cpu ${cost.cpuS.toFixed(2)} s, ${recap.changed} changed)`,
        );
      }
    }
    await checkEndState(tool, hosts);
  } finally {
    machineChanges = await restoreSysctls(before);
    if (machineChanges.length)
      ctx.log(`${tool} changed this machine's ${machineChanges.join(', ')} (the lab shares its kernel): put back`);
    await stopControlMasters(controlDir);
  }
  return { runs, machineChanges };
}

async function checkoutInfo(checkout: string): Promise<{ version: string; sysctls: string[] }> {
  const missing = CHECKOUT_FILES.filter((f) => !existsSync(path.join(checkout, f)));
  if (missing.length) throw new Error(`--kubeasz ${checkout}: not a kubeasz checkout (missing ${missing.join(', ')})`);
  return {
    version: kubeaszVersion(await readFile(path.join(checkout, 'ezdown'), 'utf8')),
    sysctls: machineWideSysctls(
      await readFile(path.join(checkout, 'roles', 'prepare', 'templates', '95-k8s-sysctl.conf.j2'), 'utf8'),
    ),
  };
}

export async function runKubeaszBench(runs: number, checkout: string, log: (line: string) => void): Promise<void> {
  const say = log0(log);
  const dir = path.resolve(checkout);
  const { version, sysctls } = await checkoutInfo(dir);
  await ensureKubeaszTools(say);
  const machine = await describeMachine();
  const startedAt = Date.now();
  const work = await mkdtemp(path.join(os.tmpdir(), 'furrow-bench-kubeasz-'));
  const results: KubeaszRun[] = [];
  const machineChanges = new Set<string>();
  try {
    await mustFurrow(['lab', 'kubernetes'], work);
    for (let round = 1; round <= runs; round++) {
      const order: Tool[] = round % 2 ? ['kubeasz', 'furrow'] : ['furrow', 'kubeasz'];
      for (const tool of order) {
        say(`round ${round}/${runs}: ${tool} on ${HOSTS} fresh lab hosts (lab '${LAB}')`);
        const turnResult = await turn(tool, round, { checkout: dir, work, sysctls, log: say });
        results.push(...turnResult.runs);
        for (const c of turnResult.machineChanges) machineChanges.add(c.replace(/ .*/, ''));
      }
    }
    const ansible = (await mustRun('ansible-playbook', ['--version'], 'ansible-playbook --version')).stdout.split(
      '\n',
    )[0]!;
    const info: KubeaszInfo = {
      ...machine,
      runs,
      hosts: HOSTS,
      kubeasz: version,
      ansible: ansible.trim(),
      packages: KUBEASZ_HOST_PACKAGES,
      machineSysctls: [...machineChanges],
      durationMin: (Date.now() - startedAt) / 60_000,
    };
    const report = renderKubeaszReport(info, results);
    process.stdout.write(`${report}\n`);
    await writeFile(path.join(REPO, 'docs', 'benchmarks-kubeasz.md'), report);
    say('results written to docs/benchmarks-kubeasz.md');
  } finally {
    await shutLab(work, say, LAB);
    await rm(work, { recursive: true, force: true });
  }
}
