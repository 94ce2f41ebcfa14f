import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { describeCertificate, parseCertificate } from '../../src/pki/describe.js';
import { changedCounts, describeLab, expectExit, furrow, LabHosts, labTestName } from './support.js';
import { type WebPods, webAppManifest } from './web-app.js';

/**
 * A single-stack IPv6 Kubernetes cluster, as far as the lab can take one. `lab up --ipv6` gives each host an address in
 * the lab's fd46:7572:N::/64 and the inventory reaches the hosts by it; SERVICE_CIDR and CLUSTER_CIDR are IPv6. The
 * hosts keep their IPv4 addresses, which the cluster does not use (the lab's package server answers on the IPv4
 * gateway). 3 hosts: h1 the master, all three nodes and etcd members, CLUSTER_NETWORK routes (the lab's).
 * Proves: the controller reaches every host, and the API, over IPv6; chrony's clients ask h1 at its IPv6 address and
 * are answered; etcd's members speak mutual TLS on bracketed IPv6 URLs, with certificates naming their IPv6
 * addresses; the kubernetes Service is at SERVICE_CIDR's first address with h1's IPv6 address behind it; the nodes
 * are Ready at their IPv6 addresses on /64 podCIDRs; the web app's pods get IPv6 addresses, its Service answers on
 * its IPv6 ClusterIP and NodePort from every node, a pod reaches another node's pod, and `kubectl exec` (the
 * apiserver to a kubelet) works; `cluster status` and `etcd backup` work; `node add h4` by its IPv6 address (a fourth
 * lab host, kept out of the cluster until then) and `node remove h4`; then `etcd add h4` and `master add h4` by its
 * IPv6 address; a second deploy all changes nothing.
 * Not proven here: flannel on IPv6 (its image cannot be fetched in the lab), dual stack, IPv6 VIPs for ex-lb, the
 * add-ons' pods (no images), and the other day-2 operations (removals of etcd members and masters, etcd restore,
 * upgrade, CA rotation) on IPv6 hosts: kube-cluster.lab.test runs them on IPv4.
 */
const NAME = labTestName('t-ipv6');
const HOSTS = ['h1', 'h2', 'h3'];
const KUBECTL = '/opt/kube/bin/kubectl --kubeconfig=/root/.kube/config --request-timeout=20s';
const SERVICE_CIDR = 'fd00:10:68::/112';
const CLUSTER_CIDR = 'fd00:10:244::/56';

/** The SANs of a certificate on a host, as Furrow's PKI lists them (`IP:fd46:…`, `DNS:h1`). */
const sansOf = (pem: string, where: string) => describeCertificate(parseCertificate(pem, where)).sans;

describeLab('an IPv6 Kubernetes cluster on v1.20.2 (lab hosts reached by IPv6: 1 master, 3 nodes; h4 added)', () => {
  const cwd = mkdtempSync(path.join(os.tmpdir(), 'furrow-ipv6-lab-'));
  const cluster = path.join(cwd, 'clusters', 'v6');
  const labInventory = path.join(cwd, '.furrow', `lab-${NAME}`, 'inventory.yml');
  const hosts = new LabHosts();
  const on = hosts.on;
  const timings: Record<string, number> = {};
  /** Each host's IPv6 address, as the lab's inventory has it. */
  let address: Record<string, string> = {};
  let gateway = '';
  let labStarted = false;

  afterAll(async () => {
    process.stdout.write(`ipv6-cluster lab timings (s): ${JSON.stringify(timings)}\n`);
    await hosts.close();
    if (labStarted) await furrow(['lab', 'down', '--name', NAME], { cwd });
    rmSync(cwd, { recursive: true, force: true });
  }, 120_000);

  const kubectlJson = async <T>(args: string) => JSON.parse(await on('h1', `${KUBECTL} ${args} -o json`)) as T;

  test('lab up --ipv6, new --from-lab with IPv6 SERVICE_CIDR and CLUSTER_CIDR, deploy all', async () => {
    labStarted = true;
    const up = await furrow(['lab', 'up', '--hosts', '4', '--name', NAME, '--ipv6'], { cwd, timeoutMs: 600_000 });
    expectExit(up, 0);
    const labHosts = YAML.parse(readFileSync(labInventory, 'utf8')).all.hosts;
    address = Object.fromEntries([...HOSTS, 'h4'].map((h) => [h, labHosts[h].ansible_host as string]));
    for (const h of [...HOSTS, 'h4']) expect(address[h]).toMatch(/^fd46:7572:\d+::1[1-4]$/);
    gateway = address.h1!.replace(/::11$/, '::1');
    // The lab's bundle (built once per machine; cached for every later test).
    expectExit(await furrow(['lab', 'kubernetes'], { cwd, timeoutMs: 1_800_000 }), 0);
    expectExit(await furrow(['new', cluster, '--from-lab', NAME], { cwd, timeoutMs: 900_000 }), 0);
    // One master, and h4 kept out (node add brings it in later).
    const inventoryFile = path.join(cluster, 'inventory.yml');
    const inventory = YAML.parse(readFileSync(inventoryFile, 'utf8'));
    inventory.all.children.kube_master.hosts = { h1: null };
    delete inventory.all.hosts.h4;
    delete inventory.all.children.kube_node.hosts.h4;
    writeFileSync(inventoryFile, YAML.stringify(inventory));
    appendFileSync(
      path.join(cluster, 'config.yml'),
      `# An IPv6 cluster: Services and pods on IPv6 networks (/64 per node).\nSERVICE_CIDR: ${SERVICE_CIDR}\n` +
        `CLUSTER_CIDR: ${CLUSTER_CIDR}\nNODE_CIDR_LEN: 64\n`,
    );
    const started = Date.now();
    const r = await furrow(['deploy', 'all', '-i', cluster], { cwd, timeoutMs: 1_500_000 });
    timings['first: deploy all'] = (Date.now() - started) / 1000;
    expectExit(r, 0);
    await hosts.connect(labInventory, HOSTS, cwd);
  }, 2_700_000);

  test("the controller's connections are over IPv6; chrony's clients ask h1 at its IPv6 address and are " +
    'answered', async () => {
    for (const h of HOSTS) {
      const ssh = await on(h, "ss -Htn state established '( sport = :22 )'");
      expect([h, ssh]).toEqual([h, expect.stringMatching(new RegExp(`\\[${address[h]}\\]:22\\s+\\[${gateway}\\]:`))]);
    }
    for (const h of ['h2', 'h3']) {
      // Reach (octal) is not 0 once an answer came back; chronyd may still be in its first polls.
      const line = await on(
        h,
        `for i in $(seq 30); do l=$(chronyc -n sources | grep -F ' ${address.h1} '); ` +
          `r=$(echo "$l" | awk '{print $5}'); [ -n "$r" ] && [ "$r" != 0 ] && break; sleep 1; done; echo "$l"`,
      );
      expect(line.split(/\s+/)[1]).toBe(address.h1);
      expect(line.split(/\s+/)[4]).not.toBe('0');
    }
  }, 120_000);

  test('etcd: members on bracketed IPv6 URLs, all healthy over mutual TLS, certificates naming their IPv6 addresses; ' +
    'etcd backup', async () => {
    const etcdctl =
      '/opt/kube/bin/etcdctl --cacert=/etc/kubernetes/pki/etcd/ca.crt ' +
      '--cert=/etc/kubernetes/pki/etcd/healthcheck-client.crt ' +
      '--key=/etc/kubernetes/pki/etcd/healthcheck-client.key';
    const members = JSON.parse(await on('h1', `${etcdctl} --endpoints=https://127.0.0.1:2379 member list -w json`)) as {
      members: Array<{ name: string; peerURLs: string[]; clientURLs: string[] }>;
    };
    expect(members.members.map((m) => [m.name, m.peerURLs, m.clientURLs]).sort()).toEqual(
      HOSTS.map((h) => [`etcd-${h}`, [`https://[${address[h]}]:2380`], [`https://[${address[h]}]:2379`]]),
    );
    // Every member, asked at its IPv6 address from h3.
    const endpoints = HOSTS.map((h) => `https://[${address[h]}]:2379`).join(',');
    const health = await on('h3', `${etcdctl} --endpoints=${endpoints} endpoint health 2>&1`);
    for (const h of HOSTS) expect(health).toContain(`https://[${address[h]}]:2379 is healthy`);
    for (const h of HOSTS) {
      for (const file of ['server', 'peer']) {
        const pem = await on(h, `cat /etc/kubernetes/pki/etcd/${file}.crt`);
        expect([h, file, sansOf(pem, `${h} ${file}.crt`)]).toEqual([
          h,
          file,
          expect.arrayContaining([`IP:${address[h]}`]),
        ]);
      }
    }
    const backup = await furrow(['etcd', 'backup', '-i', cluster], { cwd, timeoutMs: 300_000 });
    expectExit(backup, 0);
    expect(backup.stdout).toMatch(/snapshot-\d{8}T\d{6}Z\.db/);
  }, 300_000);

  test('Kubernetes: the kubernetes Service at fd00:10:68::1 with h1 behind it; nodes Ready at their IPv6 addresses ' +
    'on /64 podCIDRs; cluster status from the controller', async () => {
    const service = await kubectlJson<{ spec: { clusterIP: string } }>('get service kubernetes');
    expect(service.spec.clusterIP).toBe('fd00:10:68::1');
    const endpoints = await kubectlJson<{ subsets: Array<{ addresses: Array<{ ip: string }> }> }>(
      'get endpoints kubernetes',
    );
    expect(endpoints.subsets.flatMap((s) => s.addresses.map((a) => a.ip))).toEqual([address.h1]);
    const apiserverSans = sansOf(await on('h1', 'cat /etc/kubernetes/pki/apiserver.crt'), 'h1 apiserver.crt');
    expect(apiserverSans).toEqual(expect.arrayContaining(['IP:fd00:10:68::1', `IP:${address.h1}`]));
    expect(await on('h1', `${KUBECTL} wait node --all --for=condition=Ready --timeout=120s -o name`)).toContain('h3');
    const nodes = await kubectlJson<{
      items: Array<{
        metadata: { name: string };
        spec: { podCIDR: string };
        status: { addresses: Array<{ type: string; address: string }> };
      }>;
    }>('get nodes');
    for (const n of nodes.items) {
      const internal = n.status.addresses.find((a) => a.type === 'InternalIP')?.address;
      expect([n.metadata.name, internal]).toEqual([n.metadata.name, address[n.metadata.name]]);
      expect([n.metadata.name, n.spec.podCIDR]).toEqual([
        n.metadata.name,
        expect.stringMatching(/^fd00:10:244:.*\/64$/),
      ]);
    }
    const status = await furrow(['cluster', 'status', '-i', cluster], { cwd, timeoutMs: 300_000 });
    expectExit(status, 0);
    expect(status.stdout).toContain(`api: https://[${address.h1}]:6443: ready, v1.20.2`);
    expect(status.stdout).toContain('nodes: 3 of 3 Ready');
    expect(status.stdout).toContain('etcd: 3 of 3 members healthy');
    expect(status.stdout).toMatch(/drift: .* would change nothing on any host/);
  }, 400_000);

  test("the web app over IPv6: pods on their node's podCIDR, the Service on its ClusterIP and NodePort from every " +
    "node, h1's pod reaches h3's pod, kubectl exec", async () => {
    await hosts.get('h1').put('/root/web.yaml', {
      content: webAppManifest(3)
        .map((m) => YAML.stringify(m))
        .join('---\n'),
    });
    await on(
      'h1',
      `${KUBECTL} apply -f /root/web.yaml >/dev/null && ${KUBECTL} rollout status deployment/web --timeout=180s`,
    );
    const pods = await kubectlJson<WebPods>('get pods -l app=web');
    expect(pods.items.map((p) => p.spec.nodeName).sort()).toEqual(HOSTS);
    for (const p of pods.items) expect(p.status.podIP).toMatch(/^fd00:10:244:/);
    const service = await kubectlJson<{ spec: { clusterIP: string; ports: Array<{ nodePort: number }> } }>(
      'get service web',
    );
    expect(service.spec.clusterIP).toMatch(/^fd00:10:68::/);
    const names = pods.items.map((p) => `furrow lab web: ${p.metadata.name}`);
    // Until kube-proxy's next sync the first tries may be refused: ask until it answers (~30 s), as a user would.
    const answer = async (h: string, url: string) => {
      const r = await on(h, `for i in $(seq 15); do curl -gsS --max-time 5 ${url} && exit 0; sleep 2; done; exit 1`);
      expect(names).toContain(r);
    };
    for (const h of HOSTS) {
      await answer(h, `http://[${service.spec.clusterIP}]/`);
      await answer(h, `http://[${address[h]}]:${service.spec.ports[0]!.nodePort}/`);
    }
    const from = pods.items.find((p) => p.spec.nodeName === 'h1')!;
    const to = pods.items.find((p) => p.spec.nodeName === 'h3')!;
    expect(
      await on('h1', `timeout 60 ${KUBECTL} exec ${from.metadata.name} -- wget -q -O - http://[${to.status.podIP}]/`),
    ).toBe(`furrow lab web: ${to.metadata.name}`);
    // Straight to h3: h1 routes h3's podCIDR to h3's IPv6 address.
    expect(await on('h1', `ip -6 route get ${to.status.podIP}`)).toContain(`via ${address.h3}`);
  }, 400_000);

  test('node add h4 by its IPv6 address: Ready at it, every node routes its /64 podCIDR to it; node remove h4: ' +
    'drained, gone from the cluster, the inventory and the routes', async () => {
    const nodeCidr = async () =>
      (
        await kubectlJson<{ items: Array<{ metadata: { name: string }; spec: { podCIDR?: string } }> }>('get nodes')
      ).items.find((n) => n.metadata.name === 'h4')?.spec.podCIDR;
    let started = Date.now();
    const added = await furrow(['node', 'add', 'h4', '--address', address.h4!, '-i', cluster], {
      cwd,
      timeoutMs: 900_000,
    });
    timings['node add'] = (Date.now() - started) / 1000;
    expectExit(added, 0);
    expect(added.stdout).toContain('node add: h4 is a node of the cluster');
    expect(
      await on('h1', `${KUBECTL} get node h4 -o jsonpath='{.status.addresses[?(@.type=="InternalIP")].address}'`),
    ).toBe(address.h4);
    const cidr = await nodeCidr();
    expect(cidr).toMatch(/^fd00:10:244:.*\/64$/);
    for (const h of HOSTS)
      expect([h, await on(h, 'ip -6 route show proto 211')]).toEqual([
        h,
        expect.stringContaining(`${cidr} via ${address.h4}`),
      ]);
    started = Date.now();
    const removed = await furrow(['node', 'remove', 'h4', '-i', cluster, '--yes'], { cwd, timeoutMs: 900_000 });
    timings['node remove'] = (Date.now() - started) / 1000;
    expectExit(removed, 0);
    expect(removed.stdout).toContain('node remove: h4 is no longer part of the cluster');
    expect(await nodeCidr()).toBeUndefined();
    expect(readFileSync(path.join(cluster, 'inventory.yml'), 'utf8')).not.toMatch(/\bh4\b/);
    for (const h of HOSTS)
      expect([h, await on(h, 'ip -6 route show proto 211')]).toEqual([h, expect.not.stringContaining(cidr!)]);
  }, 900_000);

  test('etcd add h4 by its IPv6 address (a learner, promoted; every list carries its bracketed URL), then master add ' +
    'h4: its apiserver answers at its IPv6 address and every kube-lb forwards to it', async () => {
    const h4 = address.h4!;
    let started = Date.now();
    const etcd = await furrow(['etcd', 'add', 'h4', '--address', h4, '-i', cluster], { cwd, timeoutMs: 900_000 });
    timings['etcd add'] = (Date.now() - started) / 1000;
    expectExit(etcd, 0);
    expect(etcd.stdout).toMatch(/^h4 etcd \| changed: Promote this member from learner to voting member/m);
    expect(etcd.stdout).toContain('etcd add: h4 is a member of etcd');
    for (const h of HOSTS) expect(await on(h, 'systemctl cat etcd')).toContain(`etcd-h4=https://[${h4}]:2380`);
    expect(await on('h1', 'systemctl cat kube-apiserver')).toContain(`https://[${h4}]:2379`);
    started = Date.now();
    const master = await furrow(['master', 'add', 'h4', '--address', h4, '-i', cluster], { cwd, timeoutMs: 900_000 });
    timings['master add'] = (Date.now() - started) / 1000;
    expectExit(master, 0);
    expect(master.stdout).toContain('master add: h4 is a master of the cluster');
    expect(await on('h1', `${KUBECTL} --server=https://[${h4}]:6443 get --raw /readyz`)).toBe('ok');
    for (const h of HOSTS)
      expect([h, await on(h, 'cat /etc/kube-lb/kube-lb.conf')]).toEqual([
        h,
        expect.stringContaining(`server [${h4}]:6443`),
      ]);
    const endpoints = await kubectlJson<{ subsets: Array<{ addresses: Array<{ ip: string }> }> }>(
      'get endpoints kubernetes',
    );
    expect(endpoints.subsets.flatMap((s) => s.addresses.map((a) => a.ip)).sort()).toEqual([address.h1, h4].sort());
  }, 900_000);

  test('a second deploy all changes nothing on any host', async () => {
    const started = Date.now();
    const r = await furrow(['deploy', 'all', '-i', cluster], { cwd, timeoutMs: 900_000 });
    timings['re-run: deploy all'] = (Date.now() - started) / 1000;
    expectExit(r, 0);
    expect(changedCounts(r)).toEqual({ h1: 0, h2: 0, h3: 0, h4: 0 });
  }, 900_000);
});
