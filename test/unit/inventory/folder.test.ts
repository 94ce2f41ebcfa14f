import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { groupsMap, hostVars, loadInventory } from '../../../src/engine/inventory/index.js';

const fixture = (name: string) => path.resolve('test/fixtures/inventory', name);

describe('inventory folder', () => {
  test(
    'reads every inventory file in name order; skips README.md and a YAML file that is ' + 'not an inventory',
    async () => {
      const inv = await loadInventory(fixture('folder'));
      expect(inv.source).toBe(fixture('folder'));
      expect([...inv.hosts.keys()]).toEqual(['e1', 'e2', 'm1', 'n1', 'n2']);
      expect([...inv.groups.keys()]).toEqual([
        'all',
        'ungrouped',
        'etcd',
        'kube_master',
        'kube_node',
        'k8s',
        'monitoring',
      ]);
      expect(inv.hosts.get('n1')!.groups).toEqual(['kube_node', 'monitoring']);
      expect(groupsMap(inv).k8s).toEqual(['m1', 'n1', 'n2']);
    },
  );

  test(
    'group_vars: a folder of files merges in name order; no extension wins over .yml; unknown ' + 'names are ignored',
    async () => {
      const inv = await loadInventory(fixture('folder'));
      expect(inv.groups.get('kube_node')!.fileVars).toEqual({ kubelet_root: '/var/lib/kubelet', node_only: 'file-20' });
      expect(inv.groups.get('kube_node')!.vars).toEqual({ level: 'kube_node-inline', node_only: 'inline' });
      expect(inv.groups.get('etcd')!.fileVars).toEqual({ etcd_data_dir: '/var/lib/etcd' });
      expect(inv.groups.get('all')!.fileVars).toEqual({ level: 'all-file', ntp_server: '10.10.0.1' });
      expect(inv.groups.has('no_such_group')).toBe(false);
    },
  );

  test('host_vars: file and folder forms land in the host vars, over the inventory line', async () => {
    const inv = await loadInventory(fixture('folder'));
    expect(inv.hosts.get('n1')!.vars).toEqual({ scrape: true, node_only: 'host-file' });
    expect(inv.hosts.get('n2')!.vars).toEqual({ disk: 'nvme0n1', ip: '10.0.0.2' });
  });

  test('Ansible precedence across sources: group_vars/all.yml beats an inline [kube_node:vars]', async () => {
    const inv = await loadInventory(fixture('folder'));
    expect(hostVars(inv, 'n2')).toEqual({
      level: 'all-file',
      node_only: 'file-20',
      ntp_server: '10.10.0.1',
      kubelet_root: '/var/lib/kubelet',
      disk: 'nvme0n1',
      ip: '10.0.0.2',
      inventory_hostname: 'n2',
      inventory_hostname_short: 'n2',
      group_names: ['k8s', 'kube_node'],
    });
  });

  test('a single file picks up group_vars/ and host_vars/ beside it', async () => {
    const inv = await loadInventory(fixture('folder/01-hosts.ini'));
    expect([...inv.hosts.keys()]).toEqual(['e1', 'e2', 'm1', 'n1', 'n2']);
    expect(inv.groups.has('monitoring')).toBe(false);
    expect(hostVars(inv, 'e1').etcd_data_dir).toBe('/var/lib/etcd');
    expect(hostVars(inv, 'n1').node_only).toBe('host-file');
  });

  test('a broken vars file is reported at its own file:line:column', async () => {
    const file = fixture('bad/vars-file/group_vars/all.yml');
    await expect(loadInventory(fixture('bad/vars-file/hosts'))).rejects.toThrow(
      `${file}:2:9: '[' opened here is never closed`,
    );
  });

  describe('in a scratch folder', () => {
    let dir: string;
    beforeEach(() => {
      dir = mkdtempSync(path.join(os.tmpdir(), 'furrow-inventory-'));
    });
    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    test('a missing path and an empty folder are input errors', async () => {
      await expect(loadInventory(path.join(dir, 'nope'))).rejects.toThrow(
        `inventory '${path.join(dir, 'nope')}' does not exist`,
      );
      await expect(loadInventory(dir)).rejects.toThrow(`${dir}: no inventory files in this folder`);
    });

    test('subfolders are read too; hidden files, backups and .cfg are skipped', async () => {
      mkdirSync(path.join(dir, 'sub'));
      writeFileSync(path.join(dir, 'sub', 'more.ini'), '[b]\nh2\n');
      writeFileSync(path.join(dir, 'a.ini'), '[a]\nh1\n');
      writeFileSync(path.join(dir, '.hidden'), '[x]\nbad line here\n');
      writeFileSync(path.join(dir, 'a.ini~'), '[x]\nbad line here\n');
      writeFileSync(path.join(dir, 'ansible.cfg'), '[defaults]\nforks = 10\n');
      const inv = await loadInventory(dir);
      expect([...inv.hosts.keys()]).toEqual(['h1', 'h2']);
      expect([...inv.groups.keys()]).toEqual(['all', 'ungrouped', 'a', 'b']);
    });

    test('dynamic inventory scripts are refused with a way out', async () => {
      writeFileSync(path.join(dir, 'inv.py'), '#!/usr/bin/env python3\nprint("{}")\n');
      await expect(loadInventory(path.join(dir, 'inv.py'))).rejects.toThrow(
        `${path.join(dir, 'inv.py')}:1: dynamic inventory scripts are not supported`,
      );
    });
  });
});
