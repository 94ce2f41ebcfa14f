import { renderReport, type RunInfo, type WorkloadResult } from '../../../bench/report.js';
import type { Measurement } from '../../../bench/tools.js';
import { workloads } from '../../../bench/workloads.js';
import { MACHINE } from './machine.js';

const info: RunInfo = {
  ...MACHINE,
  ansible: 'ansible-playbook [core 2.14.18]',
  ansibleSettings: '',
  runs: 3,
  openFiles: '20000',
  command: 'npm run bench',
  durationMin: 30,
};

const m = (wallS: number, cpuS: number, maxRssMb: number, machineCpuS = cpuS * 2): Measurement => ({
  wallS,
  cpuS,
  maxRssMb,
  machineCpuS,
  changed: 0,
});

/** The file workloads with Furrow's cost linear in the hosts: wall 10 ms, CPU 20 ms and 0.5 MB per host. */
function fileResults(): WorkloadResult[] {
  return workloads()
    .filter((w) => [1, 2, 5].includes(w.id))
    .map((w) => {
      const n = w.hosts.length;
      const furrow = [m(0.2 + n * 0.01, 0.3 + n * 0.02, 60 + n * 0.5)];
      return {
        workload: w,
        sameState: true,
        phases: (['first apply', 'no-change re-run'] as const).map((phase) => ({
          phase,
          runs: { ansible: [m(n * 5, n * 2, 58)], furrow: [...furrow, ...furrow, ...furrow] },
        })),
      };
    });
}

describe('bench report', () => {
  test('workload 5 is workload 1 on 100 hosts, with Ansible run once', () => {
    const w5 = workloads().find((w) => w.id === 5)!;
    expect([w5.hosts.length, w5.tasksPerHost, w5.ansibleRuns, w5.rerun]).toEqual([100, 30, 1, true]);
  });

  test("100 hosts: the issue's targets judged, and the growth carried on to 1,000 hosts from 20 to 100's slope", () => {
    const text = renderReport(info, fileResults());
    // 100 hosts: wall 0.2 + 1 = 1.20 s, RSS 60 + 50 = 110 MB.
    expect(text).toContain('- Workload 5 (100 hosts), no-change re-run at most 4 s: 1.20 s (Ansible 500.00 s): met.');
    expect(text).toContain('- Workload 5, first apply at most 8 s: 1.20 s (Ansible 500.00 s): met.');
    expect(text).toContain('- Workload 5, controller peak RSS at most 150 MB: 110 MB: met.');
    // Slope 10 ms wall, 20 ms CPU, 0.5 MB (512 KB) per host; at 1,000 hosts: 10.2 s, 20.3 s, 560 MB.
    expect(text).toContain(
      '- first apply, from 20 to 100 hosts, each added host cost 10.0 ms of wall time, 20.0 ms of controller CPU and ' +
        '512 KB of controller memory; carried on to 1,000 hosts: about 10 s, 20 s of controller CPU, 560 MB.',
    );
    expect(text).toContain("this machine's is 20000");
    expect(text).toContain('| 100 | no-change re-run | 1.20 | 2.30 | 2.30 | 110 | 23.0 |');
  });

  test('a target missed says so', () => {
    const results = fileResults();
    const w5 = results.find((r) => r.workload.id === 5)!;
    for (const p of w5.phases) p.runs.furrow = [m(9, 3, 200)];
    const text = renderReport(info, results);
    expect(text).toContain('- Workload 5, first apply at most 8 s: 9.00 s (Ansible 500.00 s): **missed**.');
    expect(text).toContain('- Workload 5, controller peak RSS at most 150 MB: 200 MB: **missed**.');
  });
});
