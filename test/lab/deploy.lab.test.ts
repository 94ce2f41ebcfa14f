import { createHash, X509Certificate } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { hostVars, loadInventory } from '../../src/engine/inventory/index.js';
import { ensureAuthorities, ensureLeaf, etcdCertSpecs, renewLeaves } from '../../src/pki/index.js';
import { buildDebRepo } from '../../src/repo/index.js';
import { etcdBinariesFromDebian } from '../support/etcd-binaries.js';
import { runtimeBinariesFromDebian } from '../support/runtime-binaries.js';
import { changedCounts, describeLab, expectExit, furrow, LabHosts, recap, labTestName } from './support.js';

/**
 * Steps 01 to 03 on a 3-host lab through `furrow deploy`, as an operator runs them: chrony,
 * prepare, an etcd cluster with mutual TLS and containerd from a cluster folder (inventory, config.yml,
 * bin/ from Debian's etcd packages, repo/ served by the deploy). Then: mTLS really enforced,
 * certificates checked by handshakes Furrow's PKI code has no part in (node:tls on the controller,
 * openssl on a host), a second run that changes and restarts nothing, a deleted certificate put
 * back with only its member restarted, a changed setting rolled out one member at a time, and
 * chrony clients synchronised from the first host.
 */
const NAME = labTestName('t-deploy');
/**
 * Steps 01-03 as one run, as `deploy all` ran them before step 04: this cluster has no Kubernetes
 * binaries (its etcd and containerd come from Debian), and the control plane has its own lab test.
 */
const FIRST_STEPS = '01,02,03';
const HOSTS = ['h1', 'h2', 'h3'];
const CERTS = '/etc/kubernetes/pki/etcd';
const ETCDCTL =
  `/opt/kube/bin/etcdctl --cacert=${CERTS}/ca.crt --cert=${CERTS}/healthcheck-client.crt ` +
  `--key=${CERTS}/healthcheck-client.key --dial-timeout=3s --command-timeout=5s`;
const BASE_PACKAGES = ['ca-certificates', 'conntrack', 'curl', 'ipset', 'ipvsadm', 'jq', 'socat'];

const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

/** Polls until probe gives a value; the error shows what it saw last. */
async function until<T>(
  what: string,
  probe: () => Promise<{ value?: T; seen: string }>,
  timeoutMs = 30_000,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  let seen = '';
  for (;;) {
    try {
      const r = await probe();
      if (r.value !== undefined) return r.value;
      seen = r.seen;
    } catch (err) {
      seen = String(err);
    }
    if (Date.now() > end) throw new Error(`${what}: not within ${timeoutMs} ms; last seen:\n${seen}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

describeLab('furrow deploy 01,02,03: chrony, prepare, etcd with mutual TLS and containerd on 3 lab hosts', () => {
  const cwd = mkdtempSync(path.join(os.tmpdir(), 'furrow-deploy-lab-'));
  const cluster = path.join(cwd, 'cluster');
  const pki = path.join(cluster, 'pki');
  const labInventory = path.join(cwd, '.furrow', `lab-${NAME}`, 'inventory.yml');
  const hosts = new LabHosts();
  const address: Record<string, string> = {};

  const on = hosts.on;

  const deploy = (step: string, ...extra: string[]) =>
    furrow(['deploy', step, '-i', cluster, ...extra], { cwd, timeoutMs: 600_000 });

  /** systemctl show's KEY=value lines of one unit. */
  async function unitProps(host: string, unit: string, props: string[]): Promise<Record<string, string>> {
    const text = await on(host, `systemctl show ${props.map((p) => `-p ${p}`).join(' ')} ${unit}`);
    return Object.fromEntries(text.split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
  }

  /** When etcd and chrony last became active on every host: a restart moves it. */
  async function startTimes(): Promise<Record<string, { etcd: string; chrony: string }>> {
    const at = async (h: string, unit: string) =>
      (await unitProps(h, unit, ['ActiveEnterTimestampMonotonic'])).ActiveEnterTimestampMonotonic!;
    const entries = await Promise.all(
      HOSTS.map(
        async (h) =>
          [
            h,
            {
              etcd: await at(h, 'etcd.service'),
              chrony: await at(h, 'chrony.service'),
              containerd: await at(h, 'containerd.service'),
            },
          ] as const,
      ),
    );
    return Object.fromEntries(entries);
  }

  beforeAll(async () => {
    mkdirSync(cluster, { recursive: true });
    const [up] = await Promise.all([
      furrow(['lab', 'up', '--hosts', '3', '--name', NAME], { cwd }),
      buildDebRepo({ packages: ['chrony', ...BASE_PACKAGES, 'openssl'], dir: path.join(cluster, 'repo') }),
      etcdBinariesFromDebian(path.join(cluster, 'bin')),
      // Step 03 (runtime) is part of 'all': containerd and runc from Debian's packages.
      runtimeBinariesFromDebian(path.join(cluster, 'bin')),
    ]);
    expectExit(up, 0);
    // The cluster folder as an operator makes it: the lab's inventory and the shipped lab settings.
    expectExit(await furrow(['new', cluster, '--from-lab', NAME, '--no-bundle'], { cwd }), 0);
    expect(readFileSync(path.join(cluster, 'inventory.yml'), 'utf8')).toBe(readFileSync(labInventory, 'utf8'));
    // kubeasz's per-host node name: prepare makes it h3's host name (lower case, '_' as '-').
    mkdirSync(path.join(cluster, 'host_vars'));
    writeFileSync(path.join(cluster, 'host_vars', 'h3.yml'), 'k8s_nodename: Node_3\n');
    const inv = await loadInventory(labInventory);
    for (const h of HOSTS) address[h] = String(hostVars(inv, h).ansible_host);
    await hosts.connect(labInventory, HOSTS, cwd);
  }, 900_000);

  afterAll(async () => {
    await hosts.close();
    await furrow(['lab', 'down', '--name', NAME], { cwd });
    rmSync(cwd, { recursive: true, force: true });
  }, 120_000);

  test('deploy 01,02,03: etcd reports 3 healthy members over mutual TLS; prepare left its ' +
    'marks on every host', async () => {
    // The machine-wide sysctls the lab switches off (prepare_kernel_sysctls: []) must stay the machine's.
    const machineSysctls = [
      'vm/overcommit_memory',
      'vm/panic_on_oom',
      'kernel/panic',
      'kernel/pid_max',
      'net/netfilter/nf_conntrack_max',
      'net/core/netdev_max_backlog',
    ];
    const readMachine = () =>
      machineSysctls.map((k) => {
        try {
          return readFileSync(`/proc/sys/${k}`, 'utf8');
        } catch {
          return '(none)';
        }
      });
    const machineBefore = readMachine();
    const r = await deploy(FIRST_STEPS);
    expectExit(r, 0);
    expect(Object.keys(recap(r.stdout)).sort()).toEqual(HOSTS);
    for (const counts of Object.values(recap(r.stdout))) expect([counts.failed, counts.unreachable]).toEqual([0, 0]);

    const health = JSON.parse(
      await on('h2', `${ETCDCTL} --endpoints=https://127.0.0.1:2379 endpoint health --cluster -w json`),
    ) as {
      endpoint: string;
      health: boolean;
    }[];
    expect(health.map((e) => [e.endpoint, e.health]).sort()).toEqual(
      HOSTS.map((h) => [`https://${address[h]}:2379`, true]),
    );
    const members = JSON.parse(await on('h3', `${ETCDCTL} --endpoints=https://127.0.0.1:2379 member list -w json`)) as {
      members: { name: string; peerURLs: string[] }[];
    };
    expect(members.members.map((m) => [m.name, m.peerURLs]).sort()).toEqual(
      HOSTS.map((h) => [`etcd-${h}`, [`https://${address[h]}:2380`]]),
    );
    // The role's certificates are the PKI presets' (what `furrow certs` checks and renews): all kept.
    const presets = etcdCertSpecs(HOSTS.map((h) => ({ name: h, ip: address[h]! }))).filter((s) =>
      s.name.startsWith('etcd/'),
    );
    const kept = await Promise.all(
      presets.map(async (spec) => [spec.name, (await ensureLeaf(pki, spec, { dryRun: true })).action]),
    );
    expect(kept).toEqual(presets.map((spec) => [spec.name, 'kept']));
    expect(
      await on('h1', `stat -c '%a %U' /var/lib/etcd ${CERTS}/server.key ${CERTS}/peer.key ${CERTS}/server.crt`),
    ).toBe('700 root\n600 root\n600 root\n644 root');

    expect(readMachine()).toEqual(machineBefore);
    for (const h of HOSTS) {
      // kubeasz 3.7.0's network sysctls, live in each host's own network namespace, and in the file.
      expect(
        await on(
          h,
          'cd /proc/sys/net && cat ipv4/ip_forward core/somaxconn ipv4/tcp_tw_reuse ipv4/tcp_fin_timeout ' +
            'ipv4/tcp_max_syn_backlog ipv4/tcp_rmem ipv4/tcp_wmem; grep -c . /etc/sysctl.d/95-furrow-k8s.conf',
        ),
      ).toBe('1\n65535\n2\n30\n65536\n4096\t12582912\t16777216\n4096\t12582912\t16777216\n16');
      expect(
        await on(
          h,
          "grep -c -E '^(vm|kernel|fs)\\.|nf_conntrack_max|netdev_max_backlog' " +
            '/etc/sysctl.d/95-furrow-k8s.conf || true',
        ),
      ).toBe('0');
      expect(
        await on(
          h,
          'cat /etc/modprobe.d/sctp.conf /etc/modules-load.d/dm_thin_pool.conf ' +
            '/etc/systemd/system.conf.d/30-furrow-limits.conf',
        ),
      ).toBe(
        '# Written by Furrow (role prepare).\ninstall sctp /bin/true\ndm_thin_pool\n' +
          "# Written by Furrow (role prepare): systemd's default limits for every " +
          'service.\n[Manager]\nDefaultLimitCORE=infinity\nDefaultLimitNOFILE=100000\nDefaultLimitNPROC=100000',
      );
      // systemd took the new defaults (the handler's daemon-reload): services started from now on get them.
      expect(await on(h, 'systemctl show -p DefaultLimitCORE -p DefaultLimitNOFILE -p DefaultLimitNPROC | sort')).toBe(
        'DefaultLimitCORE=infinity\nDefaultLimitNOFILE=100000\nDefaultLimitNPROC=100000',
      );
      expect(await on(h, 'cat /etc/hostname; hostname')).toBe(h === 'h3' ? 'node-3\nnode-3' : `${h}\n${h}`);
      expect(await on(h, "sed -n '/BEGIN FURROW CLUSTER HOSTS/,/END FURROW CLUSTER HOSTS/p' /etc/hosts")).toBe(
        [
          '# BEGIN FURROW CLUSTER HOSTS',
          ...HOSTS.map((x) => `${address[x]} ${x === 'h3' ? 'node-3 h3' : x}`),
          '# END FURROW CLUSTER HOSTS',
        ].join('\n'),
      );
      const installed = await on(h, `dpkg-query -W -f='\${Package} \${Status}\\n' ${BASE_PACKAGES.join(' ')} chrony`);
      expect(installed.split('\n').sort()).toEqual(
        [...BASE_PACKAGES, 'chrony'].sort().map((p) => `${p} install ok installed`),
      );
      expect(await on(h, "bash -lc 'command -v etcdctl'")).toBe('/opt/kube/bin/etcdctl');
      expect(
        await on(
          h,
          'cat /etc/modules-load.d/br_netfilter.conf /etc/modules-load.d/ip_vs.conf; grep -h Max ' +
            '/etc/systemd/journald.conf.d/95-furrow.conf; grep -c nofile /etc/security/limits.d/95-furrow-k8s.conf',
        ),
      ).toBe('br_netfilter\nip_vs\nSystemMaxUse=2G\nSystemMaxFileSize=200M\nMaxRetentionSec=2week\n4');
    }
  }, 600_000);

  test('client certificates are required: none, or one from another CA, is rejected', async () => {
    const other = path.join(cwd, 'other-pki');
    const intruder = await ensureLeaf(other, {
      name: 'etcd/healthcheck-client',
      ca: 'etcd/ca',
      commonName: 'kube-etcd-healthcheck-client',
      usages: ['client'],
    });
    const conn = hosts.get('h2');
    await conn.put('/root/intruder.crt', { path: intruder.certPath });
    await conn.put('/root/intruder.key', { path: intruder.keyPath }, { mode: '0600' });
    const url = `--endpoints=https://${address.h1}:2379`;
    const tried = async (flags: string) =>
      conn.exec(
        `/opt/kube/bin/etcdctl --cacert=${CERTS}/ca.crt ${flags} ${url} --dial-timeout=2s --command-timeout=3s ` +
          `endpoint health`,
      );

    const foreign = await tried('--cert=/root/intruder.crt --key=/root/intruder.key');
    expect([foreign.code, foreign.stderr.toString()]).toEqual([
      1,
      expect.stringContaining(`https://${address.h1}:2379 is unhealthy`),
    ]);
    const none = await tried('');
    expect([none.code, none.stderr.toString()]).toEqual([1, expect.stringContaining('is unhealthy')]);
    const rejected = await on(
      'h1',
      "journalctl -u etcd.service -o cat --no-pager | grep 'rejected connection' || true",
    );
    expect(rejected).toContain('certificate signed by unknown authority');
    expect(rejected).toMatch(/client didn't provide a certificate|certificate required/);
    // The same command with the cluster's client certificate works.
    expect((await tried(`--cert=${CERTS}/healthcheck-client.crt --key=${CERTS}/healthcheck-client.key`)).code).toBe(0);
  }, 60_000);

  test('server certificates verify against the etcd CA with the right SANs and usages, by node:tls and by ' +
    'openssl on a host', async () => {
    const ca = readFileSync(path.join(pki, 'etcd/ca.crt'));
    const cert = readFileSync(path.join(pki, 'etcd/healthcheck-client.crt'));
    const key = readFileSync(path.join(pki, 'etcd/healthcheck-client.key'));
    for (const h of HOSTS) {
      const peer = await new Promise<tls.DetailedPeerCertificate>((resolve, reject) => {
        const socket = tls.connect({ host: address[h], port: 2379, ca, cert, key, rejectUnauthorized: true }, () => {
          resolve(socket.getPeerCertificate(true));
          socket.end();
        });
        socket.on('error', reject);
      });
      expect(peer.subject.CN).toBe(h);
      expect(peer.issuer.CN).toBe('etcd-ca');
      expect(peer.subjectaltname!.split(', ').sort()).toEqual(
        [`DNS:${h}`, 'DNS:localhost', `IP Address:${address[h]}`, 'IP Address:127.0.0.1'].sort(),
      );
      expect([...peer.ext_key_usage!].sort()).toEqual(['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']);
      expect(tls.checkServerIdentity(address[h]!, peer)).toBeUndefined();
      expect(tls.checkServerIdentity('10.9.9.9', peer)?.message).toMatch(/IP: 10\.9\.9\.9 is not in the cert's list: /);
    }

    // openssl is not in the hosts' minimal system: the test's repository carries it for h1 only.
    await on('h1', 'DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends openssl >/dev/null');
    const sClient = (target: string, ip: string) =>
      hosts
        .get('h1')
        .exec(
          `cd ${CERTS} && openssl s_client -connect ${target}:2379 -CAfile ca.crt -cert healthcheck-client.crt -key ` +
            `healthcheck-client.key -verify_return_error -verify_ip ${ip} -brief </dev/null`,
        );
    for (const h of HOSTS) {
      const ok = await sClient(address[h]!, address[h]!);
      expect([ok.code, ok.stderr.toString()]).toEqual([0, expect.stringContaining('Verification: OK')]);
      expect(ok.stderr.toString()).toContain(`Peer certificate: CN = ${h}`);
    }
    const wrong = await sClient(address.h2!, address.h1!);
    expect([wrong.code, wrong.stderr.toString()]).toEqual([1, expect.stringContaining('IP address mismatch')]);
    expect(
      await on(
        'h1',
        `cd ${CERTS} && openssl verify -CAfile ca.crt -purpose sslserver server.crt && openssl verify -CAfile ca.crt ` +
          `-purpose sslclient peer.crt && openssl verify -CAfile ca.crt -purpose sslserver peer.crt`,
      ),
    ).toBe('server.crt: OK\npeer.crt: OK\npeer.crt: OK');
  }, 120_000);

  test('chrony: the clients ask only the first host and synchronise from it', async () => {
    expect(
      await on('h1', "grep -E '^(server|allow|local) ' /etc/chrony/chrony.conf; ps -o args= -C chronyd | sort -u"),
    ).toBe('allow 0.0.0.0/0\nlocal stratum 10\n/usr/sbin/chronyd -F 1 -x');
    for (const h of ['h2', 'h3']) {
      expect(await on(h, "grep -E '^(server|pool|allow|local) ' /etc/chrony/chrony.conf")).toBe(
        `server ${address.h1} iburst`,
      );
      const line = await until(`${h} selects ${address.h1}`, async () => {
        const seen = await on(h, 'chronyc -n sources');
        const sources = seen.split('\n').filter((l) => /^[\^=#][*+\-?x~] /.test(l));
        return {
          seen,
          ...(sources.length === 1 && sources[0]!.startsWith(`^* ${address.h1} `) ? { value: sources[0]! } : {}),
        };
      });
      const [, , stratum, , reach] = line.split(/\s+/);
      expect([stratum, Number.parseInt(reach!, 8) > 0]).toEqual(['10', true]);
    }
  }, 60_000);

  test('second run: changed=0 on every host, and neither etcd, chrony nor containerd restarted', async () => {
    const before = await startTimes();
    const r = await deploy(FIRST_STEPS);
    expectExit(r, 0);
    expect(r.stdout.split('\n').filter((l) => / changed: /.test(l))).toEqual([]);
    expect(changedCounts(r)).toEqual({ h1: 0, h2: 0, h3: 0 });
    expect(await startTimes()).toEqual(before);
  }, 300_000);

  test('a deleted member certificate is put back, and only that member restarts', async () => {
    const before = await startTimes();
    await on('h3', `rm ${CERTS}/server.crt`);
    const r = await deploy('etcd');
    expectExit(r, 0);
    expect(changedCounts(r)).toEqual({ h1: 0, h2: 0, h3: 2 });
    expect(r.stdout).toMatch(/^h3 etcd \| changed: handler: restart etcd/m);
    expect(await on('h3', `sha256sum ${CERTS}/server.crt | cut -c1-64`)).toBe(
      sha256(path.join(pki, 'etcd/server-h3.crt')),
    );
    const after = await startTimes();
    expect({ h1: after.h1, h2: after.h2 }).toEqual({ h1: before.h1, h2: before.h2 });
    expect(after.h3!.etcd).not.toBe(before.h3!.etcd);
    expect(after.h3!.chrony).toBe(before.h3!.chrony);
    expect(
      await on(
        'h1',
        `${ETCDCTL} --endpoints=https://127.0.0.1:2379 endpoint health --cluster -w json | jq -c ` +
          `'[.[].health] | unique'`,
      ),
    ).toBe('[true]');
  }, 300_000);

  test('a changed setting restarts the members one at a time, each after the cluster is healthy again', async () => {
    const r = await deploy('etcd', '-e', 'etcd_snapshot_count=60000');
    expectExit(r, 0);
    // The unit is written, systemd reloaded, and the member restarted by the handler.
    expect(changedCounts(r)).toEqual({ h1: 3, h2: 3, h3: 3 });
    // Containers share the kernel's monotonic clock: one member's stop comes after the previous member is back.
    const spans = await Promise.all(
      HOSTS.map((h) =>
        unitProps(h, 'etcd.service', ['InactiveEnterTimestampMonotonic', 'ActiveEnterTimestampMonotonic']),
      ),
    );
    const ordered = spans
      .map((p) => ({
        stopped: Number(p.InactiveEnterTimestampMonotonic),
        back: Number(p.ActiveEnterTimestampMonotonic),
      }))
      .sort((a, b) => a.stopped - b.stopped);
    expect(ordered.every((s) => s.stopped > 0 && s.back > s.stopped)).toBe(true);
    for (let i = 1; i < ordered.length; i++) expect(ordered[i]!.stopped).toBeGreaterThan(ordered[i - 1]!.back);
    expect(await on('h2', `grep -c -- '--snapshot-count=60000' /etc/systemd/system/etcd.service`)).toBe('1');
    // Back to the cluster's settings: one more rolling restart, then nothing.
    expectExit(await deploy('etcd'), 0);
    expect(changedCounts(await deploy('etcd'))).toEqual({ h1: 0, h2: 0, h3: 0 });
  }, 300_000);

  test('certs check flags a certificate that expires within the window; the next deploy renews it and restarts ' +
    'only that member', async () => {
    expectExit(await furrow(['certs', 'check', '-i', cluster], { cwd }), 0);
    // Make h2's server certificate one that runs out in 10 days (inside the 30-day window).
    const inv = await loadInventory(path.join(cluster, 'inventory.yml'));
    const member = { name: 'h2', ip: String(hostVars(inv, 'h2').ansible_host) };
    const spec = etcdCertSpecs([member], { days: 10 }).find((s) => s.name === 'etcd/server-h2')!;
    await renewLeaves(pki, [spec]);
    const check = await furrow(['certs', 'check', '-i', cluster, '--json'], { cwd });
    expect(check.code).toBe(1);
    const flagged = check.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { where: string; name: string; status: string })
      .filter((c) => c.status !== 'ok');
    expect(flagged).toEqual([
      expect.objectContaining({ where: 'controller', name: 'etcd/server-h2', status: 'expiring' }),
    ]);

    const before = await startTimes();
    const r = await deploy('etcd');
    expectExit(r, 0);
    expect(changedCounts(r)).toEqual({ h1: 0, h2: 2, h3: 0 });
    const after = await startTimes();
    expect({ h1: after.h1, h3: after.h3 }).toEqual({ h1: before.h1, h3: before.h3 });
    expect(after.h2!.etcd).not.toBe(before.h2!.etcd);
    expectExit(await furrow(['certs', 'check', '-i', cluster], { cwd }), 0);
    expect(await on('h2', `sha256sum ${CERTS}/server.crt | cut -c1-64`)).toBe(
      sha256(path.join(pki, 'etcd/server-h2.crt')),
    );
  }, 300_000);

  test("certs renew re-issues with the existing CA and rolls the members' certificates out one at a time", async () => {
    const old = sha256(path.join(pki, 'etcd/server-h1.crt'));
    const ca = sha256(path.join(pki, 'etcd/ca.crt'));
    const r = await furrow(['certs', 'renew', '-i', cluster, '--only', 'etcd/server-h1'], { cwd, timeoutMs: 600_000 });
    expectExit(r, 0);
    expect(r.stderr).toMatch(/etcd\/server-h1: issued/);
    expect(sha256(path.join(pki, 'etcd/server-h1.crt'))).not.toBe(old);
    expect(sha256(path.join(pki, 'etcd/ca.crt'))).toBe(ca);
    expect(changedCounts(r)).toEqual({ h1: 2, h2: 0, h3: 0 });
    expect(
      await on(
        'h3',
        `${ETCDCTL} --endpoints=https://127.0.0.1:2379 endpoint health --cluster -w json | jq -c ` +
          `'[.[].health] | unique'`,
      ),
    ).toBe('[true]');
  }, 300_000);

  test('a lost or re-created pki/ (no CA, or another CA) stops the deploy with exit 2 and both fingerprints; no ' +
    'host is touched', async () => {
    const fingerprintOf = (file: string) => new X509Certificate(readFileSync(file)).fingerprint256;
    const trusted = fingerprintOf(path.join(pki, 'etcd/ca.crt'));
    const onHosts = () => Promise.all(HOSTS.map((h) => on(h, `sha256sum ${CERTS}/*.crt ${CERTS}/*.key`)));
    const certsBefore = await onHosts();
    const before = await startTimes();
    renameSync(pki, `${pki}.kept`);
    try {
      // Lost: the run would make a new CA.
      mkdirSync(pki);
      const lost = await deploy('etcd');
      expectExit(lost, 2);
      expect(lost.stderr).toContain(`${path.join(pki, 'etcd/ca.crt')} does not exist (the run would make a new CA)`);
      expect(lost.stderr).toContain(`hosts h1, h2, h3 trust SHA-256 ${trusted}`);
      // Re-created: a new CA in pki/.
      await ensureAuthorities(pki);
      const fresh = fingerprintOf(path.join(pki, 'etcd/ca.crt'));
      expect(fresh).not.toBe(trusted);
      const r = await deploy('etcd');
      expectExit(r, 2);
      expect(r.stderr).toContain(
        `${path.join(pki, 'etcd/ca.crt')} has SHA-256 ${fresh}; hosts h1, h2, h3 trust SHA-256 ${trusted}`,
      );
      expect(r.stderr).toMatch(/fix: restore the cluster's pki\/ .*or rotate the CA on purpose/);
      expect(recap(r.stdout)).toEqual({});
      // Stopped before any task: no leaf issued from the new CA, no file and no restart on a host.
      expect(readFileSync(path.join(pki, 'etcd/ca.crt'), 'utf8')).toContain('BEGIN CERTIFICATE');
      expect(() => readFileSync(path.join(pki, 'etcd/server-h1.crt'))).toThrow(/ENOENT/);
      expect(await onHosts()).toEqual(certsBefore);
      expect(await startTimes()).toEqual(before);
    } finally {
      rmSync(pki, { recursive: true, force: true });
      renameSync(`${pki}.kept`, pki);
    }
  }, 300_000);

  test("the kubeasz example inventory loads and targets the lab once its addresses are the lab's", async () => {
    const example = readFileSync(path.resolve('test/fixtures/inventory/kubeasz/hosts'), 'utf8');
    const lab = ['10.10.0.11', '10.10.0.12', '10.10.0.13', '10.10.0.21', '10.10.0.22'];
    const to = [address.h1, address.h2, address.h3, address.h2, address.h3];
    const hostsFile = path.join(cwd, 'kubeasz-hosts');
    let text = example;
    for (const [i, from] of lab.entries()) text = text.replaceAll(from, to[i]!);
    const labDir = path.dirname(labInventory);
    writeFileSync(
      hostsFile,
      `${text}\n[all:vars]\nansible_ssh_private_key_file=${path.join(labDir, 'id_ed25519')}\n` +
        `furrow_known_hosts_file=${path.join(labDir, 'known_hosts')}\n`,
    );
    const r = await furrow(['exec', 'etcd:kube_master', '-i', hostsFile, '--json', '--', 'hostname'], { cwd });
    expectExit(r, 0);
    const seen = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { host: string; stdout: string })
      .map((x) => [x.host, x.stdout.trim()])
      .sort();
    // h3 was renamed by prepare after its k8s_nodename.
    expect(seen).toEqual(
      [
        [address.h1, 'h1'],
        [address.h2, 'h2'],
        [address.h3, 'node-3'],
      ].sort(),
    );
  });
});
