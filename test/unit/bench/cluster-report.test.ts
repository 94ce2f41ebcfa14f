import { type ClusterInfo, type ClusterRun, renderClusterReport } from '../../../bench/cluster-report.js';
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

  test('no CPU budget section without an idle reading (a report from runs before it was measured)', () => {
    const runs = [run('no-change deploy all', 4, {})];
    delete runs[0]!.idleHostsCpuS;
    expect(renderClusterReport(info, runs)).not.toContain("## Where a no-change deploy all's CPU goes");
  });
});
