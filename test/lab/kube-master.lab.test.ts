import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { copyFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { INDEX_NAME } from '../../src/bundle/format.js';
import { hostVars, loadInventory } from '../../src/engine/inventory/index.js';
import { buildDebRepo } from '../../src/repo/index.js';
import { etcdBinariesFromDebian } from '../support/etcd-binaries.js';
import { runtimeBinariesFromDebian } from '../support/runtime-binaries.js';
import {
  changedCounts,
  describeLab,
  expectExit,
  furrow,
  labAvailable,
  LabHosts,
  labKubernetesBin,
  labTestName,
  recap,
} from './support.js';

/**
 * Step 04 (kube-lb and the control plane) on real Kubernetes v1.20.2 binaries, on a 3-host lab
 * (h1 and h2 masters, etcd on all three, kube-lb on all three), deployed with `furrow deploy` as
 * an operator runs it. Proves: /readyz through every host's kube-lb, `kubectl get cs` healthy,
 * anonymous requests refused (401), the API still answering through kube-lb on h3 while h1's
 * apiserver is down, keys only where they are needed, a re-run that changes and restarts
 * nothing, and a changed apiserver setting restarting only the apiservers, one at a time, the
 * API reachable all along. Bad input (overlapping CIDRs, no masters, a version the bundle has no
 * binaries for, an ex-lb VIP that is a host's address) exits 2 before any host is touched.
 * Step 10 (ex-lb) on h2 and h3 (ex_lb hosts that are also a master and a node, as a small site
 * has them): kubectl on the controller through the VIP, the VIP moving when its holder's proxy
 * stops, a re-run that changes nothing, and a changed master list reloading the proxies.
 *
 * Not proven here: nodes (step 05, kubelet and kube-proxy) and pods; the lab's binaries are
 * v1.20.2 only, so the flags chosen for newer versions are checked by unit tests alone.
 */
const NAME = labTestName('t-kmaster');
const HOSTS = ['h1', 'h2', 'h3'];
const MASTERS = ['h1', 'h2'];
/** The lab's v1.20.2 binaries (`furrow lab kubernetes`); read when the lab can run. */
const K8S_BIN = labAvailable() ? labKubernetesBin() : '';
const K8S_BINARIES = ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kubectl'];
const PACKAGES = [
  'chrony',
  'ca-certificates',
  'conntrack',
  'curl',
  'ipset',
  'ipvsadm',
  'jq',
  'socat',
  'nginx',
  'libnginx-mod-stream',
  'keepalived',
];
/** ex_lb: h3 starts with the VIP (LB_ROLE=master), h2 is its backup. */
const EX_LB = ['h2', 'h3'];
const EX_LB_PORT = 8443;
const UP_TO_MASTER = '01,02,03,04';
const UNITS = ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kube-lb', 'etcd'];
/** kubectl on a host, through that host's kube-lb (h3 gets the binary and the admin kubeconfig from the test). */
const KUBECTL = '/opt/kube/bin/kubectl --kubeconfig=/root/.kube/config --request-timeout=10s';

describeLab('step 04: kube-lb and the control plane on real v1.20.2 binaries (3 lab hosts, 2 masters)', () => {
  const cwd = mkdtempSync(path.join(os.tmpdir(), 'furrow-kmaster-lab-'));
  const cluster = path.join(cwd, 'cluster');
  const labInventory = path.join(cwd, '.furrow', `lab-${NAME}`, 'inventory.yml');
  const hosts = new LabHosts();
  const on = hosts.on;
  const address: Record<string, string> = {};
  const timings: Record<string, number> = {};
  /** The ex-lb VIP: a free address of the lab's own /24 (hosts are .11-.13, the bridge .1). */
  let vip = '';

  const deploy = async (step: string, dir = cluster, flags: string[] = []) => {
    const started = Date.now();
    const r = await furrow(['deploy', step, '-i', dir, ...flags], { cwd, timeoutMs: 900_000 });
    return { ...r, seconds: (Date.now() - started) / 1000 };
  };

  /** ActiveEnterTimestampMonotonic of each unit on each host: lab hosts share one kernel, so one clock. */
  async function startTimes(): Promise<Record<string, Record<string, number>>> {
    const entries = await Promise.all(
      HOSTS.map(async (h) => {
        const units = UNITS.filter((u) => MASTERS.includes(h) || !u.startsWith('kube-') || u === 'kube-lb');
        const text = await on(
          h,
          units.map((u) => `systemctl show -p ActiveEnterTimestampMonotonic --value ${u}`).join('; '),
        );
        return [h, Object.fromEntries(text.split('\n').map((v, i) => [units[i]!, Number(v)]))] as const;
      }),
    );
    return Object.fromEntries(entries);
  }

  beforeAll(async () => {
    mkdirSync(path.join(cluster, 'bin'), { recursive: true });
    const [up] = await Promise.all([
      furrow(['lab', 'up', '--hosts', '3', '--name', NAME], { cwd }),
      buildDebRepo({ packages: PACKAGES, dir: path.join(cwd, 'repo') }),
      etcdBinariesFromDebian(path.join(cwd, 'bin')),
      runtimeBinariesFromDebian(path.join(cwd, 'bin')),
    ]);
    expectExit(up, 0);
    // --no-bundle: this test brings its own bin/ and repo/ (the lab bundle's path has its own test).
    expectExit(await furrow(['new', cluster, '--from-lab', NAME, '--no-bundle'], { cwd }), 0);
    cpSync(path.join(cwd, 'repo'), path.join(cluster, 'repo'), { recursive: true });
    cpSync(path.join(cwd, 'bin'), path.join(cluster, 'bin'), { recursive: true });
    for (const b of K8S_BINARIES) await copyFile(path.join(K8S_BIN, b), path.join(cluster, 'bin', b));
    const inv = await loadInventory(labInventory);
    for (const h of HOSTS) address[h] = String(hostVars(inv, h).ansible_host);
    vip = `${address.h1!.split('.').slice(0, 3).join('.')}.250`;
    // The lab makes h1 its only master; this cluster has two, and ex_lb hosts as kubeasz writes them
    // (from the first deploy on: the VIP is in the apiserver certificate before step 10 runs).
    const inventoryFile = path.join(cluster, 'inventory.yml');
    const inventory = YAML.parse(readFileSync(inventoryFile, 'utf8'));
    inventory.all.children.kube_master.hosts = { h1: null, h2: null };
    inventory.all.children.ex_lb = {
      hosts: { h2: { LB_ROLE: 'backup' }, h3: { LB_ROLE: 'master' } },
      vars: { EX_APISERVER_VIP: vip, EX_APISERVER_PORT: EX_LB_PORT },
    };
    writeFileSync(inventoryFile, YAML.stringify(inventory));
    writeFileSync(
      path.join(cluster, 'config.yml'),
      `${readFileSync(path.join(cluster, 'config.yml'), 'utf8')}\nversions:\n  kubernetes: 1.20.2\n`,
    );
    await hosts.connect(labInventory, HOSTS, cwd);
  }, 900_000);

  afterAll(async () => {
    process.stdout.write(`kube-master lab timings (s): ${JSON.stringify(timings)}\n`);
    await hosts.close();
    await furrow(['lab', 'down', '--name', NAME], { cwd });
    rmSync(cwd, { recursive: true, force: true });
  }, 120_000);

  /** A copy of the cluster folder (without pki/) with one thing changed, for the bad-input cases. */
  function variant(name: string, change: (dir: string) => void): string {
    const dir = path.join(cwd, name);
    cpSync(cluster, dir, {
      recursive: true,
      filter: (src) => !src.includes(`${path.sep}pki`) && !src.includes(`${path.sep}repo`),
    });
    change(dir);
    return dir;
  }

  test('bad input exits 2 before any host is touched, naming the file and the setting', async () => {
    const overlapping = variant('overlap', (dir) =>
      writeFileSync(
        path.join(dir, 'config.yml'),
        `${readFileSync(path.join(dir, 'config.yml'), 'utf8')}SERVICE_CIDR: 172.20.128.0/20\n`,
      ),
    );
    const r1 = await deploy('all', overlapping);
    expectExit(r1, 2);
    expect(r1.stderr).toMatch(
      new RegExp(
        `${overlapping}/config\\.yml:\\d+: SERVICE_CIDR 172\\.20\\.128\\.0/20 overlaps CLUSTER_CIDR ` +
          `172\\.20\\.0\\.0/16`,
      ),
    );

    const noMasters = variant('no-masters', (dir) => {
      const file = path.join(dir, 'inventory.yml');
      const inventory = YAML.parse(readFileSync(file, 'utf8'));
      delete inventory.all.children.kube_master;
      writeFileSync(file, YAML.stringify(inventory));
    });
    const r2 = await deploy('master', noMasters);
    expectExit(r2, 2);
    expect(r2.stderr).toContain(`${noMasters}/inventory.yml: group kube_master has no hosts`);

    // A preloaded bundle that carries Kubernetes 1.20.2, and config.yml asking for 1.29.0.
    const wrongVersion = variant('wrong-version', (dir) => {
      mkdirSync(path.join(dir, 'bundle'), { recursive: true });
      const binary = (files: string[]) => ({
        name: 'kubernetes-server',
        version: '1.20.2',
        arch: 'amd64',
        url: 'file:///x',
        sha256: '0'.repeat(64),
        hosts: 'kube_master',
        files,
      });
      writeFileSync(
        path.join(dir, 'bundle', INDEX_NAME),
        JSON.stringify({
          format: 'furrow-bundle/1',
          name: 'lab',
          created: '',
          arches: ['amd64'],
          binaries: [binary(K8S_BINARIES.map((b) => `bin/amd64/${b}`))],
          images: [],
          files: [],
        }),
      );
      writeFileSync(
        path.join(dir, 'config.yml'),
        readFileSync(path.join(dir, 'config.yml'), 'utf8').replace('kubernetes: 1.20.2', 'kubernetes: 1.29.0'),
      );
    });
    const r3 = await deploy('all', wrongVersion);
    expectExit(r3, 2);
    expect(r3.stderr).toMatch(
      new RegExp(
        `${wrongVersion}/config\\.yml:\\d+: Kubernetes 1\\.29\\.0: the preloaded bundle has no kube-apiserver, ` +
          `kube-controller-manager, kube-scheduler, kubectl of that version \\(it has Kubernetes 1\\.20\\.2\\)`,
      ),
    );

    // ex_lb hosts whose VIP is a host's own address: keepalived would take h1's address away.
    const vipOfHost = variant('vip-of-host', (dir) => {
      const file = path.join(dir, 'inventory.yml');
      writeFileSync(
        file,
        readFileSync(file, 'utf8').replace(`EX_APISERVER_VIP: ${vip}`, `EX_APISERVER_VIP: ${address.h1}`),
      );
    });
    const r4 = await deploy('ex-lb', vipOfHost);
    expectExit(r4, 2);
    expect(r4.stderr).toMatch(
      new RegExp(
        `${vipOfHost}/inventory\\.yml(:\\d+)*: ` +
          `EX_APISERVER_VIP ${address.h1!.replaceAll('.', '\\.')} is the address of host h1`,
      ),
    );

    // Nothing reached the hosts: not even the package source of step 01.
    for (const h of HOSTS)
      expect(
        await on(
          h,
          'ls /etc/apt/sources.list.d/furrow.list /etc/kube-lb /etc/kubernetes /etc/ex-lb 2>&1 | grep ' +
            '-c "No such file"',
        ),
      ).toBe('4');
  }, 120_000);

  test("deploy 01-04: every apiserver ready through every host's kube-lb, components healthy, " +
    'anonymous refused', async () => {
    // Steps 01-04 only: step 05 (the nodes) is kube-cluster.lab.test's.
    const r = await deploy(UP_TO_MASTER);
    expectExit(r, 0);
    timings.deployAllFirst = r.seconds;
    for (const counts of Object.values(recap(r.stdout))) expect([counts.failed, counts.unreachable]).toEqual([0, 0]);
    expect(r.stdout).toContain(`Admin kubeconfig: ${cluster}/kubeconfig`);

    // h3 is not a master: it gets kubectl and an admin kubeconfig from the test, pointed at its own kube-lb.
    const h3 = hosts.get('h3');
    await on('h3', 'mkdir -p /root/.kube /opt/kube/bin');
    await h3.put('/opt/kube/bin/kubectl', { path: path.join(K8S_BIN, 'kubectl') }, { mode: '0755' });
    await h3.put(
      '/root/.kube/config',
      {
        content: readFileSync(path.join(cluster, 'kubeconfig'), 'utf8').replace(
          /server: https:\/\/[^\s]+/,
          'server: https://127.0.0.1:6443',
        ),
      },
      { mode: '0600' },
    );
    for (const h of HOSTS) {
      expect(await on(h, `${KUBECTL} get --raw /readyz`)).toBe('ok');
      expect(await on(h, "grep -c 'server .*:6443 max_fails' /etc/kube-lb/kube-lb.conf")).toBe('2');
      // The package's own nginx: installed without being started once (policy_rc_d), then disabled;
      // no policy-rc.d is left behind.
      const nginx =
        'systemctl is-enabled nginx || true; systemctl show -p InactiveExitTimestampMonotonic --value nginx; ' +
        'ls /usr/sbin | grep -c "^policy-rc.d" || true';
      expect(await on(h, nginx)).toBe('disabled\n0\n0');
    }
    const cs = await on('h1', `${KUBECTL} get cs --no-headers 2>/dev/null`);
    expect(
      cs
        .split('\n')
        .map((l) => l.split(/\s+/).slice(0, 2).join(' '))
        .sort(),
    ).toEqual([
      'controller-manager Healthy',
      'etcd-0 Healthy',
      'etcd-1 Healthy',
      'etcd-2 Healthy',
      'scheduler Healthy',
    ]);
    for (const m of MASTERS) {
      expect(await on('h3', `curl -sk -o /dev/null -w '%{http_code}' https://${address[m]}:6443/api`)).toBe('401');
      expect(
        await on(
          'h3',
          `curl -sk -o /dev/null -w '%{http_code}' --connect-timeout 2 http://${address[m]}:8080/api || true`,
        ),
      ).toBe('000');
    }
    // The controller's kubeconfig is the admin (system:masters) and private.
    expect((statSync(path.join(cluster, 'kubeconfig')).mode & 0o777).toString(8)).toBe('600');
    expect(await on('h1', `${KUBECTL} auth can-i '*' '*' --all-namespaces`)).toBe('yes');
  }, 900_000);

  test('only the keys a component needs are on a host; no CA key leaves the controller', async () => {
    for (const m of MASTERS) {
      const keys = (await on(m, "find /etc/kubernetes /root/.kube -name '*.key' -printf '%m %f\\n'"))
        .split('\n')
        .sort();
      expect(keys).toEqual([
        '600 apiserver-etcd-client.key',
        '600 apiserver-kubelet-client.key',
        '600 apiserver.key',
        '600 front-proxy-client.key',
        '600 healthcheck-client.key',
        '600 peer.key',
        '600 sa.key',
        '600 server.key',
      ]);
      expect(
        await on(
          m,
          'stat -c %a /root/.kube/config /etc/kubernetes/controller-manager.kubeconfig ' +
            '/etc/kubernetes/scheduler.kubeconfig',
        ),
      ).toBe('600\n600\n600');
    }
    expect((await on('h3', "find /etc/kubernetes -name '*.key' -printf '%f\\n'")).split('\n').sort()).toEqual([
      'healthcheck-client.key',
      'peer.key',
      'server.key',
    ]);
  });

  test("h1's apiserver stopped: kubectl through kube-lb on h3 still works", async () => {
    await on('h1', 'systemctl stop kube-apiserver');
    try {
      for (let i = 0; i < 5; i++) expect(await on('h3', `${KUBECTL} get --raw /readyz`)).toBe('ok');
      expect(await on('h3', `${KUBECTL} get ns default -o name`)).toBe('namespace/default');
    } finally {
      await on(
        'h1',
        `systemctl start kube-apiserver; for i in ` +
          `$(seq 120); do ${KUBECTL} --server=https://${address.h1}:6443 get --raw /readyz >/dev/null 2>&1 && exit ` +
          `0; sleep 1; done; exit 1`,
      );
    }
  }, 300_000);

  /** kubectl on the controller with the admin kubeconfig step 10 writes (server https://VIP:8443). */
  const kubectlViaVip = (args: string[]) =>
    new Promise<{ ok: boolean; out: string }>((resolve) =>
      execFile(
        path.join(K8S_BIN, 'kubectl'),
        ['--kubeconfig', path.join(cluster, 'kubeconfig-ex-lb'), '--request-timeout=10s', ...args],
        { timeout: 30_000 },
        (err, stdout, stderr) => resolve({ ok: !err, out: `${stdout}${stderr}`.trim() }),
      ),
    );
  /** Which ex_lb hosts hold the VIP now (`ip -o addr`). */
  const vipHolders = async () =>
    (
      await Promise.all(EX_LB.map(async (h) => ((await on(h, 'ip -o -4 addr show')).includes(` ${vip}/`) ? h : '')))
    ).filter(Boolean);
  /** Polls until the VIP is on exactly `host`; the seconds it took. */
  async function vipOn(host: string, seconds = 60): Promise<number> {
    const started = Date.now();
    for (;;) {
      const holders = await vipHolders();
      if (holders.length === 1 && holders[0] === host) return (Date.now() - started) / 1000;
      if (Date.now() - started > seconds * 1000)
        throw new Error(`the VIP ${vip} is on [${holders.join(', ')}], not on ${host} after ${seconds} s`);
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  /** keepalived's and the proxy's main PIDs and activation times on the ex_lb hosts: a reload keeps both. */
  const exLbUnits = async () =>
    Object.fromEntries(
      await Promise.all(
        EX_LB.map(
          async (h) =>
            [
              h,
              await on(h, 'systemctl show -p MainPID -p ActiveEnterTimestampMonotonic --value ex-lb keepalived'),
            ] as const,
        ),
      ),
    );

  test("step 10 ex-lb: kubectl through the VIP; the VIP moves when its holder's proxy stops and kubectl still works; " +
    'a re-run changes nothing', async () => {
    // --check on hosts that have no ex-lb yet: it plans, probes, and changes nothing.
    const check = await deploy('ex-lb', cluster, ['--check']);
    expectExit(check, 0);
    timings.exLbCheckFresh = check.seconds;
    for (const h of EX_LB)
      expect([
        h,
        await on(h, 'ls /etc/ex-lb /etc/keepalived/keepalived.conf /usr/sbin/keepalived 2>&1 | grep -c "No such file"'),
      ]).toEqual([h, '3']);

    const first = await deploy('ex-lb');
    expectExit(first, 0);
    timings.exLbFirst = first.seconds;
    expect(Object.keys(recap(first.stdout)).sort()).toEqual(EX_LB);
    expect(first.stdout).toContain(`${cluster}/kubeconfig-ex-lb`);
    expect((statSync(path.join(cluster, 'kubeconfig-ex-lb')).mode & 0o777).toString(8)).toBe('600');
    expect(readFileSync(path.join(cluster, 'kubeconfig-ex-lb'), 'utf8')).toContain(
      `server: https://${vip}:${EX_LB_PORT}`,
    );
    for (const h of EX_LB) {
      expect(await on(h, "grep -o 'server [0-9.]*:6443' /etc/ex-lb/ex-lb.conf | cut -d' ' -f2")).toBe(
        `${address.h1}:6443\n${address.h2}:6443`,
      );
      expect(await on(h, 'systemctl is-active ex-lb keepalived kube-lb')).toBe('active\nactive\nactive');
    }
    // LB_ROLE=master: h3 holds the VIP. The controller's kubectl checks the apiserver's
    // certificate against the VIP: it is among the SANs since the first deploy.
    timings.exLbVipOnMaster = await vipOn('h3');
    expect(await kubectlViaVip(['get', '--raw', '/readyz'])).toEqual({ ok: true, out: 'ok' });
    expect(await kubectlViaVip(['get', 'ns', 'default', '-o', 'name'])).toEqual({ ok: true, out: 'namespace/default' });

    // h3's proxy stops: keepalived's check fails there, h3 gives the VIP up and h2 takes it.
    await on('h3', 'systemctl stop ex-lb');
    try {
      timings.exLbFailoverSeconds = await vipOn('h2');
      const tries: string[] = [];
      let answer = await kubectlViaVip(['get', 'ns', 'default', '-o', 'name']);
      // The controller learns the VIP's new MAC from keepalived's gratuitous ARP; allow it a moment.
      for (let i = 0; i < 5 && !answer.ok; i++) {
        tries.push(answer.out);
        await new Promise((r) => setTimeout(r, 1000));
        answer = await kubectlViaVip(['get', 'ns', 'default', '-o', 'name']);
      }
      if (tries.length)
        process.stdout.write(
          `kubectl through the VIP right after it moved failed ${tries.length} time(s): ${JSON.stringify(tries)}\n`,
        );
      expect(answer).toEqual({ ok: true, out: 'namespace/default' });
      expect(await on('h2', `ip -o -4 addr show | grep -c ' ${vip}/'`)).toBe('1');
    } finally {
      await on('h3', 'systemctl start ex-lb');
    }
    // Its proxy back, h3 (the higher priority) takes the VIP again.
    timings.exLbFailbackSeconds = await vipOn('h3');
    expect(await kubectlViaVip(['get', 'ns', 'default', '-o', 'name'])).toEqual({ ok: true, out: 'namespace/default' });

    // Again: nothing changes, nothing restarts.
    const before = await exLbUnits();
    const again = await deploy('ex-lb');
    expectExit(again, 0);
    timings.exLbRerun = again.seconds;
    expect(changedCounts(again)).toEqual({ h2: 0, h3: 0 });
    expect(await exLbUnits()).toEqual(before);
  }, 900_000);

  test('a re-run changes nothing and restarts nothing', async () => {
    const before = await startTimes();
    const r = await deploy(UP_TO_MASTER);
    expectExit(r, 0);
    timings.deployAllRerun = r.seconds;
    expect(changedCounts(r)).toEqual(Object.fromEntries(HOSTS.map((h) => [h, 0])));
    const master = await deploy('master');
    expectExit(master, 0);
    timings.deployMasterRerun = master.seconds;
    expect(changedCounts(master)).toEqual(Object.fromEntries(HOSTS.map((h) => [h, 0])));
    expect(await startTimes()).toEqual(before);
  }, 900_000);

  test('a component still running a binary replaced since it started (a run cut off between the install and the ' +
    'restart) is restarted by the next run, and nothing else', async () => {
    const before = await startTimes();
    // The same binary under a new inode, as an install cut off before its restart leaves it: the running process's
    // executable reads "(deleted)", and no file differs from what the deploy would write.
    const replace = (file: string) => `cp -p ${file} ${file}.new && mv ${file}.new ${file}`;
    await on('h1', replace('/opt/kube/bin/kube-scheduler'));
    await on('h2', replace('/opt/kube/bin/etcd'));
    const r = await deploy('etcd,master');
    expectExit(r, 0);
    expect(r.stdout).toContain(
      'h1 kube-master | changed: Restart the scheduler, which still runs the binary it started',
    );
    expect(r.stdout).toContain('h2 etcd | changed: Restart etcd, which still runs the binary it started with');
    const after = await startTimes();
    const restarted = HOSTS.flatMap((h) =>
      Object.keys(after[h]!)
        .filter((u) => after[h]![u] !== before[h]![u])
        .map((u) => `${h} ${u}`),
    );
    expect(restarted).toEqual(['h1 kube-scheduler', 'h2 etcd']);
    for (const [h, unit] of [
      ['h1', 'kube-scheduler'],
      ['h2', 'etcd'],
    ] as const) {
      expect(await on(h, `readlink /proc/$(systemctl show -p MainPID --value ${unit})/exe`)).toBe(
        `/opt/kube/bin/${unit}`,
      );
    }
    // Owed restarts done: the next run has none.
    const again = await deploy('etcd,master');
    expectExit(again, 0);
    expect(changedCounts(again)).toEqual(Object.fromEntries(HOSTS.map((h) => [h, 0])));
    expect(await startTimes()).toEqual(after);
  }, 900_000);

  test('a changed apiserver setting restarts only the apiservers, one at a time, the API answering through kube-lb ' +
    'while each is down', async () => {
    const before = await startTimes();
    writeFileSync(
      path.join(cluster, 'config.yml'),
      `${readFileSync(path.join(cluster, 'config.yml'), 'utf8')}kube_apiserver_extra_args:\n  event-ttl: 2h\n`,
    );
    // Poll the API through h3's kube-lb while the step runs, and, in loops of their own, each
    // master directly, so each master's window reaches from its stop until it answers /readyz
    // again. Times are CLOCK_MONOTONIC in µs, the clock systemd's *TimestampMonotonic use (lab
    // hosts share this machine's kernel; process.hrtime is CLOCK_MONOTONIC too).
    type Poll = { at: number; ok: boolean; what: string };
    const polls: Poll[] = [];
    const direct: Record<string, Poll[]> = Object.fromEntries(MASTERS.map((m) => [m, []]));
    let running = true;
    const pollLoop = (command: string, into: Poll[]) =>
      (async () => {
        while (running) {
          const at = Number(process.hrtime.bigint() / 1000n);
          const r = await hosts.get('h3').exec(command);
          into.push({ at, ok: r.code === 0, what: `${r.stdout}${r.stderr}`.trim().slice(0, 120) });
          await new Promise((res) => setTimeout(res, 200));
        }
      })();
    // Through kube-lb: what a user's kubectl does (a read), not /readyz, which asks whether the
    // one apiserver kube-lb picked is ready, not whether the API answers.
    const pollers = [
      pollLoop(`${KUBECTL} get ns default -o name`, polls),
      ...MASTERS.map((m) => pollLoop(`${KUBECTL} --server=https://${address[m]}:6443 get --raw /readyz`, direct[m]!)),
    ];
    const r = await deploy('master');
    // The run ends the moment the last master answers /readyz: the direct pollers go on until each has
    // seen its master answer after the run (bounded), so that they do not stop between two polls.
    const ended = Number(process.hrtime.bigint() / 1000n);
    for (let i = 0; i < 150 && !MASTERS.every((m) => direct[m]!.some((p) => p.at > ended && p.ok)); i++)
      await new Promise((res) => setTimeout(res, 200));
    running = false;
    await Promise.all(pollers);
    expectExit(r, 0);
    timings.deployMasterChangedSetting = r.seconds;
    expect(polls.length).toBeGreaterThan(10);

    const after = await startTimes();
    for (const h of HOSTS) {
      for (const u of Object.keys(before[h]!)) {
        if (u === 'kube-apiserver') expect(after[h]![u]).toBeGreaterThan(before[h]![u]!);
        else expect([h, u, after[h]![u]]).toEqual([h, u, before[h]![u]]);
      }
    }
    // One at a time: the second apiserver went down only after the first was back.
    const stopped = Object.fromEntries(
      await Promise.all(
        MASTERS.map(
          async (m) =>
            [
              m,
              Number(await on(m, 'systemctl show -p InactiveEnterTimestampMonotonic --value kube-apiserver')),
            ] as const,
        ),
      ),
    );
    const [first, second] = [...MASTERS].sort((a, b) => stopped[a]! - stopped[b]!);
    expect(stopped[second!]!).toBeGreaterThan(after[first!]!['kube-apiserver']!);
    // Not every request succeeds: nginx's passive checks cannot see an apiserver that accepts connections but is
    // not ready yet (it only skips one that refuses them), so some requests fail while a
    // restarted apiserver starts. Reported, not hidden (docs: roles/kube-lb/README.md).
    const failed = polls.filter((p) => !p.ok);
    timings.pollsFailedDuringRestart = failed.length;
    timings.pollsDuringRestart = polls.length;
    process.stdout.write(
      `polls through h3's kube-lb during the ` +
        `rolling restart: ${polls.length}, failed ${failed.length}: ${JSON.stringify(failed.map((p) => p.what))}\n`,
    );
    // Each master was down, then answered /readyz directly again (the role waits for it before
    // the next master): its window runs from its stop to then.
    const windows = MASTERS.map((m) => {
      const back = direct[m]!.find((p) => p.at > after[m]!['kube-apiserver']! && p.ok)?.at ?? Infinity;
      return { master: m, back, polls: polls.filter((p) => p.at > stopped[m]! && p.at < back) };
    });
    expect(windows.map((w) => ({ master: w.master, back: Number.isFinite(w.back) }))).toEqual(
      MASTERS.map((m) => ({ master: m, back: true })),
    );
    // A window no poll fell into (an apiserver back before the next poll through kube-lb, on a
    // busy machine) proves nothing either way; at least one must hold polls.
    process.stdout.write(
      `polls through kube-lb while each apiserver was ` +
        `down or starting: ${JSON.stringify(windows.map((w) => [w.master, w.polls.length]))}\n`,
    );
    expect(windows.some((w) => w.polls.length > 0)).toBe(true);
    // While each apiserver was down or starting, the other answered through kube-lb.
    for (const w of windows.filter((w) => w.polls.length > 0)) {
      expect({ master: w.master, answered: w.polls.some((p) => p.ok), polls: w.polls.length }).toEqual({
        master: w.master,
        answered: true,
        polls: w.polls.length,
      });
    }
    expect(await on('h1', 'grep -c -- --event-ttl=2h /etc/systemd/system/kube-apiserver.service')).toBe('1');
  }, 900_000);

  test("removing a master and adding it back rewrites every host's kube-lb and ex-lb upstream lists and reloads " +
    'them, never restarts them', async () => {
    const inventoryFile = path.join(cluster, 'inventory.yml');
    const original = readFileSync(inventoryFile, 'utf8');
    /** kube-lb's main PID and when it last became active, per host: a reload keeps both. */
    const kubeLb = async () =>
      Object.fromEntries(
        await Promise.all(
          HOSTS.map(
            async (h) =>
              [h, await on(h, 'systemctl show -p MainPID -p ActiveEnterTimestampMonotonic --value kube-lb')] as const,
          ),
        ),
      );
    const upstreams = async (h: string, conf = '/etc/kube-lb/kube-lb.conf') =>
      (await on(h, `grep -o 'server [0-9.]*:6443' ${conf} | cut -d' ' -f2`)).split('\n');
    const exLbUpstreams = (h: string) => upstreams(h, '/etc/ex-lb/ex-lb.conf');
    const before = await kubeLb();
    const exLbBefore = await exLbUnits();
    for (const h of HOSTS) expect(await upstreams(h)).toEqual([`${address.h1}:6443`, `${address.h2}:6443`]);
    try {
      const inventory = YAML.parse(original);
      inventory.all.children.kube_master.hosts = { h1: null };
      writeFileSync(inventoryFile, YAML.stringify(inventory));
      const removed = await deploy('master,ex-lb');
      expectExit(removed, 0);
      for (const h of HOSTS) expect([h, await upstreams(h)]).toEqual([h, [`${address.h1}:6443`]]);
      for (const h of EX_LB) expect([h, await exLbUpstreams(h)]).toEqual([h, [`${address.h1}:6443`]]);
      expect(await kubectlViaVip(['get', 'ns', 'default', '-o', 'name'])).toEqual({
        ok: true,
        out: 'namespace/default',
      });
      expect(await on('h3', `${KUBECTL} get ns default -o name`)).toBe('namespace/default');
    } finally {
      writeFileSync(inventoryFile, original);
    }
    const added = await deploy('master,ex-lb');
    expectExit(added, 0);
    for (const h of HOSTS) expect([h, await upstreams(h)]).toEqual([h, [`${address.h1}:6443`, `${address.h2}:6443`]]);
    for (const h of EX_LB)
      expect([h, await exLbUpstreams(h)]).toEqual([h, [`${address.h1}:6443`, `${address.h2}:6443`]]);
    // Reloaded, not restarted: the same nginx master process, active since before (keepalived untouched).
    expect(await kubeLb()).toEqual(before);
    expect(await exLbUnits()).toEqual(exLbBefore);
  }, 900_000);

  test('furrow certs check covers the control plane certificates and kubeconfigs', async () => {
    const r = await furrow(['certs', 'check', '-i', cluster, '--json'], { cwd, timeoutMs: 120_000 });
    expectExit(r, 0);
    const checks = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { name: string; where: string; status: string });
    const names = (where: string) => checks.filter((c) => c.where === where).map((c) => c.name);
    expect(names('controller')).toEqual(
      expect.arrayContaining([
        'apiserver',
        'apiserver-etcd-client',
        'apiserver-kubelet-client',
        'front-proxy-client',
        'admin',
        'controller-manager',
        'scheduler',
        'front-proxy-ca',
      ]),
    );
    expect(names('h1')).toEqual(
      expect.arrayContaining([
        '/etc/kubernetes/pki/apiserver.crt',
        '/etc/kubernetes/scheduler.kubeconfig',
        '/root/.kube/config',
      ]),
    );
    expect(checks.every((c) => c.status === 'ok')).toBe(true);
  }, 180_000);
});
