import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadCluster, resolveInventoryArg } from '../../../src/cluster/cluster.js';
import { furrow } from '../../lab/support.js';
import { countingHost, type CountingHost } from '../counting-host.js';

// One rule for -i (docs/cli.md, "What -i names"): a cluster folder or its inventory file is the
// cluster; anything else is an inventory as Ansible reads it.
describe('what -i names', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'furrow-inventory-arg-'));
  const cluster = path.join(dir, 'lab');
  const ansibleFolder = path.join(dir, 'inventory');
  let target: CountingHost;

  beforeAll(async () => {
    // A host that counts connections: proof that the inventory was read and a host was tried.
    target = await countingHost();
    mkdirSync(path.join(cluster, 'bin'), { recursive: true });
    writeFileSync(
      path.join(cluster, 'hosts'),
      `[etcd]\nh1 ${target.hostVars}\n\n[local]\nme ansible_connection=local\n`,
    );
    writeFileSync(path.join(cluster, 'config.yml'), 'GREETING: hello from config.yml\n');
    // What made `exec etcd -i clusters/lab` fail: read as an inventory folder, every file is a source.
    writeFileSync(path.join(cluster, 'bin', 'README'), 'Binaries for the hosts: not an inventory.\n');
    writeFileSync(
      path.join(cluster, 'say.yml'),
      '- hosts: local\n  gather_facts: false\n  tasks:\n    - debug: {msg: "{{ GREETING }}"}\n',
    );
    mkdirSync(path.join(ansibleFolder, 'group_vars'), { recursive: true });
    writeFileSync(path.join(ansibleFolder, 'hosts'), '[web]\nw1\n');
    writeFileSync(path.join(ansibleFolder, 'group_vars', 'web.yml'), 'x: 1\n');
  });

  afterAll(async () => {
    await target.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('a cluster folder and its inventory file are the cluster; an Ansible inventory folder stays one', () => {
    expect(resolveInventoryArg(cluster)).toEqual({
      inventory: path.join(cluster, 'hosts'),
      cluster: expect.objectContaining({ dir: cluster, config: { GREETING: 'hello from config.yml' } }),
    });
    expect(resolveInventoryArg(path.join(cluster, 'hosts')).cluster?.dir).toBe(cluster);
    expect(resolveInventoryArg(ansibleFolder)).toEqual({ inventory: ansibleFolder });
    expect(resolveInventoryArg(path.join(ansibleFolder, 'hosts'))).toEqual({
      inventory: path.join(ansibleFolder, 'hosts'),
    });
    expect(loadCluster(path.join(cluster, 'hosts')).dir).toBe(cluster);
  });

  test(
    'exec -i <cluster folder> reads its inventory file (bin/README is no inventory) ' + 'and tries the host',
    async () => {
      target.reset();
      const r = await furrow(['exec', 'etcd', '-i', cluster, '--', 'hostname'], { cwd: dir, timeoutMs: 60_000 });
      expect(r.stderr).not.toMatch(/README/);
      expect(r.code).toBe(3);
      expect(r.stdout).toMatch(/h1\s+unreachable/);
      expect(target.connections).toBeGreaterThan(0);
    },
  );

  test("run -i <cluster folder> sees the cluster's config.yml settings", async () => {
    const r = await furrow(['run', path.join(cluster, 'say.yml'), '-i', cluster], { cwd: dir, timeoutMs: 60_000 });
    expect([r.code, r.stdout]).toEqual([0, expect.stringContaining('hello from config.yml')]);
  });
});
