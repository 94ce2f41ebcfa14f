import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadCluster } from '../../../src/cluster/cluster.js';
import { asPort, checkExLbInput, exLbVip } from '../../../src/cluster/ex-lb.js';
import { kubernetesVars } from '../../../src/cluster/kubernetes.js';
import { resolveSteps } from '../../../src/cluster/steps.js';
import { loadInventory } from '../../../src/engine/inventory/index.js';
import { packagePath } from '../../../src/package-root.js';
import { inputErrorOf } from '../../support/errors.js';
import { renderRoleTemplate } from '../../support/role-render.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A cluster folder with an INI inventory (`hosts`) and config.yml. */
async function cluster(hosts: string, config = '') {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'furrow-exlb-input-'));
  dirs.push(dir);
  writeFileSync(path.join(dir, 'hosts'), hosts);
  writeFileSync(path.join(dir, 'config.yml'), config);
  const c = loadCluster(dir);
  return {
    cluster: c,
    inventory: await loadInventory(c.inventory),
    hostsFile: path.join(dir, 'hosts'),
    configFile: path.join(dir, 'config.yml'),
  };
}

const BASE = '[etcd]\n10.0.0.1\n[kube_master]\n10.0.0.1\n10.0.0.2\n[kube_node]\n10.0.0.3\n';
/** kubeasz's own example lines (example/hosts.multi-node), with addresses of this test. */
const KUBEASZ_EX_LB =
  `${BASE}[ex_lb]\n10.0.0.6 LB_ROLE=backup EX_APISERVER_VIP=10.0.0.250 ` +
  `EX_APISERVER_PORT=8443\n10.0.0.7 LB_ROLE=master EX_APISERVER_VIP=10.0.0.250 EX_APISERVER_PORT=8443\n`;

describe('ex-lb: checks before any host is touched', () => {
  test("kubeasz's ex_lb lines pass, and the VIP goes into the apiserver certificate", async () => {
    const { cluster: c, inventory } = await cluster(KUBEASZ_EX_LB);
    expect(() => checkExLbInput(c, inventory)).not.toThrow();
    expect(exLbVip(c, inventory)).toBe('10.0.0.250');
    expect((kubernetesVars(c, inventory).kube_apiserver_cert_sans as { ips: string[] }).ips).toContain('10.0.0.250');
  });

  test('no ex_lb hosts (group missing or empty) pass: the step does nothing', async () => {
    for (const hosts of [BASE, `${BASE}[ex_lb]\n`]) {
      const { cluster: c, inventory } = await cluster(hosts);
      expect(() => checkExLbInput(c, inventory)).not.toThrow();
      expect(exLbVip(c, inventory)).toBeUndefined();
    }
  });

  test(
    'the VIP may be set once in config.yml; a host line overrides it, as the inventory ranks ' + 'above config.yml',
    async () => {
      const { cluster: c, inventory } = await cluster(
        `${BASE}[ex_lb]\n10.0.0.6\n10.0.0.7\n`,
        'EX_APISERVER_VIP: 10.0.0.250\n',
      );
      expect(() => checkExLbInput(c, inventory)).not.toThrow();
      expect(exLbVip(c, inventory)).toBe('10.0.0.250');
      const both = await cluster(
        `${BASE}[ex_lb]\n10.0.0.6 EX_APISERVER_VIP=10.0.0.251\n`,
        'EX_APISERVER_VIP: 10.0.0.250\n',
      );
      expect(exLbVip(both.cluster, both.inventory)).toBe('10.0.0.251');
    },
  );

  test('ex_lb hosts without a VIP name the role default and say what to set', async () => {
    const { cluster: c, inventory } = await cluster(`${BASE}[ex_lb]\n10.0.0.6\n10.0.0.7\n`);
    const err = inputErrorOf(() => checkExLbInput(c, inventory));
    expect(err.problem).toBe(
      'group ex_lb has hosts (10.0.0.6, 10.0.0.7) but no EX_APISERVER_VIP: keepalived needs the virtual ' +
        'address to hold',
    );
    expect(err.fix).toMatch(/set EX_APISERVER_VIP to a free IPv4 address/);
  });

  test('a VIP that is no IPv4 address names the host line that sets it', async () => {
    for (const vip of ['10.0.0.300', 'lb.example.com', 'fd00::250']) {
      const { cluster: c, inventory, hostsFile } = await cluster(`${BASE}[ex_lb]\n10.0.0.6 EX_APISERVER_VIP=${vip}\n`);
      const err = inputErrorOf(() => checkExLbInput(c, inventory));
      expect(err.place).toEqual({ file: hostsFile, line: 9 });
      expect(err.problem).toBe(`EX_APISERVER_VIP "${vip}" is not an IPv4 address`);
    }
  });

  test('a VIP set for the ex_lb group names the group in the inventory', async () => {
    const {
      cluster: c,
      inventory,
      hostsFile,
    } = await cluster(`${BASE}[ex_lb]\n10.0.0.6\n10.0.0.7\n[ex_lb:vars]\nEX_APISERVER_VIP=10.0.0.1\n`);
    const err = inputErrorOf(() => checkExLbInput(c, inventory));
    expect(err.place).toEqual({ file: hostsFile, line: 8 });
    expect(err.problem).toMatch(/^EX_APISERVER_VIP 10\.0\.0\.1 is the address of host 10\.0\.0\.1:/);
  });

  test("a VIP that is a host's own address names config.yml's line and the host", async () => {
    const {
      cluster: c,
      inventory,
      configFile,
    } = await cluster(`${BASE}[ex_lb]\n10.0.0.6\n10.0.0.7\n`, 'CLUSTER_NETWORK: routes\nEX_APISERVER_VIP: 10.0.0.2\n');
    const err = inputErrorOf(() => checkExLbInput(c, inventory));
    expect(err.place).toEqual({ file: configFile, line: 2 });
    expect(err.problem).toMatch(
      /^EX_APISERVER_VIP 10\.0\.0\.2 is the address of host 10\.0\.0\.2: the VIP must be an address no host has/,
    );
    const named = await cluster(
      '[kube_master]\nm1 ansible_host=10.0.0.1\n[ex_lb]\nlb1 ansible_host=10.0.0.6 EX_APISERVER_VIP=10.0.0.1\n',
    );
    expect(inputErrorOf(() => checkExLbInput(named.cluster, named.inventory)).problem).toMatch(
      /^EX_APISERVER_VIP 10\.0\.0\.1 is the address of host m1:/,
    );
  });

  test('ex_lb hosts that disagree on the VIP or the port are refused', async () => {
    const vips = await cluster(
      `${BASE}[ex_lb]\n10.0.0.6 EX_APISERVER_VIP=10.0.0.250\n10.0.0.7 EX_APISERVER_VIP=10.0.0.251\n`,
    );
    const err = inputErrorOf(() => checkExLbInput(vips.cluster, vips.inventory));
    expect(err.place).toEqual({ file: vips.hostsFile, line: 10 });
    expect(err.problem).toBe(
      'EX_APISERVER_VIP is "10.0.0.251" on ex_lb host 10.0.0.7 but "10.0.0.250" on 10.0.0.6: the ex_lb hosts share ' +
        'one VIP, port and VRRP router id',
    );
    const ports = await cluster(
      `${BASE}[ex_lb]\n10.0.0.6 EX_APISERVER_PORT=8443\n10.0.0.7\n`,
      'EX_APISERVER_VIP: 10.0.0.250\nEX_APISERVER_PORT: 9443\n',
    );
    expect(inputErrorOf(() => checkExLbInput(ports.cluster, ports.inventory)).problem).toMatch(
      /^EX_APISERVER_PORT is 9443 on ex_lb host 10\.0\.0\.7 but "?8443"? on 10\.0\.0\.6/,
    );
  });

  test(
    "EX_APISERVER_PORT must be a port, and not the apiservers' port on an ex_lb host that is " + 'a master or node',
    async () => {
      for (const port of ['0', '65536', 'https', '84.43']) {
        const { cluster: c, inventory } = await cluster(
          `${BASE}[ex_lb]\n10.0.0.6\n`,
          `EX_APISERVER_VIP: 10.0.0.250\nEX_APISERVER_PORT: "${port}"\n`,
        );
        expect(inputErrorOf(() => checkExLbInput(c, inventory)).problem).toBe(
          `EX_APISERVER_PORT "${port}" is not a TCP port (1-65535)`,
        );
      }
      // 6443 on a host of its own is fine; on a master (kube-lb and the apiserver are there) it is not.
      const own = await cluster(
        `${BASE}[ex_lb]\n10.0.0.6\n`,
        'EX_APISERVER_VIP: 10.0.0.250\nEX_APISERVER_PORT: 6443\n',
      );
      expect(() => checkExLbInput(own.cluster, own.inventory)).not.toThrow();
      const shared = await cluster(
        `${BASE}[ex_lb]\n10.0.0.6\n10.0.0.3\n`,
        'EX_APISERVER_VIP: 10.0.0.250\nEX_APISERVER_PORT: 6443\n',
      );
      const err = inputErrorOf(() => checkExLbInput(shared.cluster, shared.inventory));
      expect(err.place).toEqual({ file: shared.configFile, line: 2 });
      expect(err.problem).toBe(
        'EX_APISERVER_PORT 6443 on ex_lb host 10.0.0.3: that host is also a master or node, where kube-lb and the ' +
          'apiserver hold port 6443',
      );
    },
  );

  test('ex_lb hosts with no masters to forward to name the ex_lb group', async () => {
    const {
      cluster: c,
      inventory,
      hostsFile,
    } = await cluster('[etcd]\n10.0.0.1\n[kube_master]\n[ex_lb]\n10.0.0.6\n', 'EX_APISERVER_VIP: 10.0.0.250\n');
    const err = inputErrorOf(() => checkExLbInput(c, inventory));
    expect(err.place).toEqual({ file: hostsFile, line: 4 });
    expect(err.problem).toBe(
      "group ex_lb has hosts (10.0.0.6) but kube_master has none: the proxy forwards to the masters' apiservers",
    );
  });

  test('LB_ROLE is master or backup, master on one host at most; ROUTER_ID is 1-255', async () => {
    const bad = await cluster(`${BASE}[ex_lb]\n10.0.0.6 LB_ROLE=primary\n`, 'EX_APISERVER_VIP: 10.0.0.250\n');
    expect(inputErrorOf(() => checkExLbInput(bad.cluster, bad.inventory)).problem).toBe(
      'LB_ROLE "primary" on ex_lb host 10.0.0.6: it is master or backup',
    );
    const two = await cluster(
      `${BASE}[ex_lb]\n10.0.0.6 LB_ROLE=master\n10.0.0.7 LB_ROLE=master\n`,
      'EX_APISERVER_VIP: 10.0.0.250\n',
    );
    const err = inputErrorOf(() => checkExLbInput(two.cluster, two.inventory));
    expect(err.place).toEqual({ file: two.hostsFile, line: 10 });
    expect(err.problem).toMatch(/^LB_ROLE=master on 2 ex_lb hosts \(10\.0\.0\.6, 10\.0\.0\.7\)/);
    const router = await cluster(`${BASE}[ex_lb]\n10.0.0.6\n`, 'EX_APISERVER_VIP: 10.0.0.250\nROUTER_ID: 256\n');
    expect(inputErrorOf(() => checkExLbInput(router.cluster, router.inventory)).problem).toBe(
      'ROUTER_ID 256 is not a VRRP router id (1-255)',
    );
  });

  test('ports as numbers or INI text', () => {
    expect([
      asPort(8443),
      asPort('8443'),
      asPort(' 8443 '),
      asPort('8443a'),
      asPort(0),
      asPort(70000),
      asPort(undefined),
    ]).toEqual([8443, 8443, 8443, undefined, undefined, undefined, undefined]);
  });
});

describe('ex-lb: step 10', () => {
  test('is `ex-lb` or `10`, and part of `all`', () => {
    const playbooks = packagePath('playbooks');
    expect(resolveSteps('ex-lb', playbooks).map((s) => s.name)).toEqual(['ex-lb']);
    expect(resolveSteps('10', playbooks).map((s) => path.basename(s.playbook))).toEqual(['10.ex-lb.yml']);
    expect(resolveSteps('all', playbooks).map((s) => s.number)).toEqual([
      '01',
      '02',
      '03',
      '04',
      '05',
      '06',
      '07',
      '10',
    ]);
  });
});

describe('ex-lb: templates', () => {
  const groups = { kube_master: ['m1', 'm2'], ex_lb: ['lb1', 'lb2', 'lb3'] };
  const hostvars = {
    m1: { ansible_host: '10.0.0.1' },
    m2: { ansible_host: '10.0.0.2' },
    lb1: { ansible_host: '10.0.0.6' },
    lb2: { ansible_host: '10.0.0.7', LB_ROLE: 'master' },
    lb3: { ansible_host: '10.0.0.8', LB_ROLE: 'backup' },
  };
  const settings = (host: string, more: Record<string, unknown> = {}) => ({
    ...hostvars[host as keyof typeof hostvars],
    EX_APISERVER_VIP: '10.0.0.250',
    ex_lb_found_interface: { stdout: 'eth0' },
    ...more,
  });
  const keepalived = (host: string, more: Record<string, unknown> = {}, g: Record<string, string[]> = groups) =>
    renderRoleTemplate('ex-lb', 'keepalived.conf.hbs', settings(host, more), { name: host, groups: g, hostvars });
  const peers = (conf: string) => /unicast_peer \{\n([^}]*)\}/.exec(conf)![1]!.trim().split(/\s+/);
  const field = (conf: string, name: string) => new RegExp(`^\\s*${name} (.+)$`, 'm').exec(conf)?.[1];

  test(
    'keepalived: unicast from this host to every other ex_lb host; LB_ROLE=master starts as MASTER with the ' +
      'higher priority',
    () => {
      const lb2 = keepalived('lb2');
      expect([
        field(lb2, 'state'),
        field(lb2, 'priority'),
        field(lb2, 'unicast_src_ip'),
        field(lb2, 'interface'),
        field(lb2, 'virtual_router_id'),
        peers(lb2),
      ]).toEqual(['MASTER', '150', '10.0.0.7', 'eth0', '222', ['10.0.0.6', '10.0.0.8']]);
      expect(lb2).toContain('10.0.0.250/32 dev eth0');
      expect(lb2).toMatch(/track_script \{\s*ex_lb_proxy\s*\}/);
      expect(lb2).toMatch(/vrrp_script ex_lb_proxy \{\s*script "\/etc\/ex-lb\/check-ex-lb\.sh"/);
      for (const host of ['lb1', 'lb3']) {
        const conf = keepalived(host);
        expect([host, field(conf, 'state'), field(conf, 'priority'), peers(conf).length]).toEqual([
          host,
          'BACKUP',
          '100',
          2,
        ]);
      }
    },
  );

  test('keepalived: without LB_ROLE the first ex_lb host is MASTER; ROUTER_ID and priorities are settings', () => {
    const plain = { lb1: { ansible_host: '10.0.0.6' }, lb2: { ansible_host: '10.0.0.7' } };
    const render = (host: string, more: Record<string, unknown> = {}) =>
      renderRoleTemplate(
        'ex-lb',
        'keepalived.conf.hbs',
        { ...plain[host as 'lb1'], EX_APISERVER_VIP: '10.0.0.250', ex_lb_found_interface: { stdout: 'ens3' }, ...more },
        { name: host, groups: { kube_master: ['m1'], ex_lb: ['lb1', 'lb2'] }, hostvars: plain },
      );
    expect([field(render('lb1'), 'state'), field(render('lb2'), 'state')]).toEqual(['MASTER', 'BACKUP']);
    expect(peers(render('lb1'))).toEqual(['10.0.0.7']);
    const tuned = render('lb2', { ROUTER_ID: 51, ex_lb_priority: 120 });
    expect([field(tuned, 'virtual_router_id'), field(tuned, 'priority')]).toEqual(['51', '120']);
  });

  test(
    'the proxy listens on EX_APISERVER_PORT and forwards to every master on SECURE_PORT; the check ' +
      'probes that port',
    () => {
      const conf = renderRoleTemplate('ex-lb', 'ex-lb.conf.hbs', settings('lb1', { EX_APISERVER_PORT: 9443 }), {
        name: 'lb1',
        groups,
        hostvars,
      });
      expect(conf.match(/^\s*server \S+:\d+ .*$/gm)!.map((l) => l.trim())).toEqual([
        'server 10.0.0.1:6443 max_fails=2 fail_timeout=10s;',
        'server 10.0.0.2:6443 max_fails=2 fail_timeout=10s;',
      ]);
      expect(conf).toMatch(/^\s*listen 9443;$/m);
      expect(conf).toContain('pid /run/ex-lb.pid;');
      const check = renderRoleTemplate('ex-lb', 'check-ex-lb.sh.hbs', settings('lb1', { EX_APISERVER_PORT: 9443 }), {
        name: 'lb1',
        groups,
        hostvars,
      });
      expect(check).toContain("/dev/tcp/127.0.0.1/9443'");
    },
  );
});
