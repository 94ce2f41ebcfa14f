import { kubeaszConfig, kubeaszHosts, kubeaszVersion, machineWideSysctls } from '../../../bench/kubeasz-files.js';
import { type KubeaszInfo, type KubeaszRun, renderKubeaszReport } from '../../../bench/kubeasz-report.js';
import { MACHINE } from './machine.js';

/** The shape of kubeasz 3.7.0's example/hosts.multi-node, shortened. */
const EXAMPLE_HOSTS = `# 'etcd' cluster should have odd member(s) (1,3,5,...)
[etcd]
192.168.1.1
192.168.1.2

# master node(s), set unique 'k8s_nodename' for each node
[kube_master]
192.168.1.1 k8s_nodename='master-01'

[kube_node]
192.168.1.4 k8s_nodename='worker-01'

# [optional] ntp server for the cluster
[chrony]
#192.168.1.1

[all:vars]
SECURE_PORT="6443"
bin_dir="/opt/kube/bin"
base_dir="/etc/kubeasz"
cluster_dir="{{ base_dir }}/clusters/_cluster_name_"
`;

describe('kubeasz files', () => {
  test("the example inventory with the lab's hosts in the named groups, base_dir on the copy, and the login", () => {
    const text = kubeaszHosts(
      EXAMPLE_HOSTS,
      'bench',
      { etcd: ['10.0.0.11', '10.0.0.12'], kube_master: ['10.0.0.11'], kube_node: ['10.0.0.12'] },
      '/tmp/w/kubeasz',
      { user: 'root', privateKey: '/tmp/lab/id_ed25519' },
    );
    const lines = text.split('\n');
    const group = (name: string) => lines.slice(lines.indexOf(`[${name}]`) + 1, lines.indexOf(`[${name}]`) + 4);
    expect(group('etcd')).toEqual(['10.0.0.11', '10.0.0.12', '']);
    expect(group('kube_master')).toEqual(['10.0.0.11', '', '[kube_node]']);
    expect(group('kube_node')).toEqual(['10.0.0.12', '', '# [optional] ntp server for the cluster']);
    // A group not named keeps its lines, the example's comments included.
    expect(group('chrony')).toEqual(['#192.168.1.1', '', '[all:vars]']);
    expect(text).not.toMatch(/^192\.168\.1\./m);
    expect(lines).toContain('base_dir="/tmp/w/kubeasz"');
    expect(lines).toContain('cluster_dir="{{ base_dir }}/clusters/bench"');
    expect(text.endsWith('ansible_user=root\nansible_ssh_private_key_file=/tmp/lab/id_ed25519\n')).toBe(true);
  });

  test('an example without a named group or base_dir is refused, not written half-filled', () => {
    const login = { user: 'root', privateKey: 'k' };
    const groups = { etcd: ['a'], kube_master: ['a'], kube_node: ['a'] };
    expect(() => kubeaszHosts(EXAMPLE_HOSTS.replace('[kube_node]', '[nodes]'), 'c', groups, '/b', login)).toThrow(
      'no group [kube_node]',
    );
    expect(() => kubeaszHosts(EXAMPLE_HOSTS.replace(/^base_dir=.*$/m, ''), 'c', groups, '/b', login)).toThrow(
      'sets no base_dir',
    );
  });

  test('config.yml as ezctl new fills it: the Kubernetes version, no registry mirror', () => {
    const config = 'K8S_VER: "__k8s_ver__"\nENABLE_MIRROR_REGISTRY: true\nSANDBOX_IMAGE: "x:__pause__"\n';
    expect(kubeaszConfig(config, '1.20.2')).toBe(
      'K8S_VER: "1.20.2"\nENABLE_MIRROR_REGISTRY: false\nSANDBOX_IMAGE: "x:__pause__"\n',
    );
    expect(() => kubeaszConfig('K8S_VER: "1.30"\n', '1.20.2')).toThrow('no __k8s_ver__');
  });

  test('the version from ezdown', () => {
    expect(kubeaszVersion('#!/bin/bash\nKUBEASZ_VER=3.7.0\nK8S_BIN_VER=v1.36.3\n')).toBe('3.7.0');
    expect(() => kubeaszVersion('K8S_BIN_VER=v1\n')).toThrow('KUBEASZ_VER');
  });

  test("the sysctl template's settings outside net.*, as /proc/sys paths, whatever the template's conditions", () => {
    const template = [
      '# comment',
      'net.ipv4.ip_forward = 1',
      '{% if PROXY_MODE == "ipvs" %}',
      'net.ipv4.tcp_keepalive_time = 600',
      '{% endif %}',
      'fs.inotify.max_user_instances = 8192',
      'vm.swappiness = 0',
      'kernel.softlockup_panic = 1',
      'vm.swappiness=0',
    ].join('\n');
    expect(machineWideSysctls(template)).toEqual([
      'fs/inotify/max_user_instances',
      'vm/swappiness',
      'kernel/softlockup_panic',
    ]);
  });
});

const info: KubeaszInfo = {
  ...MACHINE,
  runs: 3,
  hosts: 3,
  kubeasz: '3.7.0',
  ansible: 'ansible-playbook [core 2.14.18]',
  packages: ['python3'],
  machineSysctls: ['vm.swappiness'],
  durationMin: 9,
};

function run(
  tool: KubeaszRun['tool'],
  round: number,
  step: KubeaszRun['step'],
  phase: KubeaszRun['phase'],
  wallS: number,
) {
  return { tool, round, step, phase, wallS, cpuS: wallS / 2, maxRssMb: 60, machineCpuS: wallS * 2, changed: 1 };
}

describe('kubeasz bench report', () => {
  test('medians and ratios per step and phase; a step with one tool only has no row', () => {
    const runs: KubeaszRun[] = [
      ...[40, 30, 50].map((w, i) => run('kubeasz', i + 1, '01', 'first run', w)),
      ...[5, 4, 6].map((w, i) => run('furrow', i + 1, '01', 'first run', w)),
      ...[20, 22, 24].map((w, i) => run('kubeasz', i + 1, '01', 're-run', w)),
      ...[1, 0.5, 2].map((w, i) => run('furrow', i + 1, '01', 're-run', w)),
      run('kubeasz', 1, '02', 'first run', 10),
    ];
    const text = renderKubeaszReport(info, runs);
    expect(text).toContain('| 01 prepare | first run | 40.00 | 5.00 | 8.0x | 20.00 / 2.50 | 80.00 / 10.00 | 1 / 1 |');
    expect(text).toContain('| 01 prepare | re-run | 22.00 | 1.00 | 22.0x | 11.00 / 0.50 | 44.00 / 2.00 | 1 / 1 |');
    expect(text).not.toMatch(/^\| 02 etcd \| first run \| 10/m);
    expect(text).toContain('| 1 | kubeasz | 02 etcd | first run | 10.00 | 5.00 | 20.00 | 60 | 1 |');
    expect(text).toContain('kubeasz changed vm.swappiness; they were put back.');
    expect(renderKubeaszReport({ ...info, machineSysctls: [] }, runs)).toContain('kubeasz changed none of them');
  });
});
