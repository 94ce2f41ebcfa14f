import { createHash, X509Certificate } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { copyFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { hostVars, loadInventory } from '../../src/engine/inventory/index.js';
import { imageLayoutTar, LAB_PAUSE_IMAGE, LAB_WEB_IMAGE, labImages } from '../../src/lab/images.js';
import { buildDebRepo } from '../../src/repo/index.js';
import { etcdBinariesFromDebian } from '../support/etcd-binaries.js';
import { runtimeBinariesFromDebian } from '../support/runtime-binaries.js';
import { changedCounts, describeLab, expectExit, furrow, LabHosts, labTestName, recap } from './support.js';

/**
 * A whole Kubernetes cluster on real v1.20.2 binaries, deployed with `furrow deploy all` as an
 * operator runs it: 3 lab hosts, h1 and h2 masters, all three nodes, etcd on all three. Proves:
 * 3 nodes Ready with kubeasz's role labels; a Deployment of the lab's web image runs and its
 * Service answers on its ClusterIP from the node it runs on; a node's own credentials are limited
 * to what Node authorization allows; a second `deploy all` changes nothing and restarts no unit.
 *
 * Not proven here: pod traffic between nodes. Until the network step (06) installs a real network
 * plugin, each node has the temporary bridge network on its own podCIDR (as kubeasz has), so the
 * ClusterIP is asked from the pod's node. The binaries are v1.20.2 only: the flags chosen for
 * newer versions are checked by test/unit/kube/flags.test.ts alone.
 */
const NAME = labTestName('t-kcluster');
const HOSTS = ['h1', 'h2', 'h3'];
const MASTERS = ['h1', 'h2'];
const K8S_BIN = process.env.FURROW_K8S_BIN ?? '/var/lib/furrow/kubernetes/build/src/_output/bin';
const K8S_BINARIES = ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kubectl', 'kubelet', 'kube-proxy'];
const CNI_DIR = '/usr/lib/cni';
const CNI_PLUGINS = ['bridge', 'host-local', 'loopback', 'portmap'];
const PACKAGES = ['chrony', 'ca-certificates', 'conntrack', 'curl', 'ipset', 'ipvsadm', 'jq', 'socat', 'nginx', 'libnginx-mod-stream', 'iptables'];
const KUBECTL = '/opt/kube/bin/kubectl --kubeconfig=/root/.kube/config --request-timeout=20s';

const haveBinaries = K8S_BINARIES.every((b) => existsSync(path.join(K8S_BIN, b))) && CNI_PLUGINS.every((p) => existsSync(path.join(CNI_DIR, p)));
const describeK8s = haveBinaries ? describeLab : (name: string, fn: () => void) => describe.skip(`${name} (no Kubernetes binaries in ${K8S_BIN} or CNI plugins in ${CNI_DIR})`, fn);

describeK8s('deploy all: a Kubernetes cluster on real v1.20.2 binaries (3 lab hosts: 2 masters, 3 nodes)', () => {
  const cwd = mkdtempSync(path.join(os.tmpdir(), 'furrow-kcluster-lab-'));
  const cluster = path.join(cwd, 'cluster');
  const labInventory = path.join(cwd, '.furrow', `lab-${NAME}`, 'inventory.yml');
  const hosts = new LabHosts();
  const on = hosts.on;
  const address: Record<string, string> = {};
  const timings: Record<string, number> = {};

  /** `deploy all`, timed: the whole run and step 05 (from its first task to the run's end, from the run journal). */
  async function deployAll(label: string) {
    const started = Date.now();
    const r = await furrow(['deploy', 'all', '-i', cluster], { cwd, timeoutMs: 1_500_000 });
    timings[`${label} deploy all`] = (Date.now() - started) / 1000;
    const runs = path.join(cwd, '.furrow', 'runs');
    const journal = readdirSync(runs).filter((f) => f.endsWith('.jsonl')).sort().at(-1)!;
    const events = readFileSync(path.join(runs, journal), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { kind: string; task?: string; t: number });
    const step05 = events.find((e) => e.kind === 'task_start' && e.task === 'Check the node settings');
    const end = events.find((e) => e.kind === 'run_end');
    if (step05 && end) timings[`${label} step 05`] = (end.t - step05.t) / 1000;
    return r;
  }

  /** When each unit last became active, per host: a restart moves it (lab hosts share one clock). */
  async function startTimes(): Promise<Record<string, Record<string, string>>> {
    const entries = await Promise.all(HOSTS.map(async (h) => {
      const units = ['etcd', 'containerd', 'kube-lb', 'kubelet', 'kube-proxy', ...(MASTERS.includes(h) ? ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler'] : [])];
      const text = await on(h, units.map((u) => `systemctl show -p ActiveEnterTimestampMonotonic --value ${u}.service`).join('; '));
      return [h, Object.fromEntries(text.split('\n').map((v, i) => [units[i]!, v]))] as const;
    }));
    return Object.fromEntries(entries);
  }

  const kubectlJson = async <T>(args: string) => JSON.parse(await on('h1', `${KUBECTL} ${args} -o json`)) as T;

  beforeAll(async () => {
    const [up] = await Promise.all([
      furrow(['lab', 'up', '--hosts', '3', '--name', NAME], { cwd }),
      buildDebRepo({ packages: PACKAGES, dir: path.join(cwd, 'repo') }),
      etcdBinariesFromDebian(path.join(cwd, 'bin')),
      runtimeBinariesFromDebian(path.join(cwd, 'bin')),
    ]);
    expectExit(up, 0);
    expectExit(await furrow(['new', cluster, '--from-lab', NAME], { cwd }), 0);
    cpSync(path.join(cwd, 'repo'), path.join(cluster, 'repo'), { recursive: true });
    cpSync(path.join(cwd, 'bin'), path.join(cluster, 'bin'), { recursive: true });
    for (const b of K8S_BINARIES) await copyFile(path.join(K8S_BIN, b), path.join(cluster, 'bin', b));
    // The bundle's cni-plugins; in the lab Debian's containernetworking-plugins.
    for (const p of CNI_PLUGINS) await copyFile(path.join(CNI_DIR, p), path.join(cluster, 'bin', p));
    const inventoryFile = path.join(cluster, 'inventory.yml');
    const inventory = YAML.parse(readFileSync(inventoryFile, 'utf8'));
    inventory.all.children.kube_master.hosts = { h1: null, h2: null };
    inventory.all.children.kube_node.hosts = { h1: null, h2: null, h3: null };
    writeFileSync(inventoryFile, YAML.stringify(inventory));
    // The lab's own sandbox image (no registry is reachable), imported below.
    writeFileSync(path.join(cluster, 'config.yml'), `${readFileSync(path.join(cluster, 'config.yml'), 'utf8')}\nversions:\n  kubernetes: 1.20.2\nSANDBOX_IMAGE: ${LAB_PAUSE_IMAGE}\n`);
    const inv = await loadInventory(labInventory);
    for (const h of HOSTS) address[h] = String(hostVars(inv, h).ansible_host);
    await hosts.connect(labInventory, HOSTS, cwd);
  }, 900_000);

  afterAll(async () => {
    process.stdout.write(`kube-cluster lab timings (s): ${JSON.stringify(timings)}\n`);
    await hosts.close();
    await furrow(['lab', 'down', '--name', NAME], { cwd });
    rmSync(cwd, { recursive: true, force: true });
  }, 120_000);

  test('deploy all: 3 nodes Ready, labelled with their roles; the wait said what it waited for', async () => {
    const r = await deployAll('first');
    expectExit(r, 0);
    expect(Object.keys(recap(r.stdout)).sort()).toEqual(HOSTS);
    const nodes = await kubectlJson<{ items: Array<{ metadata: { name: string; labels: Record<string, string> }; spec: { podCIDR?: string; unschedulable?: boolean }; status: { conditions: Array<{ type: string; status: string }> } }> }>('get nodes');
    expect(nodes.items.map((n) => [n.metadata.name, n.status.conditions.find((c) => c.type === 'Ready')?.status, n.metadata.labels['kubernetes.io/role'], !!n.spec.unschedulable]).sort()).toEqual([
      ['h1', 'True', 'master', false],
      ['h2', 'True', 'master', false],
      ['h3', 'True', 'node', false],
    ]);
    // Each node's temporary bridge network is its own podCIDR, as the controller-manager gave it.
    for (const n of nodes.items) {
      expect(n.spec.podCIDR).toMatch(/^172\.20\.\d+\.0\/24$/);
      expect(JSON.parse(await on(n.metadata.name, 'cat /etc/cni/net.d/99-furrow-bridge.conf')).ipam.subnet).toBe(n.spec.podCIDR);
    }
    expect(new Set(nodes.items.map((n) => n.spec.podCIDR)).size).toBe(3);
    // The kubelet's client certificate is the node's own, and Node authorization knows it.
    const issued = readFileSync(path.join(cluster, 'pki', 'kubelet-h3.crt'));
    expect(new X509Certificate(issued).subject).toBe('O=system:nodes\nCN=system:node:h3');
    expect(await on('h3', 'sha256sum /etc/kubernetes/pki/kubelet.crt | cut -c1-64')).toBe(createHash('sha256').update(issued).digest('hex'));
  }, 1_600_000);

  test("a Deployment of the lab's web image runs; its Service answers on its ClusterIP from the pod's node", async () => {
    const images = imageLayoutTar(Object.values(labImages()));
    for (const h of HOSTS) {
      await hosts.get(h).put('/root/lab-images.tar', { content: images });
      await on(h, '/opt/kube/bin/ctr -n k8s.io images import /root/lab-images.tar >/dev/null');
    }
    const manifest = [
      { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: 'default' }, spec: { replicas: 1, selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'web', image: LAB_WEB_IMAGE, imagePullPolicy: 'Never', ports: [{ containerPort: 80 }] }] } } } },
      { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'default' }, spec: { selector: { app: 'web' }, ports: [{ port: 80, targetPort: 80 }] } },
    ];
    await hosts.get('h1').put('/root/web.yaml', { content: manifest.map((m) => YAML.stringify(m)).join('---\n') });
    await on('h1', `${KUBECTL} apply -f /root/web.yaml >/dev/null && ${KUBECTL} rollout status deployment/web --timeout=180s`);
    const pods = await kubectlJson<{ items: Array<{ metadata: { name: string }; spec: { nodeName: string }; status: { phase: string; podIP: string } }> }>('get pods -l app=web');
    expect(pods.items.map((p) => p.status.phase)).toEqual(['Running']);
    const pod = pods.items[0]!;
    const service = await kubectlJson<{ spec: { clusterIP: string } }>('get service web');
    expect(service.spec.clusterIP).toMatch(/^10\.68\./);
    // kube-proxy's rules take the ClusterIP to the pod: the page names the pod.
    expect(await on(pod.spec.nodeName, `curl -sS --max-time 10 http://${service.spec.clusterIP}/`)).toBe(`furrow lab web: ${pod.metadata.name}`);
  }, 300_000);

  test("a node's credentials get what Node authorization allows, and no more", async () => {
    await hosts.get('h1').put('/root/h3-kubelet.kubeconfig', { content: await on('h3', 'cat /etc/kubernetes/kubelet.kubeconfig') }, { mode: '0600' });
    const canI = (what: string) => on('h1', `/opt/kube/bin/kubectl --kubeconfig=/root/h3-kubelet.kubeconfig auth can-i ${what} || true`);
    expect(await canI('get nodes/h3')).toBe('yes');
    expect(await canI('update nodes/h3 --subresource=status')).toBe('yes');
    expect(await canI('list secrets --all-namespaces')).toBe('no');
    expect(await canI('get secrets/web -n default')).toBe('no');
    expect(await canI('create deployments -n default')).toBe('no');
    expect(await canI('delete namespaces/default')).toBe('no');
  }, 60_000);

  test('a second deploy all changes nothing on any host and restarts no unit', async () => {
    const before = await startTimes();
    const r = await deployAll('re-run');
    expectExit(r, 0);
    expect(r.stdout.split('\n').filter((l) => / changed: /.test(l))).toEqual([]);
    expect(changedCounts(r)).toEqual({ h1: 0, h2: 0, h3: 0 });
    expect(await startTimes()).toEqual(before);
  }, 1_600_000);
});
