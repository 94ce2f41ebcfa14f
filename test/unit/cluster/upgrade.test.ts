import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { writeBundleTar } from '../../../src/bundle/archive.js';
import { BUNDLE_FORMAT, type BundleBinary, type BundleIndex } from '../../../src/bundle/format.js';
import { newCluster } from '../../../src/cluster/new.js';
import { parseKubeVersion, planUpgrade, upgradeOrder, upgradeProblem } from '../../../src/cluster/upgrade.js';
import { InputError } from '../../../src/engine/errors.js';
import { parseInventoryText } from '../../../src/engine/inventory/index.js';

const running = (...versions: string[]) =>
  versions.map((version, i) => ({ what: `the kubelet of h${i + 1}`, version }));

describe('cluster upgrade: which versions it goes between', () => {
  test('versions: v and plain, a pre-release counts as its release; anything else is not one', () => {
    expect(parseKubeVersion('v1.20.2')).toEqual({ major: 1, minor: 20, patch: 2 });
    expect(parseKubeVersion('1.21.14')).toEqual({ major: 1, minor: 21, patch: 14 });
    expect(parseKubeVersion('v1.22.0-rc.1')).toEqual({ major: 1, minor: 22, patch: 0 });
    for (const bad of ['', '1.20', 'v1.x.2', 'latest', '1.20.2.1'])
      expect([bad, parseKubeVersion(bad)]).toEqual([bad, undefined]);
  });

  test('a patch or the next minor version goes; so does finishing an upgrade that stopped halfway', () => {
    expect(upgradeProblem(running('v1.20.2', 'v1.20.2'), 'v1.20.3')).toBeUndefined();
    expect(upgradeProblem(running('v1.20.2', 'v1.20.15'), 'v1.21.0')).toBeUndefined();
    // Half the kubelets moved already: the rest follow.
    expect(upgradeProblem(running('v1.21.0', 'v1.20.2'), 'v1.21.0')).toBeUndefined();
    // Everything is there: nothing to refuse (the run changes nothing).
    expect(upgradeProblem(running('v1.20.3'), 'v1.20.3')).toBeUndefined();
  });

  test('a skipped minor version is refused, naming the oldest component and the version to go to first', () => {
    expect(upgradeProblem(running('v1.21.3', 'v1.20.2'), 'v1.22.1')).toEqual({
      problem: 'the kubelet of h2 runs v1.20.2: going to v1.22.1 skips v1.21',
      fix: 'Kubernetes moves one minor version at a time: upgrade with a v1.21 bundle first',
    });
  });

  test('a downgrade (any component newer) and a major change are refused', () => {
    expect(upgradeProblem(running('v1.20.2', 'v1.20.4'), 'v1.20.3')?.problem).toBe(
      'the kubelet of h2 runs v1.20.4: newer than v1.20.3',
    );
    expect(upgradeProblem(running('v1.21.0'), 'v1.20.9')?.problem).toBe(
      'the kubelet of h1 runs v1.21.0: newer than v1.20.9',
    );
    expect(upgradeProblem(running('v1.20.2'), 'v2.0.0')?.problem).toBe(
      'the kubelet of h1 runs v1.20.2: going to v2.0.0 changes the major version',
    );
    expect(upgradeProblem(running('unknown'), 'v1.20.3')?.problem).toBe(
      "the kubelet of h1 reports 'unknown', which is not a Kubernetes version",
    );
  });

  test('order: the masters in inventory order, then every kubelet host once, masters first', () => {
    const inventory = parseInventoryText('[kube_master]\nm2\nm1\n[kube_node]\nn3\nm1\nn1\n[etcd]\ne1\n', '/c/hosts');
    expect(upgradeOrder(inventory)).toEqual({ masters: ['m2', 'm1'], kubelets: ['m2', 'm1', 'n3', 'n1'] });
  });
});

describe('cluster upgrade: refusals found in the folder and the bundle, before the API is asked', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'furrow-upgrade-'));
  const cluster = path.join(dir, 'c');
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  newCluster(cluster, { cwd: dir });
  writeFileSync(
    path.join(cluster, 'hosts'),
    '[etcd]\n10.0.0.1\n[kube_master]\n10.0.0.1\n[kube_node]\n10.0.0.1\n10.0.0.2\n[chrony]\n',
  );

  const binary = (name: string, version: string, hosts = 'kube_master'): BundleBinary => ({
    name,
    version,
    arch: 'amd64',
    url: `file:///x/${name}`,
    hosts,
    files: [`bin/amd64/${name}`],
  });
  async function bundle(file: string, binaries: BundleBinary[]): Promise<string> {
    const index: BundleIndex = {
      format: BUNDLE_FORMAT,
      name: 'test',
      created: '2026-12-05T00:00:00Z',
      arches: ['amd64'],
      binaries,
      images: [],
      files: [],
    };
    const from = path.join(dir, `${file}.d`);
    mkdirSync(from, { recursive: true });
    writeFileSync(path.join(from, 'bundle.json'), JSON.stringify(index));
    await writeBundleTar(from, index, path.join(dir, file));
    return path.join(dir, file);
  }
  const k8s = (version: string, without?: string) =>
    ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kubectl', 'kubelet', 'kube-proxy']
      .filter((n) => n !== without)
      .map((n) => binary(n, version));
  async function refusal(file: string): Promise<[string | undefined, string, string | undefined]> {
    try {
      await planUpgrade(cluster, file);
    } catch (err) {
      if (err instanceof InputError)
        return [err.place?.line ? `${err.place.file}:${err.place.line}` : err.place?.file, err.problem, err.fix];
      throw err;
    }
    throw new Error('planUpgrade did not refuse');
  }

  test('no admin kubeconfig: nothing deployed to upgrade', async () => {
    const file = await bundle('ok.tar', k8s('1.20.3'));
    expect(await refusal(file)).toEqual([
      path.join(cluster, 'kubeconfig'),
      'no admin kubeconfig: there is no cluster to upgrade yet',
      'run `furrow deploy all` first',
    ]);
  });

  test('a bundle with no Kubernetes, or without one of its binaries, is refused naming the bundle', async () => {
    writeFileSync(path.join(cluster, 'kubeconfig'), 'apiVersion: v1\n');
    const none = await bundle('none.tar', [binary('etcd', '3.5.16', 'etcd')]);
    expect((await refusal(none)).slice(0, 2)).toEqual([
      none,
      'the bundle carries no Kubernetes (no kube-apiserver, no kubelet)',
    ]);
    const partial = await bundle('partial.tar', k8s('1.20.3', 'kube-proxy'));
    expect((await refusal(partial)).slice(0, 2)).toEqual([
      partial,
      'the bundle carries Kubernetes 1.20.3 without kube-proxy',
    ]);
    const notABundle = path.join(dir, 'not-a-bundle.tar');
    writeFileSync(notABundle, 'hello');
    expect((await refusal(notABundle))[0]).toBe(notABundle);
  });

  test("config.yml pinning another version is refused at that setting's line", async () => {
    const config = path.join(cluster, 'config.yml');
    writeFileSync(config, 'CLUSTER_NETWORK: routes\nversions:\n  kubernetes: 1.20.2\n');
    const file = await bundle('ok2.tar', k8s('1.20.3'));
    const [place, problem, fix] = await refusal(file);
    expect([place, problem, fix]).toEqual([
      `${config}:3`,
      'config.yml pins Kubernetes 1.20.2, and the bundle carries 1.20.3',
      'set versions: {kubernetes: 1.20.3} (or take the setting out), then run the upgrade again',
    ]);
  });
});
