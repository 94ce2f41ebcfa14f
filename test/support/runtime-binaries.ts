import { copyFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { unpackDebs } from './deb-files.js';

/**
 * Where each binary of the containerd and docker roles is in Debian's packages (the versions the
 * controller's apt offers: containerd 1.6, runc 1.1, docker.io 20.10, tini). docker-init is
 * tini-static, as in docker's static tarball. crictl is missing: Debian 12 has no package for it.
 */
const FROM_DEBIAN: Record<string, string> = {
  containerd: 'usr/bin/containerd',
  'containerd-shim-runc-v2': 'usr/bin/containerd-shim-runc-v2',
  ctr: 'usr/bin/ctr',
  runc: 'usr/sbin/runc',
  dockerd: 'usr/sbin/dockerd',
  docker: 'usr/bin/docker',
  'docker-proxy': 'usr/sbin/docker-proxy',
  'docker-init': 'usr/bin/tini-static',
};

export const CONTAINERD_BINARIES = ['containerd', 'containerd-shim-runc-v2', 'ctr', 'runc'];
/** Where each binary is in Debian's packages, for tests that pack them as upstream ships them. */
export const DEBIAN_PATHS = FROM_DEBIAN;

export const DOCKER_BINARIES = ['dockerd', 'docker', 'docker-proxy', 'docker-init', ...CONTAINERD_BINARIES];

/**
 * The binaries the containerd and docker roles copy, for lab tests: Debian's containerd, runc,
 * docker.io and tini packages downloaded with `apt-get download`, unpacked with `dpkg-deb -x`, and
 * the files copied into `binDir` (a cluster folder's bin/) under the names the roles expect.
 * Returns the names written.
 */
export async function runtimeBinariesFromDebian(binDir: string): Promise<string[]> {
  const debs = await unpackDebs(['containerd', 'runc', 'docker.io', 'tini']);
  try {
    await mkdir(binDir, { recursive: true });
    for (const [name, file] of Object.entries(FROM_DEBIAN))
      await copyFile(path.join(debs.root, file), path.join(binDir, name));
    return Object.keys(FROM_DEBIAN);
  } finally {
    await debs.done();
  }
}
