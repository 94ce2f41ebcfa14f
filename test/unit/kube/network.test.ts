import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { loadManifest } from '../../../src/bundle/manifest.js';
import { renderRoleTemplate } from '../../support/role-render.js';

/**
 * What the network role (step 06) writes, without a host: the routes network's CNI configuration
 * and its routes script (run here against stand-ins for ip and iptables that record their
 * calls), and flannel's objects for both backends, with the bundle manifest's images.
 */
const HOST = { name: 'n1', groups: { kube_master: ['m1'], kube_node: ['m1', 'n1'], all: ['m1', 'n1'] } };
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('routes: the CNI configuration and the routes script', () => {
  const peers = { rc: 0, stdout_lines: ['172.20.1.0/24 192.0.2.12', '172.20.2.0/24 192.0.2.13'] };

  test("the CNI configuration is a bridge on the node's podCIDR without masquerade, and portmap", () => {
    const conf = JSON.parse(
      renderRoleTemplate('network', 'furrow-routes.conflist.hbs', { network_node_pod_cidr: '172.20.0.0/24' }, HOST),
    );
    expect(conf.plugins.map((p: { type: string }) => p.type)).toEqual(['bridge', 'portmap']);
    expect(conf.plugins[0]).toMatchObject({
      bridge: 'cni0',
      isGateway: true,
      ipMasq: false,
      ipam: { type: 'host-local', ranges: [[{ subnet: '172.20.0.0/24' }]] },
    });
    // kube-node's temporary network's name: pods started on it are released by the same host-local store.
    expect(conf.name).toBe(
      JSON.parse(
        renderRoleTemplate(
          'kube-node',
          'cni-bridge.conf.hbs',
          { kube_node_pod_cidr: { stdout: '172.20.0.0/24' } },
          HOST,
        ),
      ).name,
    );
  });

  /** Runs the rendered script with `ip` and `iptables` stand-ins; returns their calls, one a line. */
  function runScript(
    args: string[],
    routesNow: string[],
    egressRulePresent: boolean,
    vars: Record<string, unknown> = { network_peers: peers },
  ): string[] {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'furrow-routes-'));
    dirs.push(dir);
    const script = path.join(dir, 'furrow-pod-routes');
    writeFileSync(script, renderRoleTemplate('network', 'furrow-pod-routes.sh.hbs', vars, HOST), { mode: 0o755 });
    const log = path.join(dir, 'calls');
    writeFileSync(path.join(dir, 'routes'), routesNow.map((r) => `${r}\n`).join(''));
    const stub = (name: string, body: string) => {
      writeFileSync(path.join(dir, name), `#!/bin/sh\necho "${name} $*" >> ${log}\n${body}\n`);
      chmodSync(path.join(dir, name), 0o755);
    };
    stub('ip', `case "$*" in "-o route show proto 211"|"-6 -o route show proto 211") cat ${dir}/routes ;; esac`);
    // -C answers whether the rule is there; -D succeeds once when it is, so a loop of -D ends.
    for (const iptables of ['iptables', 'ip6tables']) {
      stub(
        iptables,
        `case "$*" in *" -C "*) exit ${egressRulePresent ? 0 : 1} ;; *" -D "*) [ -e ${dir}/deleted ] && exit 1; ` +
          `touch ${dir}/deleted ;; esac`,
      );
    }
    execFileSync('/bin/sh', [script, ...args], { env: { PATH: `${dir}:/usr/bin:/bin` } });
    return readFileSync(log, 'utf8').trim().split('\n');
  }

  const egress = '-s 172.20.0.0/16 ! -d 172.20.0.0/16 -m comment --comment furrow-pod-egress -j MASQUERADE';

  test(
    "it routes each other node's podCIDR to that node, deletes its own routes to nodes that are gone, and adds " +
      'the egress rule once',
    () => {
      const calls = runScript(
        [],
        ['172.20.1.0/24 via 192.0.2.12 dev eth0 proto 211', '172.20.9.0/24 via 192.0.2.19 dev eth0 proto 211'],
        false,
      );
      expect(calls).toEqual([
        'ip route replace 172.20.1.0/24 via 192.0.2.12 proto 211',
        'ip route replace 172.20.2.0/24 via 192.0.2.13 proto 211',
        'ip -o route show proto 211',
        'ip route del 172.20.9.0/24 proto 211',
        `iptables -t nat -C POSTROUTING ${egress}`,
        `iptables -t nat -A POSTROUTING ${egress}`,
      ]);
      // Run again with everything in place: the same routes are replaced in place, nothing deleted or added.
      const again = runScript(
        [],
        ['172.20.1.0/24 via 192.0.2.12 dev eth0 proto 211', '172.20.2.0/24 via 192.0.2.13 dev eth0 proto 211'],
        true,
      );
      expect(again.filter((c) => / del |-A /.test(c))).toEqual([]);
    },
  );

  test('stop removes its routes and the egress rule', () => {
    expect(runScript(['stop'], [], true)).toEqual([
      'ip route flush proto 211',
      `iptables -t nat -D POSTROUTING ${egress}`,
      `iptables -t nat -D POSTROUTING ${egress}`,
    ]);
  });

  test('an IPv6 pod network: ip -6 and ip6tables, for its routes, the routes gone and the egress rule', () => {
    const v6 = {
      CLUSTER_CIDR: 'fd00:10:244::/56',
      network_peers: { rc: 0, stdout_lines: ['fd00:10:244:1::/64 fd46::12'] },
    };
    const egress6 = egress.replaceAll('172.20.0.0/16', 'fd00:10:244::/56');
    expect(
      runScript(
        [],
        ['fd00:10:244:1::/64 via fd46::12 dev eth0 proto 211', 'fd00:10:244:9::/64 via fd46::19'],
        false,
        v6,
      ),
    ).toEqual([
      'ip -6 route replace fd00:10:244:1::/64 via fd46::12 proto 211',
      'ip -6 -o route show proto 211',
      'ip -6 route del fd00:10:244:9::/64 proto 211',
      `ip6tables -t nat -C POSTROUTING ${egress6}`,
      `ip6tables -t nat -A POSTROUTING ${egress6}`,
    ]);
    expect(runScript(['stop'], [], true, v6)).toEqual([
      'ip -6 route flush proto 211',
      `ip6tables -t nat -D POSTROUTING ${egress6}`,
      `ip6tables -t nat -D POSTROUTING ${egress6}`,
    ]);
  });
});

describe("flannel: its objects, for both backends, with the bundle manifest's images", () => {
  interface K8sObject {
    kind: string;
    metadata: { name: string; namespace?: string };
    data?: Record<string, string>;
    spec?: {
      template: {
        spec: {
          initContainers: Array<{ name: string; image: string }>;
          containers: Array<{ name: string; image: string }>;
        };
      };
    };
  }
  const manifestFile = path.resolve('bundle/manifest.yml');
  const versions = (YAML.parse(readFileSync(manifestFile, 'utf8')) as { versions: Record<string, string> }).versions;

  function render(settings: Record<string, unknown>): K8sObject[] {
    const text = renderRoleTemplate(
      'network',
      'kube-flannel.yaml.hbs',
      { versions, CLUSTER_CIDR: '10.244.0.0/16', ...settings },
      HOST,
    );
    return YAML.parseAllDocuments(text)
      .map((d) => d.toJS() as K8sObject)
      .filter(Boolean);
  }
  const netConf = (objects: K8sObject[]) =>
    JSON.parse(objects.find((o) => o.kind === 'ConfigMap')!.data!['net-conf.json']!);

  test('the objects, in an order the API accepts: namespace and account before what uses them', () => {
    expect(render({}).map((o) => `${o.kind} ${o.metadata.namespace ?? ''}/${o.metadata.name}`)).toEqual([
      'Namespace /kube-flannel',
      'ServiceAccount kube-flannel/flannel',
      'ClusterRole /flannel',
      'ClusterRoleBinding /flannel',
      'ConfigMap kube-flannel/kube-flannel-cfg',
      'DaemonSet kube-flannel/kube-flannel-ds',
    ]);
  });

  test('net-conf.json: CLUSTER_CIDR, vxlan by default, DirectRouting when asked, host-gw', () => {
    expect(netConf(render({}))).toEqual({
      Network: '10.244.0.0/16',
      EnableNFTables: false,
      Backend: { Type: 'vxlan' },
    });
    expect(netConf(render({ FLANNEL_DIRECT_ROUTING: true }))).toEqual({
      Network: '10.244.0.0/16',
      EnableNFTables: false,
      Backend: { Type: 'vxlan', DirectRouting: true },
    });
    expect(netConf(render({ FLANNEL_BACKEND: 'host-gw' }))).toEqual({
      Network: '10.244.0.0/16',
      EnableNFTables: false,
      Backend: { Type: 'host-gw' },
    });
    // DirectRouting is vxlan's: host-gw routes directly anyway.
    expect(netConf(render({ FLANNEL_BACKEND: 'host-gw', FLANNEL_DIRECT_ROUTING: true })).Backend).toEqual({
      Type: 'host-gw',
    });
    const cni = JSON.parse(render({}).find((o) => o.kind === 'ConfigMap')!.data!['cni-conf.json']!);
    expect(cni.plugins.map((p: { type: string }) => p.type)).toEqual(['flannel', 'portmap']);
  });

  test('the DaemonSet runs the images the bundle manifest lists, at its versions', async () => {
    const manifest = await loadManifest(manifestFile);
    const bundled = manifest.images.map((i) => i.ref);
    for (const backend of ['vxlan', 'host-gw']) {
      const spec = render({ FLANNEL_BACKEND: backend }).find((o) => o.kind === 'DaemonSet')!.spec!.template.spec;
      const images = Object.fromEntries([...spec.initContainers, ...spec.containers].map((c) => [c.name, c.image]));
      expect(images).toEqual({
        'install-cni-plugin': `docker.io/flannel/flannel-cni-plugin:v${versions.flannel_cni_plugin}`,
        'install-cni': `docker.io/flannel/flannel:v${versions.flannel}`,
        'kube-flannel': `docker.io/flannel/flannel:v${versions.flannel}`,
      });
      for (const image of Object.values(images)) expect(bundled).toContain(image);
    }
  });
});
