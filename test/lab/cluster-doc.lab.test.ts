import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { ensureAuthorities } from '../../src/pki/authority.js';
import { expectLines, pageSteps, sh } from './doc-page.js';
import {
  type CliResult,
  describeLab,
  execOnHost,
  expectExit,
  FINGERPRINT_SCRIPT,
  fingerprintChanges,
  labKubernetesBin,
  labTestName,
  leftBehind,
  recap,
} from './support.js';

/**
 * docs/cluster.md, run as written on a lab: its `sh` blocks are the commands, a `text` block after
 * one holds lines they must print, and the CA check's message is provoked and compared with the
 * one the page shows. What this test changes, and why:
 * - the lab is named t-cdoc (never a user's default lab), and `npx furrow` is this build;
 * - `clusters/prod` has no hosts (the page says to put your own in), so the blocks after "Making
 *   one" run on `clusters/lab`, the folder the page's second command makes from the lab;
 * - the one edit an operator makes for "After step 10": h2 and h3 in `ex_lb`, with the lab
 *   subnet's .250 as the VIP, so `deploy all` runs step 10 and the ex-lb kubeconfig exists;
 * - `kubectl` is the lab's own v1.20.2 build (`furrow lab kubernetes`), put first on PATH.
 * The add-ons' images cannot be fetched in the lab: their objects are created, their pods do not
 * run (the page says so); nothing here waits for them.
 */
const NAME = labTestName('t-cdoc');
const PAGE = path.resolve('docs/cluster.md');
const CLI = path.resolve('dist/cli/furrow.js');
const HOSTS = ['h1', 'h2', 'h3'];

const page = readFileSync(PAGE, 'utf8');
const steps = pageSteps(page);

/** The page's commands as this test runs them (see above). */
function forTest(command: string, prodIsLab: boolean): string {
  const own = command
    .replaceAll('npx furrow ', `"${process.execPath}" "${CLI}" `)
    .replace(/ lab (up|down)( |$)/, ` lab $1 --name ${NAME}$2`)
    .replace(/--from-lab\b/, `--from-lab ${NAME}`);
  return prodIsLab
    ? own.replaceAll('clusters/prod/', 'clusters/lab/').replace(/clusters\/prod( |$)/gm, 'clusters/lab$1')
    : own;
}

/** Times, the lab's /24, node ages, folders, CA fingerprints, etcd's size and leader differ from run to run. */
const normalize = (cwd: string) => (text: string) =>
  text
    .replaceAll(`${cwd}/clusters/lab`, '/clusters/prod')
    .replaceAll('cluster clusters/lab', 'cluster clusters/prod')
    .replaceAll('clusters/lab/', 'clusters/prod/')
    .replace(/\d{4}-\d\d-\d\dT\d\d[-:]\d\d[-:]\d\d[.-]\d{3}Z(-[0-9a-f]{6})?/g, 'TIME')
    .replace(/ on \d{4}-\d\d-\d\d, \d+ days left$/gm, ' on DATE, N days left')
    .replace(/ \d+\.\d+ s$/gm, ' N s')
    .replace(/ +\d+\.\d MiB +(yes|no)$/gm, '  N MiB  yes|no')
    .replace(/SHA-256 [0-9A-F]{2}(:[0-9A-F]{2}){31}|SHA-256 [0-9A-F]{2}:\.\.\./g, 'SHA-256 XX:...')
    .replace(/10\.213\.\d+\./g, '10.213.X.')
    .replace(/ +\d+[smhd](\d+[smhd])? +v1\./g, '   AGE   v1.')
    .replace(/AGE +VERSION/, 'AGE   VERSION');

describeLab('docs/cluster.md on the lab', () => {
  const cwd = mkdtempSync(path.join(os.tmpdir(), 'furrow-cluster-doc-'));
  const cluster = path.join(cwd, 'clusters', 'lab');
  const env = { PATH: `${labKubernetesBin()}:${process.env.PATH}` };
  let labStarted = false;

  /** Runs one command of the page (`clusters/prod` as written, or the lab's folder); its exit status must be `code`. */
  async function run(command: string, code = 0, prodIsLab = true): Promise<CliResult> {
    const r = await sh(forTest(command, prodIsLab), cwd, env);
    expectExit(r, code);
    return r;
  }

  const onHost = (host: string, command: string) =>
    execOnHost(path.join(cwd, '.furrow', `lab-${NAME}`, 'inventory.yml'), host, command, cwd);
  /** Each host as the lab made it, before the first deploy: destroy must bring it back to this. */
  const fresh: Record<string, string> = {};

  afterAll(async () => {
    if (labStarted) expectExit(await run('npx furrow lab down'), 0);
    rmSync(cwd, { recursive: true, force: true });
  }, 180_000);

  test('the page has the commands this test knows how to run', () => {
    expect(steps.map((s) => s.commands)).toEqual([
      [
        'npx furrow new clusters/prod            # hosts + config.yml from the examples: put your addresses in',
        'npx furrow lab up && npx furrow lab kubernetes && npx furrow new clusters/lab --from-lab   # a cluster on ' +
          "the lab's hosts",
      ],
      [
        'npx furrow deploy all -i clusters/prod          # every step that exists, as one run',
        'npx furrow deploy 01,02,03 -i clusters/prod      # several steps (names or numbers), in step ' +
          'order, as one run',
        'npx furrow deploy etcd -i clusters/prod         # one step, by name ...',
        "npx furrow deploy 02 -i clusters/prod           # ... or by kubeasz's number",
        'npx furrow deploy etcd -i clusters/prod --check --diff',
      ],
      [
        'kubectl --kubeconfig clusters/prod/kubeconfig get --raw /readyz',
        'export KUBECONFIG=$PWD/clusters/prod/kubeconfig',
      ],
      ['kubectl --kubeconfig clusters/prod/kubeconfig-ex-lb get nodes'],
      ['npx furrow cluster status -i clusters/prod'],
      [
        'npx furrow cluster stop -i clusters/prod --yes    # every service down, and kept down at boot',
        'npx furrow cluster start -i clusters/prod         # back up, layer by layer, until every node is Ready',
      ],
      ['npx furrow cluster destroy -i clusters/prod --yes'],
    ]);
  });

  test('making one: `new` writes an example folder that deploy refuses (no hosts yet); the lab line makes a ' +
    'folder with hosts', async () => {
    const [making] = steps;
    const [example, fromLab] = making!.commands as [string, string];
    await run(example, 0, false);
    for (const file of ['hosts', 'config.yml']) expect(existsSync(path.join(cwd, 'clusters', 'prod', file))).toBe(true);
    // "The example hosts has its host lines commented out ... npx furrow deploy refuses a cluster with no hosts."
    const refused = await run('npx furrow deploy all -i clusters/prod', 2, false);
    expect(refused.stderr).toMatch(/no hosts/);

    // The line's commands one after another, as `&&` runs them, with a look at each host as the
    // lab made it between `lab up` and the rest (`new --from-lab` preloads the bundle onto them).
    labStarted = true;
    const [labUp, ...rest] = fromLab.replace(/\s+#.*$/, '').split(' && ') as [string, ...string[]];
    await run(labUp);
    for (const h of HOSTS) fresh[h] = await onHost(h, FINGERPRINT_SCRIPT);
    for (const command of rest) await run(command);
    expect(existsSync(path.join(cluster, 'inventory.yml'))).toBe(true);
    expect(existsSync(path.join(cluster, 'bundle'))).toBe(true);

    // The operator's edit for step 10: h2 and h3 in ex_lb, the VIP free in the lab's subnet.
    const file = path.join(cluster, 'inventory.yml');
    const inventory = YAML.parse(readFileSync(file, 'utf8'));
    const h1: string = inventory.all.hosts.h1.ansible_host;
    const vip = `${h1.split('.').slice(0, 3).join('.')}.250`;
    inventory.all.children.ex_lb = {
      hosts: { h2: { LB_ROLE: 'backup' }, h3: { LB_ROLE: 'master' } },
      vars: { EX_APISERVER_VIP: vip },
    };
    writeFileSync(file, YAML.stringify(inventory));
  }, 2_700_000);

  test('deploying: every command of the block exits 0; after `deploy all`, the others change nothing', async () => {
    const [all, ...rest] = steps[1]!.commands;
    const first = await run(all!);
    for (const h of HOSTS) expect(recap(first.stdout)[h]).toMatchObject({ failed: 0, unreachable: 0 });
    for (const command of rest) {
      const r = await run(command);
      for (const h of HOSTS)
        expect({ command, host: h, changed: recap(r.stdout)[h]?.changed }).toEqual({ command, host: h, changed: 0 });
    }
  }, 1_800_000);

  test("the CA check: a folder whose pki/ was made again stops the deploy with the page's message, " +
    'and no task runs', async () => {
    const pki = path.join(cluster, 'pki');
    renameSync(pki, `${pki}.kept`);
    try {
      await ensureAuthorities(pki);
      const r = await run('npx furrow deploy etcd -i clusters/prod', 2);
      const shown = page
        .match(/^```\n(furrow: \/clusters\/prod\/pki: [\s\S]*?)^```$/m)![1]!
        .split('\n')
        .filter(Boolean);
      expectLines(r.stderr, shown, normalize(cwd));
      expect(r.stdout).not.toMatch(/TASK|changed:|ok:/);
    } finally {
      rmSync(pki, { recursive: true, force: true });
      renameSync(`${pki}.kept`, pki);
    }
  }, 300_000);

  test('after step 04: kubectl with the admin kubeconfig reaches the API', async () => {
    const step = steps[2]!;
    const r = await run(step.commands.join('\n'));
    expectLines(r.stdout, step.expected, normalize(cwd));
  }, 120_000);

  test('after step 10: kubectl through the VIP lists the nodes', async () => {
    const step = steps[3]!;
    const r = await run(step.commands.join('\n'));
    expectLines(r.stdout, step.expected, normalize(cwd));
  }, 120_000);

  test('at a glance: cluster status shows what the page shows and exits 0', async () => {
    const step = steps[4]!;
    const r = await run(step.commands.join('\n'));
    expectLines(r.stdout, step.expected, normalize(cwd));
  }, 300_000);

  test('cluster status on a cluster in trouble: a stopped etcd member and an edited sysctl file, exit 1, and ' +
    'what fixes them', async () => {
    const exec = (host: string, command: string) =>
      run(`npx furrow exec ${host} -i .furrow/lab-${NAME}/inventory.yml -- '${command}'`);
    await exec('h3', 'systemctl stop etcd');
    await exec(
      'h2',
      'sed -i s/^net.ipv4.conf.all.rp_filter=0/net.ipv4.conf.all.rp_filter=1/ /etc/sysctl.d/95-furrow-k8s.conf',
    );
    const r = await run('npx furrow cluster status -i clusters/prod', 1);
    expect(r.stdout).toContain('etcd: 2 of 3 members healthy');
    expect(r.stdout).toMatch(/^h3 +UNHEALTHY +\S.*$/m);
    expect(r.stdout).toMatch(/^drift: deploy \S+ --check found work:$/m);
    expect(r.stdout).toMatch(/^ {2}h2: 1 task\(s\) would change: Set the network sysctls$/m);
    expect(r.stdout).toMatch(/^ {2}h3: 1 task\(s\) would change: Start etcd now and at boot$/m);
    // As JSON, without the drift check: the same member, and no drift field.
    const json = await run('npx furrow cluster status -i clusters/prod --json --no-drift', 1);
    const s = JSON.parse(json.stdout) as { etcd: Array<{ host: string; healthy: boolean }>; drift?: unknown };
    expect(s.etcd.map((m) => [m.host, m.healthy])).toEqual([
      ['h1', true],
      ['h2', true],
      ['h3', false],
    ]);
    expect(s.drift).toBeUndefined();
    // What status pointed at puts it right: a deploy of those steps.
    await run('npx furrow deploy 01,02 -i clusters/prod');
    // (No drift check here: the page's block above showed a clean one.)
    const after = await run('npx furrow cluster status -i clusters/prod --no-drift', 0);
    expect(after.stdout).toContain('etcd: 3 of 3 members healthy');
    expect(after.stdout).toMatch(/^last deploy: \S+, steps prepare,etcd, no host failed in /m);
    // From another folder, the same: a deploy's journal is kept in the cluster's folder.
    const elsewhere = await sh(
      `"${process.execPath}" "${CLI}" cluster status -i ${cluster} --no-drift`,
      os.tmpdir(),
      env,
    );
    expectExit(elsewhere, 0);
    expect(elsewhere.stdout).toMatch(/^last deploy: \S+, steps prepare,etcd, no host failed in /m);
    expect(elsewhere.stdout).toContain(
      `journal: ${path.relative(os.tmpdir(), path.join(cluster, '.furrow', 'runs'))}/`,
    );
  }, 600_000);

  test('stopping and starting: stop refused without --yes, planned by --check; then every unit down and disabled ' +
    'on every host, the API gone; start brings each back, the data kept; a second stop or start changes ' +
    'nothing', async () => {
    const [stop, start] = steps[5]!.commands as [string, string];
    const kubectl = (args: string, code = 0) =>
      run(`kubectl --kubeconfig clusters/prod/kubeconfig --request-timeout=10s ${args}`, code);
    await kubectl('create configmap furrow-stop-start --from-literal=kept=yes');
    // Every unit of the cluster a host has: its state now and at boot.
    const units = (h: string) =>
      onHost(
        h,
        'for u in etcd kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kube-lb ' +
          'furrow-service-route furrow-pod-routes containerd ex-lb keepalived; do ' +
          'systemctl cat "$u" >/dev/null 2>&1 || continue; ' +
          'echo "$u $(systemctl is-active "$u") $(systemctl is-enabled "$u")"; done',
      );
    const stateOf = async () =>
      Object.fromEntries(await Promise.all(HOSTS.map(async (h) => [h, (await units(h)).trim().split('\n')])));
    const before = await stateOf();
    // h1 runs every layer (etcd, control plane, node, kube-lb, containerd); h2 and h3 keepalived too.
    expect(before.h1).toEqual(
      expect.arrayContaining(['etcd active enabled', 'kube-apiserver active enabled', 'kubelet active enabled']),
    );
    expect(before.h3).toEqual(expect.arrayContaining(['keepalived active enabled', 'ex-lb active enabled']));
    for (const h of HOSTS) for (const line of before[h]) expect(line).toMatch(/ active enabled$/);

    const refused = await run(stop.replace(' --yes', ''), 2);
    expect(refused.stderr).toContain('cluster stop asks for confirmation, and there is no terminal to ask on');
    const planned = await run(stop.replace(' --yes', ' --check'));
    for (const h of HOSTS) expect(recap(planned.stdout)[h]!.changed).toBeGreaterThan(0);
    expect(await stateOf()).toEqual(before);

    let t = Date.now();
    const stopped = await run(stop);
    const stopS = (Date.now() - t) / 1000;
    for (const h of HOSTS) expect(recap(stopped.stdout)[h]).toMatchObject({ failed: 0, unreachable: 0 });
    const down = await stateOf();
    for (const h of HOSTS) {
      expect(down[h].map((l: string) => l.split(' ')[0])).toEqual(before[h].map((l: string) => l.split(' ')[0]));
      for (const line of down[h]) expect(line).toMatch(/ inactive disabled$/);
    }
    await kubectl('get --raw /readyz', 1);
    const stopAgain = await run(stop);
    for (const h of HOSTS) expect(recap(stopAgain.stdout)[h]!.changed).toBe(0);

    t = Date.now();
    const started = await run(start);
    const startS = (Date.now() - t) / 1000;
    for (const h of HOSTS) expect(recap(started.stdout)[h]).toMatchObject({ failed: 0, unreachable: 0 });
    expect(await stateOf()).toEqual(before);
    expect((await kubectl('get configmap furrow-stop-start -o jsonpath={.data.kept}')).stdout).toBe('yes');
    const nodes = (await kubectl('get nodes --no-headers')).stdout.trim().split('\n');
    expect(nodes.map((l) => l.split(/\s+/).slice(0, 2).join(' ')).sort()).toEqual(HOSTS.map((h) => `${h} Ready`));
    const startAgain = await run(start);
    for (const h of HOSTS) expect(recap(startAgain.stdout)[h]!.changed).toBe(0);
    process.stdout.write(`cluster-doc: cluster stop took ${stopS} s, cluster start ${startS} s\n`);
  }, 900_000);

  test('taking it down: destroy refused without --yes, planned by --check, then every host as the lab made it; a ' +
    'second destroy changes nothing', async () => {
    const refused = await run('npx furrow cluster destroy -i clusters/prod', 2);
    expect(refused.stderr).toContain(
      'cluster destroy asks for confirmation, and there is no terminal to ask on; nothing was touched',
    );
    const planned = await run('npx furrow cluster destroy -i clusters/prod --check');
    for (const h of HOSTS) expect(recap(planned.stdout)[h]!.changed).toBeGreaterThan(0);
    expect(await onHost('h1', 'systemctl is-active etcd kube-apiserver kubelet containerd')).toBe(
      'active\nactive\nactive\nactive\n',
    );

    const step = steps[6]!;
    const started = Date.now();
    const r = await run(step.commands[0]!);
    process.stdout.write(`cluster-doc: cluster destroy took ${(Date.now() - started) / 1000} s\n`);
    expectLines(r.stdout, step.expected, normalize(cwd));
    for (const h of HOSTS)
      expect(
        await leftBehind(fingerprintChanges(fresh[h]!, await onHost(h, FINGERPRINT_SCRIPT)), (c) => onHost(h, c)),
      ).toEqual([]);
    const again = await run(step.commands[0]!);
    for (const h of HOSTS) expect(recap(again.stdout)[h]!.changed).toBe(0);
    // The folder is kept as it was.
    for (const f of ['inventory.yml', 'config.yml', 'pki/ca.crt', 'kubeconfig'])
      expect(existsSync(path.join(cluster, f))).toBe(true);
  }, 600_000);
});
