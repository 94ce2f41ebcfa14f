import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ensureKubeletKernelSettings, KUBELET_KERNEL_SETTINGS } from '../../../src/lab/kernel.js';

/** The kubelets' kernel settings, on a /proc/sys stand-in: set where they differ, left alone where they hold. */
let procSys: string;
beforeEach(() => {
  procSys = mkdtempSync(path.join(os.tmpdir(), 'furrow-procsys-'));
  for (const [key, value] of Object.entries(KUBELET_KERNEL_SETTINGS)) {
    mkdirSync(path.dirname(path.join(procSys, key)), { recursive: true });
    writeFileSync(path.join(procSys, key), `${value}\n`);
  }
});
afterEach(() => rmSync(procSys, { recursive: true, force: true }));

test("a fresh machine's values are set and reported; a second call changes nothing", () => {
  writeFileSync(path.join(procSys, 'vm/overcommit_memory'), '0\n');
  writeFileSync(path.join(procSys, 'kernel/panic'), '0\n');
  expect(ensureKubeletKernelSettings(procSys)).toEqual(['vm.overcommit_memory: 0 -> 1', 'kernel.panic: 0 -> 10']);
  expect(readFileSync(path.join(procSys, 'vm/overcommit_memory'), 'utf8')).toBe('1');
  expect(readFileSync(path.join(procSys, 'kernel/panic'), 'utf8')).toBe('10');
  expect(ensureKubeletKernelSettings(procSys)).toEqual([]);
});

test('a setting that cannot be written is an error that says how to set it', () => {
  // /proc/version reads, and refuses writes even from root.
  rmSync(path.join(procSys, 'kernel/panic_on_oops'));
  symlinkSync('/proc/version', path.join(procSys, 'kernel/panic_on_oops'));
  expect(() => ensureKubeletKernelSettings(procSys)).toThrow(/run `sysctl -w kernel.panic_on_oops=1` as root/);
});
