import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { unpackBundle, writeBundleTar } from '../../src/bundle/archive.js';
import { INDEX_NAME, type BundleIndex } from '../../src/bundle/format.js';

const KUBERNETES = ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kubectl', 'kubelet', 'kube-proxy'];

/**
 * The lab has one Kubernetes, v1.20.2 built from Debian's source. To prove an upgrade on it, this makes the bundle
 * of a "v1.20.3" that is the same code with another version string: Kubernetes' build stamps its version into each
 * binary (`-X k8s.io/component-base/version.gitVersion=v1.20.2`), and this rewrites those bytes, as a rebuild with
 * that flag changed would. Same length, so nothing else in the binary moves; each binary then reports v1.20.3 (the
 * apiserver's /version, the kubelet's nodeInfo). Everything else in the bundle is unchanged. Returns the new file.
 */
export async function relabelledKubernetesBundle(source: string, from: string, to: string, out: string) {
  const [old, now] = [Buffer.from(`v${from}`), Buffer.from(`v${to}`)];
  if (old.length !== now.length) throw new Error(`v${from} and v${to} differ in length: the binaries would break`);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'furrow-relabel-'));
  try {
    await unpackBundle(source, dir);
    const index = JSON.parse(readFileSync(path.join(dir, INDEX_NAME), 'utf8')) as BundleIndex;
    for (const binary of index.binaries.filter((b) => KUBERNETES.includes(b.name))) {
      if (binary.version !== from) throw new Error(`${binary.name} in ${source} is ${binary.version}, not ${from}`);
      for (const file of binary.files) {
        const bytes = readFileSync(path.join(dir, file));
        let count = 0;
        for (let at = bytes.indexOf(old); at !== -1; at = bytes.indexOf(old, at + old.length)) {
          now.copy(bytes, at);
          count++;
        }
        if (!count) throw new Error(`${file} does not contain v${from}`);
        writeFileSync(path.join(dir, file), bytes);
        const sha256 = createHash('sha256').update(bytes).digest('hex');
        const entry = index.files.find((f) => f.path === file)!;
        entry.sha256 = sha256;
        entry.item = entry.item.replace(from, to);
        binary.sha256 = sha256;
      }
      binary.version = to;
    }
    index.name = index.name.replace(from, to);
    writeFileSync(path.join(dir, INDEX_NAME), JSON.stringify(index, null, 2));
    await writeBundleTar(dir, index, out);
    return out;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
