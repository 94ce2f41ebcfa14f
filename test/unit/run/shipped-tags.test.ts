import { loadPlaybook } from '../../../src/engine/playbook/index.js';
import type { Task } from '../../../src/engine/playbook/types.js';
import { knownTags, selectTasks, unmatchedTagWarnings } from '../../../src/engine/run/selection.js';
import { modules } from '../../../src/modules/index.js';
import { packagePath } from '../../../src/package-root.js';

// The shipped steps' tags (docs/roles.md lists them): what `furrow deploy <step> -t <tag>` runs.
async function stepTasks(playbook: string): Promise<Task[]> {
  const loaded = await loadPlaybook(packagePath('playbooks', playbook), { modules, rolesPath: [packagePath('roles')] });
  return loaded.plays.flatMap((p) => p.tasks);
}

function names(tasks: Task[]): string[] {
  return tasks.flatMap((t) =>
    t.block ? names([...t.block.tasks, ...t.block.rescue, ...t.block.always]) : t.module === 'meta' ? [] : [t.name],
  );
}

const only = (tags: string[]) => ({ tags, skipTags: [] });

describe('tags in the shipped roles', () => {
  test('deploy 01 -t sysctl runs the two sysctl tasks and nothing else', async () => {
    expect(names(selectTasks(await stepTasks('01.prepare.yml'), only(['sysctl'])))).toEqual([
      'Set the network sysctls',
      'Set the kernel sysctls',
    ]);
  });

  test('deploy 01 -t modprobe runs the kernel module tasks, its probe included', async () => {
    const picked = names(selectTasks(await stepTasks('01.prepare.yml'), only(['modprobe'])));
    expect(picked).toContain('Find the kernel modules that are loaded or can be loaded here');
    expect(picked).toContain('Load the kernel modules this host can load now');
    expect(picked.every((n) => /kernel modules/.test(n))).toBe(true);
  });

  test('deploy 01 --skip-tags chrony leaves out every chrony task, the repo it imports included', async () => {
    const all = await stepTasks('01.prepare.yml');
    const kept = names(selectTasks(all, { tags: [], skipTags: ['chrony'] }));
    expect(kept.some((n) => /chrony|time server/i.test(n))).toBe(false);
    expect(kept).toContain('Set the kernel sysctls');
    expect(names(all).filter((n) => /chrony/i.test(n)).length).toBeGreaterThan(0);
  });

  // kubeasz's upgrade tag: new binaries, and the handlers' one-at-a-time restarts, whose
  // "was it running" probes are tagged always so they run too.
  test.each([
    [
      '04.master.yml',
      [
        'See whether the control plane is running already, and on which binaries',
        'Install the apiserver',
        'Install kubectl',
      ],
    ],
    [
      '05.node.yml',
      [
        'See whether kubelet and kube-proxy are running already, and on which binary',
        'Install the kubelet',
        'Install kube-proxy',
      ],
    ],
    ['02.etcd.yml', ['See whether etcd is running already, and on which binary', 'Install etcd', 'Install etcdctl']],
  ])(
    '%s: -t upgrade_k8s / upgrade_etcd installs the binaries and keeps the probes the restarts need',
    async (playbook, expected) => {
      const tag = playbook.startsWith('02') ? 'upgrade_etcd' : 'upgrade_k8s';
      const picked = names(selectTasks(await stepTasks(playbook), only([tag])));
      expect(picked).toEqual(expect.arrayContaining(expected));
      expect(picked.some((n) => /certificate|unit|kubeconfig/i.test(n))).toBe(false);
    },
  );

  test('a tag no task has is a warning naming the tags there are', async () => {
    const tasks = await stepTasks('01.prepare.yml');
    expect(knownTags(tasks)).toEqual([
      'chrony',
      'hostname',
      'journald',
      'limits',
      'modprobe',
      'packages',
      'set_hosts',
      'swap',
      'sysctl',
    ]);
    const [warning, ...more] = unmatchedTagWarnings(tasks, { tags: ['sysctls', 'sysctl'], skipTags: ['chrnoy'] });
    expect(warning).toMatch(
      /^--tags sysctls: no task has this tag, so it selects nothing; the tags here are: chrony, hostname, .*sysctl$/,
    );
    expect(more).toEqual([expect.stringMatching(/^--skip-tags chrnoy: no task has this tag, so it skips nothing/)]);
    expect(unmatchedTagWarnings(tasks, { tags: ['all', 'always', 'sysctl'], skipTags: ['never'] })).toEqual([]);
  });
});
