import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * etcd and etcdctl for lab tests, from Debian's etcd-server and etcd-client packages (the versions
 * the controller's apt offers): downloaded with `apt-get download`, unpacked with `dpkg-deb -x`,
 * and copied into `binDir` (a cluster folder's bin/). Returns the two paths.
 */
export async function etcdBinariesFromDebian(binDir: string): Promise<{ etcd: string; etcdctl: string }> {
  const work = await mkdtemp(path.join(os.tmpdir(), 'furrow-etcd-debs-'));
  try {
    // apt drops privileges to _apt for downloads; a folder of its own that it may write avoids the warning.
    await run('chmod', ['0777', work]);
    await run('apt-get', ['download', '-q', 'etcd-server', 'etcd-client'], { cwd: work });
    const debs = (await readdir(work)).filter((f) => f.endsWith('.deb'));
    const root = path.join(work, 'root');
    for (const deb of debs) await run('dpkg-deb', ['-x', path.join(work, deb), root]);
    await mkdir(binDir, { recursive: true });
    const out = { etcd: path.join(binDir, 'etcd'), etcdctl: path.join(binDir, 'etcdctl') };
    await copyFile(path.join(root, 'usr/bin/etcd'), out.etcd);
    await copyFile(path.join(root, 'usr/bin/etcdctl'), out.etcdctl);
    return out;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
