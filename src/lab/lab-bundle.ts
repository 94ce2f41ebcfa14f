/**
 * The lab's offline bundle: everything a cluster on lab hosts needs, gathered on this machine and
 * carried by the same `bundle build` + `bundle preload` path an air-gapped site uses. Lab hosts
 * have no route out, and upstream release files and images cannot be fetched here, so each item
 * comes from what this machine can get:
 *
 * - Kubernetes v1.20.2 server binaries: built from Debian's source (kubernetes.ts);
 * - etcd, containerd, runc and the CNI plugins: from Debian's packages (apt-get download, dpkg-deb -x);
 * - the sandbox (pause) and test web images: built from busybox-static (images.ts), as an OCI layout;
 * - OS packages: the ones Furrow's own manifest lists (bundle/manifest.yml), from this machine's apt.
 *
 * Everything lives in <root>/lab-bundle/: the unpacked packages, the image layout, manifest.yml
 * (file:// URLs with their sha256) and the bundle file, lab-bundle.tar. A second build with nothing
 * changed reads and writes nothing but the manifest.
 */
import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { chmod, mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import YAML from 'yaml';
import { packagePath } from '../package-root.js';
import { labImages, imageLayout } from './images.js';
import type { KubernetesBuild, KubeBinary } from './kubernetes.js';
import { LAB_STATE_ROOT } from './rootfs.js';
import { LabError } from '../engine/errors.js';
import { must, sha256File } from './system.js';

export const labBundleDir = (root = LAB_STATE_ROOT) => path.join(root, 'lab-bundle');
/** The bundle `furrow new --from-lab` preloads when it is there. */
export const labBundleFile = (root = LAB_STATE_ROOT) => path.join(labBundleDir(root), 'lab-bundle.tar');

const CONTROL_PLANE = 'kube_master';
const EVERY_K8S_HOST = 'kube_master:kube_node';

/** The hosts each Kubernetes binary goes to (as kubeasz places them). */
const KUBE_HOSTS: Record<KubeBinary, string> = {
  'kube-apiserver': CONTROL_PLANE,
  'kube-controller-manager': CONTROL_PLANE,
  'kube-scheduler': CONTROL_PLANE,
  kubectl: CONTROL_PLANE,
  kubelet: EVERY_K8S_HOST,
  'kube-proxy': EVERY_K8S_HOST,
};

/**
 * Binaries from Debian's packages: package, the file in it, the name in the bundle, its hosts.
 * The CNI plugins are the ones Furrow's own manifest takes from the upstream tarball.
 */
export const DEBIAN_BINARIES: Array<{ pkg: string; file: string; name: string; hosts: string }> = [
  { pkg: 'etcd-server', file: 'usr/bin/etcd', name: 'etcd', hosts: 'etcd' },
  { pkg: 'etcd-client', file: 'usr/bin/etcdctl', name: 'etcdctl', hosts: 'etcd' },
  { pkg: 'containerd', file: 'usr/bin/containerd', name: 'containerd', hosts: EVERY_K8S_HOST },
  {
    pkg: 'containerd',
    file: 'usr/bin/containerd-shim-runc-v2',
    name: 'containerd-shim-runc-v2',
    hosts: EVERY_K8S_HOST,
  },
  { pkg: 'containerd', file: 'usr/bin/ctr', name: 'ctr', hosts: EVERY_K8S_HOST },
  { pkg: 'runc', file: 'usr/sbin/runc', name: 'runc', hosts: EVERY_K8S_HOST },
  ...['bridge', 'host-local', 'loopback', 'portmap', 'bandwidth', 'tuning', 'firewall', 'host-device', 'ptp'].map(
    (p) => ({
      pkg: 'containernetworking-plugins',
      file: `usr/lib/cni/${p}`,
      name: p,
      hosts: EVERY_K8S_HOST,
    }),
  ),
];

/**
 * Debian's packages, downloaded and unpacked into <dir>/debian/<package>/ once; returns each
 * package's version. A package whose folder is complete (a .version file) is not fetched again.
 */
async function debianPackages(
  dir: string,
  packages: string[],
  log: (line: string) => void,
): Promise<Record<string, string>> {
  const versions: Record<string, string> = {};
  const missing: string[] = [];
  for (const pkg of packages) {
    const marker = path.join(dir, 'debian', pkg, '.version');
    if (existsSync(marker)) versions[pkg] = readFileSync(marker, 'utf8').trim();
    else missing.push(pkg);
  }
  if (!missing.length) return versions;
  const work = path.join(dir, 'debian', '.download');
  await rm(work, { recursive: true, force: true });
  await mkdir(work, { recursive: true });
  // apt drops privileges to _apt for downloads: a folder it may write avoids its warning.
  await chmod(work, 0o777);
  log(`apt-get download ${missing.join(' ')}`);
  await new Promise<void>((resolve, reject) =>
    execFile('apt-get', ['download', '-q', ...missing], { cwd: work }, (err, _out, stderr) =>
      err
        ? reject(new LabError(`apt-get download ${missing.join(' ')} failed: ${stderr.trim() || err.message}`))
        : resolve(),
    ),
  );
  for (const deb of (await readdir(work)).filter((f) => f.endsWith('.deb'))) {
    const file = path.join(work, deb);
    const pkg = (await must('dpkg-deb', ['-f', file, 'Package'], `reading ${deb}`)).trim();
    const version = (await must('dpkg-deb', ['-f', file, 'Version'], `reading ${deb}`)).trim();
    const into = path.join(dir, 'debian', pkg);
    await rm(into, { recursive: true, force: true });
    await must('dpkg-deb', ['-x', file, into], `unpacking ${deb}`);
    await writeFile(path.join(into, '.version'), `${version}\n`);
    versions[pkg] = version;
  }
  await rm(work, { recursive: true, force: true });
  return versions;
}

/**
 * sha256 of a file unpacked from a package, remembered next to it (<file>.sha256) with the
 * file's size and mtime, so an unchanged manifest is written again without reading 150 MB.
 */
async function unpackedSha256(file: string): Promise<string> {
  const memo = `${file}.sha256`;
  const st = statSync(file);
  const key = `${st.size} ${st.mtimeMs}`;
  if (existsSync(memo)) {
    const [hash, size, mtime] = readFileSync(memo, 'utf8').trim().split(' ');
    if (hash && `${size} ${mtime}` === key) return hash;
  }
  const hash = await sha256File(file);
  await writeFile(memo, `${hash} ${key}\n`);
  return hash;
}

/** The OS packages Furrow's own manifest lists: what the roles install (chrony, conntrack, ...). */
function defaultPackages(): string[] {
  const doc = YAML.parse(readFileSync(packagePath('bundle', 'manifest.yml'), 'utf8')) as {
    packages?: { debian?: string[] };
  };
  return doc.packages?.debian ?? [];
}

export interface LabBundleManifest {
  file: string;
  text: string;
}

/** Writes <root>/lab-bundle/manifest.yml for the Kubernetes build; gathers the Debian binaries and the images first. */
export async function writeLabBundleManifest(o: {
  kubernetes: KubernetesBuild;
  log: (line: string) => void;
  root?: string;
}): Promise<string> {
  const dir = labBundleDir(o.root);
  await mkdir(dir, { recursive: true });
  const versions = await debianPackages(dir, [...new Set(DEBIAN_BINARIES.map((b) => b.pkg))], o.log);

  // The images: written into a fresh layout, renamed into place (the same busybox gives the same bytes).
  const layout = path.join(dir, 'images');
  const images = labImages();
  const fresh = `${layout}.new`;
  await rm(fresh, { recursive: true, force: true });
  await imageLayout(fresh, [images.pause, images.web]);
  await rm(layout, { recursive: true, force: true });
  await rename(fresh, layout);

  const binaries: Array<Record<string, unknown>> = [];
  for (const [name, b] of Object.entries(o.kubernetes.binaries)) {
    binaries.push({
      name,
      version: o.kubernetes.version,
      url: pathToFileURL(b.path).href,
      sha256: b.sha256,
      hosts: KUBE_HOSTS[name as KubeBinary],
    });
  }
  for (const b of DEBIAN_BINARIES) {
    const file = path.join(dir, 'debian', b.pkg, b.file);
    binaries.push({
      name: b.name,
      version: versions[b.pkg],
      url: pathToFileURL(file).href,
      sha256: await unpackedSha256(file),
      hosts: b.hosts,
    });
  }
  const manifest = {
    name: `furrow-lab-k8s-${o.kubernetes.version}`,
    arch: ['amd64'],
    versions: { kubernetes: o.kubernetes.version },
    binaries,
    images: [images.pause, images.web].map((i) => ({ ref: i.ref, layout: pathToFileURL(layout).href })),
    packages: { debian: defaultPackages() },
  };
  const header = [
    "# The lab's offline bundle, written by `furrow lab kubernetes` (do not edit: it is written again).",
    `# Kubernetes ${o.kubernetes.version} built from Debian's source ${o.kubernetes.sourceVersion}; etcd, ` +
      `containerd, runc`,
    "# and the CNI plugins from Debian's packages; images built from busybox-static; OS packages from " +
      "this machine's apt.",
  ].join('\n');
  const file = path.join(dir, 'manifest.yml');
  await writeFile(file, `${header}\n${YAML.stringify(manifest, { lineWidth: 0 })}`);
  return file;
}

/**
 * The manifest, then the bundle file. When the manifest is the one the bundle was last built from
 * and the file is as that build left it, nothing else is read: `bundle build` would only confirm
 * it (after re-reading 600 MB). The OS packages are then those of that build; --rebuild of
 * `furrow lab kubernetes` (rebuild: true) takes newer ones.
 */
export async function buildLabBundle(o: {
  kubernetes: KubernetesBuild;
  log: (line: string) => void;
  root?: string;
  rebuild?: boolean;
}): Promise<{ file: string; manifest: string; built: boolean }> {
  const manifestFile = await writeLabBundleManifest(o);
  const file = labBundleFile(o.root);
  const stamp = `${file}.built-from`;
  const want = `${createHash('sha256').update(readFileSync(manifestFile)).digest('hex')}\n`;
  const fileStamp = () => (existsSync(file) ? `${statSync(file).size} ${statSync(file).mtimeMs}` : '');
  if (!o.rebuild && existsSync(stamp) && readFileSync(stamp, 'utf8') === `${want}${fileStamp()}\n`)
    return { file, manifest: manifestFile, built: false };
  const [{ loadManifest }, { buildBundle }] = await Promise.all([
    import('../bundle/manifest.js'),
    import('../bundle/build.js'),
  ]);
  const manifest = await loadManifest(manifestFile);
  if (o.rebuild) await rm(file, { force: true });
  await buildBundle({ manifest, output: file, log: (line) => o.log(`bundle: ${line}`) });
  await writeFile(stamp, `${want}${fileStamp()}\n`);
  return { file, manifest: manifestFile, built: true };
}
