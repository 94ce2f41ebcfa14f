import { rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { readBundleIndex, unpackBundle, verifyBundle } from './archive.js';
import { clusterBundleDir, readClusterBundle } from './cluster.js';
import { BundleError, type Progress } from './download.js';
import { sameContent, type BundleIndex } from './format.js';

/**
 * The controller's half of a preload: the bundle file, verified, unpacked into <cluster>/bundle/.
 * When the same bundle is there already nothing is read or written. The hosts' half is a run of
 * the bundle role (playbooks/preload.yml), which compares each item with the host by digest.
 */
export async function unpackIntoCluster(
  file: string,
  clusterDir: string,
  log: Progress,
): Promise<{ index: BundleIndex; unpacked: boolean }> {
  const index = await readBundleIndex(file);
  const current = readClusterBundle(clusterDir);
  const dir = clusterBundleDir(clusterDir);
  if (current && sameContent(current, index)) {
    log(`${path.relative(process.cwd(), dir) || dir} already holds this bundle`);
    return { index: current, unpacked: false };
  }
  const checked = await verifyBundle(file);
  if (checked.problems.length) {
    throw new BundleError(
      `${file} is damaged; nothing was unpacked or copied:\n  ${checked.problems.slice(0, 20).join('\n  ')}` +
        (checked.problems.length > 20 ? `\n  (and ${checked.problems.length - 20} more)` : ''),
    );
  }
  const tmp = `${dir}.new-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  try {
    await unpackBundle(file, tmp);
    await rm(dir, { recursive: true, force: true });
    await rename(tmp, dir);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  log(`unpacked ${index.files.length} files into ${dir}`);
  return { index, unpacked: true };
}
