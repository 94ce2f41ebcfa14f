import path from 'node:path';
import { bundleVars } from '../../../src/bundle/cluster.js';
import { BUNDLE_FORMAT, type BundleIndex } from '../../../src/bundle/format.js';
import { parseInventoryText } from '../../../src/engine/inventory/load.js';

const inventory = parseInventoryText('[etcd]\ne1\n[kube_master]\nm1\n[kube_node]\nn1\nn2\n', 'hosts');

function index(arches: string[]): BundleIndex {
  return {
    format: BUNDLE_FORMAT,
    name: 't',
    created: '',
    arches,
    binaries: arches.flatMap((arch) => [
      {
        name: 'etcd',
        version: '3.5.23',
        arch,
        url: 'u',
        sha256: 's',
        hosts: 'etcd',
        files: [`bin/${arch}/etcd`, `bin/${arch}/etcdctl`],
      },
      {
        name: 'runc',
        version: '1.2.7',
        arch,
        url: 'u',
        sha256: 's',
        hosts: 'kube_master:kube_node',
        files: [`bin/${arch}/runc`],
      },
    ]),
    images: [],
    packages: {
      family: 'debian',
      distribution: { id: 'debian', versionId: '12', codename: 'bookworm' },
      arch: 'amd64',
      requested: ['tree'],
      packages: [],
    },
    files: [
      { path: 'repo/debian/Packages', sha256: 'x', size: 1, item: 'packages debian index' },
      { path: 'repo/debian/pool/tree_2.1.0-1_amd64.deb', sha256: 'y', size: 1, item: 'package tree' },
      { path: 'bin/amd64/runc', sha256: 'z', size: 1, item: 'binary runc' },
    ],
  };
}

describe('what a preloaded bundle tells the roles', () => {
  test('each binary file with the hosts its pattern matches; the repository files; one arch: a plain bin path', () => {
    const vars = bundleVars('/c', index(['amd64']), inventory);
    expect(vars.furrow_bin_dir).toBe(path.join('/c', 'bundle', 'bin', 'amd64'));
    expect(vars.furrow_bundle_binaries).toEqual([
      { name: 'etcd', src: '/c/bundle/bin/amd64/etcd', arch: 'amd64', hosts: ['e1'] },
      { name: 'etcdctl', src: '/c/bundle/bin/amd64/etcdctl', arch: 'amd64', hosts: ['e1'] },
      { name: 'runc', src: '/c/bundle/bin/amd64/runc', arch: 'amd64', hosts: ['m1', 'n1', 'n2'] },
    ]);
    expect(vars.furrow_bundle_repo).toEqual({
      dir: '/c/bundle/repo/debian',
      codename: 'bookworm',
      distribution: 'debian 12',
      files: ['Packages', 'pool/tree_2.1.0-1_amd64.deb'],
    });
  });

  test('several arches: each host takes binaries of its own architecture (a fact)', () => {
    expect(bundleVars('/c', index(['amd64', 'arm64']), inventory).furrow_bin_dir).toBe(
      '/c/bundle/bin/{{ facts.arch }}',
    );
  });
});
