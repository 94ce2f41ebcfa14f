import {
  type ClusterInfo,
  type ClusterRun,
  parseKubeWaits,
  renderClusterReport,
} from '../../../bench/cluster-report.js';
import { MACHINE } from './machine.js';

const info: ClusterInfo = {
  ...MACHINE,
  runs: 3,
  hosts: 3,
  durationMin: 5,
};

const run = (phase: ClusterRun['phase'], wallS: number, steps: Record<string, number>): ClusterRun => ({
  phase,
  wallS,
  cpuS: wallS / 10,
  maxRssMb: 120,
  machineCpuS: wallS,
  hostsCpuS: wallS / 2,
  ...(phase === 'no-change deploy all' ? { idleHostsCpuS: wallS / 20 } : {}),
  changed: phase === 'first deploy all' ? 196 : 0,
  steps,
});

describe('cluster bench report', () => {
  test('medians per phase and per step, steps in their order, a step missing from a run left out of its median', () => {
    const runs = [
      run('first deploy all', 60, { '02 etcd': 2, '01 prepare': 8, '10 ex-lb': 1 }),
      run('no-change deploy all', 4, { '01 prepare': 0.7, '02 etcd': 0.4 }),
      run('first deploy all', 50, { '01 prepare': 6, '02 etcd': 3 }),
      run('no-change deploy all', 3, { '01 prepare': 0.5, '02 etcd': 0.2 }),
      run('first deploy all', 70, { '01 prepare': 7, '02 etcd': 4, '10 ex-lb': 3 }),
      run('no-change deploy all', 5, { '01 prepare': 0.6, '02 etcd': 0.3 }),
    ];
    const text = renderClusterReport(info, runs);
    expect(text).toContain('| first deploy all | 60.00 | 6.00 | 60.00 | 120 | 196 |');
    expect(text).toContain('| no-change deploy all | 4.00 | 0.40 | 4.00 | 120 | 0 |');
    const steps = text.slice(text.indexOf('## Steps (medians)'), text.indexOf('## Every run'));
    expect(steps.split('\n').filter((l) => /^\| \d\d /.test(l))).toEqual([
      '| 01 prepare | 7.00 | 0.60 |',
      '| 02 etcd | 3.00 | 0.30 |',
      '| 10 ex-lb | 2.00 |  |',
    ]);
    expect(text).toContain('| first deploy all | 60.00 | 8.00 | 2.00 | 1.00 |');
    expect(text).toContain('Each of the 3 rounds boots 3 fresh lab hosts');
    // The machine's speed, so that reports from two machines are not read as one against the other.
    expect(text).toContain('| Speed at start | 1.00 ms a process |');
    const budget = text.slice(text.indexOf("## Where a no-change deploy all's CPU goes"), text.indexOf('## Steps'));
    expect(budget.split('\n').filter((l) => l.startsWith('| ') && !l.startsWith('| |'))).toEqual([
      '| Furrow, the controller | 0.40 |',
      '| the lab hosts (their cgroups): services, sshd sessions, commands | 2.00 |',
      "| of that, the hosts' own background: the same hosts as long right after, no tool running | 0.20 |",
      '| the whole machine (/proc/stat) | 4.00 |',
      "| the machine's capacity: wall x 2 cores | 8.00 |",
    ]);
    expect(budget).toContain('busy 50% of the run');
    expect(budget).toContain('3.80 s of CPU, takes at least 1.90 s on 2 cores');
  });

  test("Kubernetes' own waits from a first deploy's journal: the first time each line was logged, this node's", () => {
    // As `journalctl -o short-unix` printed them on a lab master (2026-12-07), with a later kubelet
    // restart and another node's lines mixed in.
    const journal = [
      '1796636511.758996 h1 systemd[1]: Started kube-controller-manager.service - Kubernetes controller manager.',
      '1796636514.190534 h1 kube-controller-manager[3006]: I1207 09:41:54.190392    3006 ' +
        'node_ipam_controller.go:91] Sending events to api server.',
      '1796636515.565597 h1 systemd[1]: Started kubelet.service - Kubernetes kubelet.',
      '1796636516.050503 h1 kubelet[3222]: I1207 09:41:56.050454    3222 manager.go:165] cAdvisor running in ' +
        'container: "/sys/fs/cgroup/cpu"',
      '1796636521.068756 h1 kubelet[3222]: I1207 09:42:01.068488    3222 fs.go:127] Filesystem UUIDs: map[]',
      '1796636521.625684 h1 kubelet[3222]: I1207 09:42:01.623249    3222 server.go:1176] Started kubelet',
      '1796636521.826488 h1 kubelet[3222]: I1207 09:42:01.826296    3222 kubelet_node_status.go:74] Successfully ' +
        'registered node h1',
      '1796636526.612198 h1 kube-controller-manager[3006]: I1207 09:42:06.612200    3006 range_allocator.go:172] ' +
        'Starting range CIDR allocator',
      '1796636526.632874 h1 kube-controller-manager[3006]: I1207 09:42:06.632791    3006 range_allocator.go:373] ' +
        'Set node h10 PodCIDR to [172.20.0.0/24]',
      '1796636526.643170 h1 kube-controller-manager[3006]: I1207 09:42:06.641423    3006 range_allocator.go:373] ' +
        'Set node h1 PodCIDR to [172.20.2.0/24]',
      '1796636531.925514 h1 kubelet[3222]: I1207 09:42:11.925269    3222 kubelet_node_status.go:531] Recording ' +
        'NodeReady event message for node h1',
      '1796636900.000000 h1 systemd[1]: Started kubelet.service - Kubernetes kubelet.',
      '1796636907.000000 h1 kubelet[4000]: I1207 09:48:27.000000    4000 server.go:1176] Started kubelet',
    ].join('\n');
    const waits = parseKubeWaits(journal, 'h1')!;
    expect(Object.fromEntries(Object.entries(waits).map(([k, v]) => [k, v.toFixed(3)]))).toEqual({
      kubeletStartS: '6.060',
      cadvisorDockerS: '5.018',
      ipamWaitS: '12.422',
      registeredToPodCidrS: '4.817',
      podCidrToReadyS: '5.282',
    });
    // A journal without one of the lines (another version logs otherwise): nothing, not a wrong figure.
    expect(parseKubeWaits(journal.replace(/.*Filesystem UUIDs.*\n/, ''), 'h1')).toBeUndefined();

    const first = { ...run('first deploy all', 60, {}), kubeWaits: waits };
    const text = renderClusterReport(info, [first, { ...first, kubeWaits: { ...waits, ipamWaitS: 10.2 } }]);
    const section = text.slice(text.indexOf('## Where a first deploy waits for Kubernetes itself'));
    expect(section).toContain("From h1's journal after each first deploy (2 of them):");
    expect(section).toContain('| the controller-manager: its node IPAM started, to its range allocator | 11.31 |');
    expect(section).toContain('| of that, cAdvisor asking docker for its root folder (no docker here) | 5.02 |');
    expect(renderClusterReport(info, [run('first deploy all', 60, {})])).not.toContain('waits for Kubernetes itself');
  });

  test('no CPU budget section without an idle reading (a report from runs before it was measured)', () => {
    const runs = [run('no-change deploy all', 4, {})];
    delete runs[0]!.idleHostsCpuS;
    expect(renderClusterReport(info, runs)).not.toContain("## Where a no-change deploy all's CPU goes");
  });
});
