import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { clusterVars, loadCluster } from '../../../src/cluster/cluster.js';
import { resolveSteps } from '../../../src/cluster/steps.js';
import { repoPort } from '../../../src/cluster/repo-serve.js';

describe('cluster folder', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'furrow-cluster-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('a kubeasz folder: hosts + config.yml; the paths every deploy adds', () => {
    const c = path.join(dir, 'kubeasz');
    mkdirSync(c);
    writeFileSync(path.join(c, 'hosts'), '[etcd]\n10.0.0.1\n');
    writeFileSync(path.join(c, 'config.yml'), 'bin_dir: /usr/local/bin\nntp_servers: []\n');
    const cluster = loadCluster(c);
    expect(cluster.inventory).toBe(path.join(c, 'hosts'));
    expect(clusterVars(cluster, { url: 'http://10.213.1.1:8780', line: 'deb x' })).toEqual({
      bin_dir: '/usr/local/bin',
      ntp_servers: [],
      furrow_cluster_dir: c,
      furrow_pki_dir: path.join(c, 'pki'),
      furrow_bin_dir: path.join(c, 'bin'),
      furrow_repo_url: 'http://10.213.1.1:8780',
      furrow_repo_line: 'deb x',
    });
  });

  test('config.yml is optional; inventory.yml works too', () => {
    const c = path.join(dir, 'native');
    mkdirSync(c);
    writeFileSync(path.join(c, 'inventory.yml'), 'all: {hosts: {h1: {}}}\n');
    expect(loadCluster(c).config).toEqual({});
  });

  test('bad input names the file and place', () => {
    expect(() => loadCluster(path.join(dir, 'nowhere'))).toThrow(/is not a cluster folder/);
    const empty = path.join(dir, 'empty');
    mkdirSync(empty);
    expect(() => loadCluster(empty)).toThrow(/has no inventory[\s\S]*hosts, inventory.yml/);
    const broken = path.join(dir, 'broken');
    mkdirSync(broken);
    writeFileSync(path.join(broken, 'hosts'), '[etcd]\n');
    writeFileSync(path.join(broken, 'config.yml'), 'a: 1\nb: [unclosed\n');
    expect(() => loadCluster(broken)).toThrow(new RegExp(`${path.join(broken, 'config.yml')}:\\d+:\\d+`));
  });

  test('steps by name, by kubeasz number, and all', () => {
    const playbooks = path.join(dir, 'playbooks');
    mkdirSync(playbooks);
    writeFileSync(path.join(playbooks, '01.prepare.yml'), '[]');
    writeFileSync(path.join(playbooks, '02.etcd.yml'), '[]');
    expect(resolveSteps('etcd', playbooks).map((s) => s.name)).toEqual(['etcd']);
    expect(resolveSteps('02', playbooks).map((s) => s.name)).toEqual(['etcd']);
    expect(resolveSteps('1', playbooks).map((s) => s.name)).toEqual(['prepare']);
    expect(resolveSteps('all', playbooks).map((s) => s.number)).toEqual(['01', '02']);
    expect(resolveSteps('90', playbooks)).toHaveLength(2);
    // A list runs in the steps' own order, each once, whatever order it was given in.
    expect(resolveSteps('etcd,01,prepare', playbooks).map((s) => s.name)).toEqual(['prepare', 'etcd']);
    expect(() => resolveSteps('01,bogus', playbooks)).toThrow(/unknown deploy step 'bogus'/);
    expect(() => resolveSteps('master', playbooks)).toThrow(/step 'master' \(04 master\) is not available yet/);
    expect(() => resolveSteps('bogus', playbooks)).toThrow(/unknown deploy step 'bogus'[\s\S]*01 prepare, 02 etcd/);
  });

  test('the repository port is the same on every deploy of a cluster, unless config.yml sets it', () => {
    const a = repoPort({}, '/clusters/prod');
    expect(repoPort({}, '/clusters/prod')).toBe(a);
    expect(a).toBeGreaterThanOrEqual(20000);
    expect(a).toBeLessThan(40000);
    expect(repoPort({}, '/clusters/staging')).not.toBe(a);
    expect(repoPort({ furrow_repo_port: 8780 }, '/clusters/prod')).toBe(8780);
  });
});
