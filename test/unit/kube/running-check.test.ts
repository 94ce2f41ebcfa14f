import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chmodSync, copyFileSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';

/**
 * The check etcd, kube-master and kube-node run first ("See whether ... running already"): its
 * lines decide the restarts a run owes. Run here by /bin/sh as the role has it, with a stand-in
 * systemctl that prints what `systemctl show` prints, and real processes behind the MainPIDs: one
 * on a binary that is still there and one on a binary deleted since it started.
 */
const CHECKS = [
  { role: 'etcd', task: 'See whether etcd is running already, and on which binary' },
  { role: 'kube-master', task: 'See whether the control plane is running already, and on which binaries' },
  { role: 'kube-node', task: 'See whether kubelet and kube-proxy are running already, and on which binary' },
];

function checkScript(role: string, name: string): string {
  const tasks = YAML.parse(readFileSync(path.resolve('roles', role, 'tasks', 'main.yml'), 'utf8')) as Array<{
    name?: string;
    shell?: string;
  }>;
  const shell = tasks.find((t) => t.name === name)?.shell;
  if (shell === undefined) throw new Error(`roles/${role}: no task '${name}' with a shell`);
  return shell;
}

describe("the roles' check of what runs, and on which binary", () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'furrow-running-check-'));
  const children: ChildProcess[] = [];
  let kept: number;
  let replaced: number;

  beforeAll(() => {
    const sleep = execFileSync('/bin/sh', ['-c', 'command -v sleep'], { encoding: 'utf8' }).trim();
    const copy = path.join(dir, 'sleep-copy');
    copyFileSync(sleep, copy);
    chmodSync(copy, 0o755);
    const start = (file: string) => {
      const child = spawn(file, ['300'], { stdio: 'ignore' });
      children.push(child);
      return child.pid!;
    };
    kept = start(sleep);
    replaced = start(copy);
    unlinkSync(copy);
  });

  afterAll(() => {
    for (const child of children) child.kill();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Runs a role's check against `show`, the text the stand-in systemctl prints for `show`. */
  function run(role: string, task: string, show: string): string[] {
    writeFileSync(path.join(dir, 'show.txt'), show);
    writeFileSync(
      path.join(dir, 'systemctl'),
      `#!/bin/sh\n[ "$1" = show ] || exit 1\ncat '${path.join(dir, 'show.txt')}'\n`,
    );
    chmodSync(path.join(dir, 'systemctl'), 0o755);
    const out = execFileSync('/bin/sh', ['-c', checkScript(role, task)], {
      encoding: 'utf8',
      env: { ...process.env, PATH: `${dir}:${process.env.PATH}` },
    });
    return out.split('\n').filter(Boolean);
  }

  /** One unit's block as systemd prints it: its own properties first, then the unit's. */
  const block = (unit: string, state: string, pid: number) =>
    `MainPID=${pid}\nId=${unit}.service\nActiveState=${state}\n`;

  const UNITS: Record<string, string[]> = {
    etcd: ['etcd'],
    'kube-master': ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler'],
    'kube-node': ['kubelet', 'kube-proxy'],
  };

  test.each(CHECKS)('$role: a line per unit, and "replaced binary" only for a deleted one', ({ role, task }) => {
    const units = UNITS[role]!;
    // The script names every unit it asks for.
    for (const u of units) expect(checkScript(role, task)).toContain(`${u}.service`);
    // systemctl separates the units by an empty line; the last may or may not end with one.
    const both = (answers: string[], expected: string[]) => {
      expect(run(role, task, answers.join('\n'))).toEqual(expected);
      expect(run(role, task, `${answers.join('\n')}\n`)).toEqual(expected);
    };
    both(
      units.map((u) => block(u, 'active', kept)),
      units.map((u) => `${u}: active`),
    );
    both(
      units.map((u) => block(u, 'active', replaced)),
      units.flatMap((u) => [`${u}: active`, `${u}: replaced binary`]),
    );
    // Each unit on its own: the first on a binary still there, the second on a deleted one, the rest stopped.
    const pid = [kept, replaced];
    both(
      units.map((u, i) => block(u, i < 2 ? 'active' : 'failed', pid[i] ?? 0)),
      units.flatMap((u, i) =>
        i === 1 ? [`${u}: active`, `${u}: replaced binary`] : [`${u}: ${i < 2 ? 'active' : 'failed'}`],
      ),
    );
  });

  test('a unit that is not there is inactive, with no PID; nothing from systemctl prints nothing', () => {
    const { role, task } = CHECKS[0]!;
    expect(run(role, task, block('etcd', 'inactive', 0))).toEqual(['etcd: inactive']);
    expect(run(role, task, '')).toEqual([]);
  });
});
