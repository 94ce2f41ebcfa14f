/**
 * Ansible as we run it: tuned the way an operator who cares about speed would tune it, so Furrow is
 * measured against Ansible at its best, not at its defaults.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { mustRun, type ToolCommand } from './tools.js';

export interface AnsibleSetup {
  env: NodeJS.ProcessEnv;
  /** Where the ControlPersist sockets live: made here, removed with the work folder. */
  controlDir: string;
  version: string;
  /** `ansible-config dump --only-changed -t all`: the settings that differ from Ansible's defaults. */
  settings: string;
}

export async function setupAnsible(workDir: string, knownHosts: string): Promise<AnsibleSetup> {
  const controlDir = path.join(workDir, 'cp');
  await mkdir(controlDir, { mode: 0o700 });
  const config = path.join(workDir, 'ansible.cfg');
  await writeFile(
    config,
    [
      '[defaults]',
      'gathering = explicit',
      // A fixed interpreter: no discovery round trip per host on every run.
      'interpreter_python = /usr/bin/python3',
      'host_key_checking = True',
      'retry_files_enabled = False',
      '',
      '[ssh_connection]',
      'pipelining = True',
      // The lab's own known_hosts, checked strictly, as Furrow checks it.
      `ssh_args = -o ControlMaster=auto -o ControlPersist=60s -o ` +
        `UserKnownHostsFile=${knownHosts} -o StrictHostKeyChecking=yes`,
      `control_path_dir = ${controlDir}`,
      '',
    ].join('\n'),
  );
  const env = { ...process.env, ANSIBLE_CONFIG: config, ANSIBLE_NOCOLOR: '1', ANSIBLE_FORCE_COLOR: '0' };
  const version = (await mustRun('ansible-playbook', ['--version'], 'ansible-playbook --version', { env })).stdout
    .split('\n')[0]!
    .trim();
  const settings = (
    await mustRun('ansible-config', ['dump', '--only-changed', '-t', 'all'], 'ansible-config dump', { env })
  ).stdout.trim();
  return { env, controlDir, version, settings };
}

/** forks = hosts: every host of the workload in flight at once, as Furrow has them by default. */
export function ansibleCommand(
  setup: AnsibleSetup,
  playbook: string,
  inventory: string,
  hosts: string[],
  cwd: string,
): ToolCommand {
  return {
    cmd: 'ansible-playbook',
    args: ['-i', inventory, '--limit', hosts.join(':'), '--forks', String(hosts.length), playbook],
    cwd,
    env: setup.env,
  };
}
