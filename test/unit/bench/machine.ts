import type { MachineInfo } from '../../../bench/tools.js';

/** The machine a report test's figures come from: a report's header, without a real machine. */
export const MACHINE: MachineInfo = {
  date: '2026-12-05T20:00:00Z',
  machine: '2 cores',
  cores: 2,
  kernel: 'Linux',
  loadAverage: '0.1',
  speed: '1.00 ms a process',
  node: 'v20',
  furrow: '0.1.0',
};
