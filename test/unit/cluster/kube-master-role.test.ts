import { readFileSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { VarScope } from '../../../src/engine/vars.js';

/**
 * The kube-master and kube-lb templates rendered with the roles' defaults, as a deploy renders
 * them: the flags chosen by Kubernetes version (1.20, what the lab runs, and the bundle's
 * default), the etcd and apiserver addresses, and the settings that are off by default. The
 * flags themselves are checked against each version's upstream flag list by helper tests of
 * step 05's flag reference; v1.20.2's real binaries run them in test/lab/kube-master.lab.test.ts.
 */
const roleDefaults = (role: string) =>
  YAML.parse(readFileSync(path.resolve('roles', role, 'defaults', 'main.yml'), 'utf8')) as Record<string, unknown>;
const hostvars = {
  h1: { ansible_host: '10.0.0.1' },
  h2: { ansible_host: '10.0.0.2' },
  h3: { ansible_host: '10.0.0.3' },
};
const groups = { kube_master: ['h1', 'h2'], kube_node: ['h1', 'h2', 'h3'], etcd: ['h1', 'h2', 'h3'] };

function render(
  role: string,
  template: string,
  vars: Record<string, unknown>,
  host = 'h1',
  hosts: Record<string, Record<string, unknown>> = hostvars,
): string {
  const scope = new VarScope([
    { level: 'role_defaults', vars: roleDefaults(role), source: `roles/${role}/defaults/main.yml` },
    { level: 'inventory', vars: { ...hosts[host], ...vars } },
    { level: 'extra', vars: { inventory_hostname: host, groups, hostvars: hosts } },
  ]);
  return scope.render(readFileSync(path.resolve('roles', role, 'templates', template), 'utf8'), {
    file: `roles/${role}/templates/${template}`,
  });
}

const flags = (unit: string) => [...unit.matchAll(/^\s+(--[a-z0-9-]+)(=\S*)?/gm)].map((m) => m[1]!);
const version = (kubernetes: string) => ({ versions: { kubernetes } });

describe('kube-master unit templates', () => {
  test(
    "1.20: no --insecure-port (insecure serving is gone from 1.20: the flag has no effect), the components' " +
      'insecure ports on loopback only',
    () => {
      const apiserver = render('kube-master', 'kube-apiserver.service.hbs', version('1.20.2'));
      expect(flags(apiserver)).not.toContain('--insecure-port');
      expect(apiserver).toContain(
        '--etcd-servers=https://10.0.0.1:2379,https://10.0.0.2:2379,https://10.0.0.3:2379 \\',
      );
      expect(apiserver).toContain('--bind-address=10.0.0.1 \\');
      expect(apiserver).toContain('--anonymous-auth=false \\');
      expect(apiserver).toContain('--authorization-mode=Node,RBAC \\');
      expect(apiserver).toContain('--service-cluster-ip-range=10.68.0.0/16 \\');
      expect(apiserver).toContain('--service-account-issuer=https://kubernetes.default.svc.cluster.local \\');
      expect(apiserver).not.toContain('audit');
      for (const unit of ['kube-controller-manager', 'kube-scheduler'])
        expect(render('kube-master', `${unit}.service.hbs`, version('1.20.2'))).toContain('--address=127.0.0.1 \\');
    },
  );

  test("1.31 (the bundle's default): none of the flags removed since", () => {
    const apiserver = render('kube-master', 'kube-apiserver.service.hbs', version('1.31.13'));
    expect(flags(apiserver)).not.toContain('--insecure-port');
    for (const unit of ['kube-controller-manager', 'kube-scheduler'])
      expect(flags(render('kube-master', `${unit}.service.hbs`, version('1.31.13')))).not.toContain('--address');
    // Every line but the last continues: a lost backslash would end ExecStart early.
    const exec = apiserver.slice(apiserver.indexOf('ExecStart='), apiserver.indexOf('Restart='));
    expect(
      exec
        .trim()
        .split('\n')
        .slice(0, -1)
        .every((l) => l.endsWith(' \\')),
    ).toBe(true);
  });

  test('controller-manager: CIDRs and service-account key; the CA key only when signing is on', () => {
    const off = render('kube-master', 'kube-controller-manager.service.hbs', version('1.31.13'));
    expect(off).toContain('--allocate-node-cidrs=true \\');
    expect(off).toContain('--cluster-cidr=172.20.0.0/16 \\');
    expect(off).toContain('--use-service-account-credentials=true \\');
    expect(off).toContain('--service-account-private-key-file=/etc/kubernetes/pki/sa.key \\');
    expect(off).not.toContain('ca.key');
    const on = render('kube-master', 'kube-controller-manager.service.hbs', {
      ...version('1.31.13'),
      kube_controller_manager_signing: true,
    });
    expect(on).toContain('--cluster-signing-key-file=/etc/kubernetes/pki/ca.key \\');
    expect(on).toContain('--cluster-signing-duration=8760h \\');
  });

  test('audit and extra flags when asked', () => {
    const unit = render('kube-master', 'kube-apiserver.service.hbs', {
      ...version('1.31.13'),
      kube_apiserver_audit: true,
      kube_apiserver_extra_args: { 'event-ttl': '2h' },
    });
    expect(unit).toContain('--audit-policy-file=/etc/kubernetes/audit-policy.yaml \\');
    expect(unit).toContain('--event-ttl=2h \\');
  });
});

test("kube-lb: loopback 6443 to every master's secure port, with passive health checks", () => {
  const conf = render('kube-lb', 'kube-lb.conf.hbs', {}, 'h3');
  expect(conf).toContain('listen 127.0.0.1:6443;');
  expect(conf.match(/^ +server .*;$/gm)).toEqual([
    '        server 10.0.0.1:6443 max_fails=2 fail_timeout=10s;',
    '        server 10.0.0.2:6443 max_fails=2 fail_timeout=10s;',
  ]);
});

test('IPv6 addresses are bracketed wherever a URL or host:port is written: etcd, the apiserver, kube-lb, ex-lb', () => {
  const v6 = { ...hostvars, h2: { ansible_host: 'fd00::2' } };
  const apiserver = render('kube-master', 'kube-apiserver.service.hbs', version('1.20.2'), 'h2', v6);
  expect(apiserver).toContain('--etcd-servers=https://10.0.0.1:2379,https://[fd00::2]:2379,https://10.0.0.3:2379 \\');
  expect(apiserver).toContain('--advertise-address=fd00::2 \\');
  expect(render('kube-lb', 'kube-lb.conf.hbs', {}, 'h3', v6)).toContain('server [fd00::2]:6443 max_fails=2');
  expect(render('ex-lb', 'ex-lb.conf.hbs', {}, 'h3', v6)).toContain('server [fd00::2]:6443 max_fails=');
  const etcd = render('etcd', 'etcd.service.hbs', {}, 'h2', v6);
  expect(etcd).toContain('--listen-client-urls=https://[fd00::2]:2379,https://127.0.0.1:2379 \\');
  expect(etcd).toContain('--listen-peer-urls=https://[fd00::2]:2380 \\');
  expect(etcd).toContain('--initial-advertise-peer-urls=https://[fd00::2]:2380 \\');
  expect(etcd).toContain('etcd-h2=https://[fd00::2]:2380,');
});
