import { copyFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { unpackDebs } from './deb-files.js';

/**
 * etcd and etcdctl for lab tests, from Debian's etcd-server and etcd-client packages (the versions
 * the controller's apt offers): downloaded with `apt-get download`, unpacked with `dpkg-deb -x`,
 * and copied into `binDir` (a cluster folder's bin/). Returns the two paths.
 */
export async function etcdBinariesFromDebian(binDir: string): Promise<{ etcd: string; etcdctl: string }> {
  const debs = await unpackDebs(['etcd-server', 'etcd-client']);
  try {
    await mkdir(binDir, { recursive: true });
    const out = { etcd: path.join(binDir, 'etcd'), etcdctl: path.join(binDir, 'etcdctl') };
    await copyFile(path.join(debs.root, 'usr/bin/etcd'), out.etcd);
    await copyFile(path.join(debs.root, 'usr/bin/etcdctl'), out.etcdctl);
    return out;
  } finally {
    await debs.done();
  }
}
