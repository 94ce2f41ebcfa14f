import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { copyFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { imageLayoutTar, LAB_PAUSE_IMAGE, LAB_WEB_IMAGE, labImages } from '../../src/lab/images.js';
import { unpackDebs } from '../support/deb-files.js';
import { describeLab, expectExit, furrow, LabHosts, labKubernetesBin, labTestName } from './support.js';

/**
 * Lab hosts run containers and pods, as `furrow lab up` makes them (no extra flag): containerd
 * deployed by `furrow deploy runtime` with the settings `furrow new --from-lab` writes, the lab's
 * images (built from busybox-static) imported with ctr, a container run with `ctr run`, and a pod
 * run by a kubelet (v1.20.2, built from Debian's source) as a static pod on each of two hosts, on
 * bridge + host-local CNI from Debian's containernetworking-plugins. Everything is checked on the
 * hosts, the way a user would: ctr's output, the kubelet's read-only API, HTTP to the pod's IP.
 * Not proven here: a kubelet joined to an API server (the kube-master/kube-node steps do that).
 */
const NAME = labTestName('t-ctr');
const HOSTS = ['h1', 'h2'] as const;
/** The kubelet `furrow lab kubernetes` builds. */
const kubelet = () => path.join(labKubernetesBin(), 'kubelet');
/** Debian's containernetworking-plugins on the controller. */
const CNI_DIR = '/usr/lib/cni';

/**
 * An HTTP GET with bash's /dev/tcp (lab hosts have no curl; sh is dash, which has no /dev/tcp): the whole response,
 * headers and body.
 */
const httpGet = (address: string, port: number, urlPath: string) =>
  `bash -c "exec 3<>/dev/tcp/${address}/${port} && printf 'GET ${urlPath} HTTP/1.0\\r\\nHost: ` +
  `${address}\\r\\n\\r\\n' >&3 && timeout 10 cat <&3"`;

const body = (response: string) =>
  response
    .split(/\r?\n\r?\n/)
    .slice(1)
    .join('\n\n');

describeLab('lab hosts run containers and pods', () => {
  const cwd = mkdtempSync(path.join(os.tmpdir(), 'furrow-containers-lab-'));
  const cluster = path.join(cwd, 'cluster');
  const labInventory = path.join(cwd, '.furrow', `lab-${NAME}`, 'inventory.yml');
  const hosts = new LabHosts();
  const on = hosts.on;

  beforeAll(async () => {
    const [up, debs] = await Promise.all([
      furrow(['lab', 'up', '--hosts', String(HOSTS.length), '--name', NAME], { cwd }),
      unpackDebs(['containerd', 'runc']),
    ]);
    try {
      expectExit(up, 0);
      expectExit(await furrow(['new', cluster, '--from-lab', NAME], { cwd }), 0);
      const bin = path.join(cluster, 'bin');
      mkdirSync(bin, { recursive: true });
      const fromDebian = {
        containerd: 'usr/bin/containerd',
        'containerd-shim-runc-v2': 'usr/bin/containerd-shim-runc-v2',
        ctr: 'usr/bin/ctr',
        runc: 'usr/sbin/runc',
      };
      for (const [name, file] of Object.entries(fromDebian))
        await copyFile(path.join(debs.root, file), path.join(bin, name));
    } finally {
      await debs.done();
    }
    const { pause, web } = labImages();
    const imagesTar = imageLayoutTar([pause, web]);
    await hosts.connect(labInventory, HOSTS, cwd);
    for (const h of HOSTS) {
      await hosts.get(h).put('/root/lab-images.tar', { content: imagesTar });
      await on(h, 'mkdir -p /opt/kube/bin /opt/cni/bin');
      await hosts.get(h).put('/opt/kube/bin/kubelet', { path: kubelet() }, { mode: 0o755 });
      for (const plugin of ['bridge', 'host-local', 'loopback'])
        await hosts.get(h).put(`/opt/cni/bin/${plugin}`, { path: path.join(CNI_DIR, plugin) }, { mode: 0o755 });
    }
  }, 600_000);

  afterAll(async () => {
    await hosts.close();
    await furrow(['lab', 'down', '--name', NAME], { cwd });
    rmSync(cwd, { recursive: true, force: true });
  }, 120_000);

  test(
    'each host has writable cgroup controllers of its own and /dev/kmsg (the keyring calls runc ' +
      'needs: ctr run below)',
    async () => {
      for (const h of HOSTS) {
        expect(await on(h, 'systemctl is-active furrow-lab-containers.service')).toBe('active');
        // Every cgroup v1 controller is mounted read-write (nspawn mounts them read-only).
        const v1 = (await on(h, 'findmnt -rn -t cgroup -o TARGET,OPTIONS | grep -v name=systemd || true'))
          .split('\n')
          .filter(Boolean);
        expect(v1.length).toBeGreaterThan(0);
        for (const line of v1) expect(line).toMatch(/ rw,/);
        expect(await on(h, 'readlink /dev/kmsg')).toBe('/dev/console');
      }
      // A cgroup made on h1 is not seen on h2: each host's tree is its own (one kubelet cannot end
      // another host's pods as orphans).
      await on('h1', 'mkdir -p /sys/fs/cgroup/memory/furrow-probe /sys/fs/cgroup/pids/furrow-probe');
      expect(
        await on(
          'h2',
          'ls -d /sys/fs/cgroup/memory/furrow-probe /sys/fs/cgroup/pids/furrow-probe 2>/dev/null || echo none',
        ),
      ).toBe('none');
      await on('h1', 'rmdir /sys/fs/cgroup/memory/furrow-probe /sys/fs/cgroup/pids/furrow-probe');
    },
  );

  test('deploy runtime with the lab settings from new --from-lab: cgroupfs, native snapshotter, ' +
    'restricted oom_score_adj', async () => {
    const config = readFileSync(path.join(cluster, 'config.yml'), 'utf8');
    expect(config).toMatch(/^CGROUP_DRIVER: cgroupfs$/m);
    expect(config).toMatch(/^containerd_snapshotter: native$/m);
    expect(config).toMatch(/^containerd_restrict_oom_score_adj: true$/m);
    const r = await furrow(['deploy', 'runtime', '-i', cluster, '-e', `SANDBOX_IMAGE=${LAB_PAUSE_IMAGE}`], {
      cwd,
      timeoutMs: 300_000,
    });
    expectExit(r, 0);
    for (const h of HOSTS) {
      expect(await on(h, 'systemctl is-active containerd.service')).toBe('active');
      const toml = await on(h, 'cat /etc/containerd/config.toml');
      expect(toml).toMatch(/^\s*restrict_oom_score_adj = true$/m);
      expect(toml).toMatch(/^\s*SystemdCgroup = false$/m);
      expect(toml).toMatch(/^\s*snapshotter = "native"$/m);
    }
  }, 300_000);

  test('the lab images import with ctr, and a container runs with ctr run in its own cgroups', async () => {
    for (const h of HOSTS) {
      await on(h, '/opt/kube/bin/ctr -n k8s.io images import /root/lab-images.tar');
      const images = await on(h, '/opt/kube/bin/ctr -n k8s.io images ls -q');
      expect(images.split('\n')).toEqual(expect.arrayContaining([LAB_PAUSE_IMAGE, LAB_WEB_IMAGE]));
      const out = await on(
        h,
        `/opt/kube/bin/ctr -n k8s.io run --rm ` +
          `--snapshotter native ${LAB_WEB_IMAGE} furrow-hello /bin/sh -c 'echo "hello from a container on ` +
          `$(hostname)"; grep -E ":(memory|pids):" /proc/self/cgroup'`,
      );
      expect(out.split('\n')[0]).toBe(`hello from a container on ${h}`);
      expect(out).toMatch(/:memory:\/k8s\.io\/furrow-hello$/m);
      expect(out).toMatch(/:pids:\/k8s\.io\/furrow-hello$/m);
      expect(await on(h, '/opt/kube/bin/ctr -n k8s.io containers ls -q')).toBe('');
    }
  }, 120_000);

  test('a kubelet runs a static pod of the web image on each host; it answers HTTP on its pod IP', async () => {
    for (const [i, h] of HOSTS.entries()) {
      const conn = hosts.get(h);
      await on(h, 'mkdir -p /etc/kubernetes/manifests /etc/cni/net.d');
      await conn.put('/etc/cni/net.d/10-lab-pods.conflist', {
        content: JSON.stringify({
          cniVersion: '0.4.0',
          name: 'lab-pods',
          plugins: [
            {
              type: 'bridge',
              bridge: 'cni0',
              isGateway: true,
              ipMasq: false,
              ipam: { type: 'host-local', ranges: [[{ subnet: `10.244.${i + 1}.0/24` }]] },
            },
          ],
        }),
      });
      await conn.put('/etc/kubernetes/kubelet.yaml', {
        content: [
          'apiVersion: kubelet.config.k8s.io/v1beta1',
          'kind: KubeletConfiguration',
          'cgroupDriver: cgroupfs',
          'staticPodPath: /etc/kubernetes/manifests',
          'failSwapOn: false',
          'readOnlyPort: 10255',
          'authentication: {anonymous: {enabled: true}, webhook: {enabled: false}}',
          'authorization: {mode: AlwaysAllow}',
          '',
        ].join('\n'),
      });
      await conn.put('/etc/kubernetes/manifests/web.yaml', {
        content:
          `apiVersion: v1\nkind: Pod\nmetadata: {name: web, namespace: default}\nspec:\n  containers:\n  - ` +
          `name: web\n    image: ${LAB_WEB_IMAGE}\n    imagePullPolicy: Never\n`,
      });
      await on(
        h,
        'systemd-run --unit=kubelet /opt/kube/bin/kubelet --config=/etc/kubernetes/kubelet.yaml ' +
          '--container-runtime=remote ' +
          '--container-runtime-endpoint=unix:///run/containerd/containerd.sock --network-plugin=cni ' +
          '--cni-bin-dir=/opt/cni/bin ' +
          `--cni-conf-dir=/etc/cni/net.d --pod-infra-container-image=${LAB_PAUSE_IMAGE} --hostname-override=${h}`,
      );
    }

    /** The static pod as the host's kubelet reports it (its read-only API), once it runs with an IP. */
    const runningPod = async (h: string): Promise<{ ip: string; restarts: number; sandbox: string }> => {
      const deadline = Date.now() + 120_000;
      let last = '';
      while (Date.now() < deadline) {
        last = await on(h, `${httpGet('127.0.0.1', 10255, '/pods')} || true`);
        // Before its first pod the kubelet answers `"items": null`.
        const pods =
          (
            JSON.parse(body(last) || '{"items":[]}') as {
              items:
                | null
                | {
                    metadata: { name: string };
                    status: {
                      phase?: string;
                      podIP?: string;
                      containerStatuses?: { restartCount: number; ready: boolean }[];
                    };
                  }[];
            }
          ).items ?? [];
        const pod = pods.find((p) => p.metadata.name === `web-${h}`);
        if (pod?.status.phase === 'Running' && pod.status.podIP && pod.status.containerStatuses?.[0]?.ready) {
          const sandbox = await on(h, "/opt/kube/bin/ctr -n k8s.io containers ls -q | sort | tr '\\n' ' '");
          return { ip: pod.status.podIP, restarts: pod.status.containerStatuses[0].restartCount, sandbox };
        }
        await new Promise((r) => setTimeout(r, 2000));
      }
      const journal = await on(h, 'journalctl -u kubelet -n 30 --no-pager || true');
      throw new Error(
        `${h}: pod web-${h} not running within 120 s; ` +
          `kubelet's /pods said: ${last.slice(-1500)}\nits journal:\n${journal}`,
      );
    };

    const first = Object.fromEntries(await Promise.all(HOSTS.map(async (h) => [h, await runningPod(h)] as const)));
    for (const [i, h] of HOSTS.entries()) {
      expect(first[h]!.ip).toMatch(new RegExp(`^10\\.244\\.${i + 1}\\.\\d+$`));
      // The page names the pod: its hostname is the pod's name.
      expect(body(await on(h, httpGet(first[h]!.ip, 80, '/')))).toBe(`furrow lab web: web-${h}`);
    }
    // Both kubelets keep housekeeping (every few seconds): neither ends the other's pod.
    await new Promise((r) => setTimeout(r, 15_000));
    for (const h of HOSTS) {
      expect(await runningPod(h)).toEqual(first[h]);
      expect(body(await on(h, httpGet(first[h]!.ip, 80, '/')))).toBe(`furrow lab web: web-${h}`);
    }
  }, 400_000);
});
