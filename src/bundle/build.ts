import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import * as tar from 'tar';
import PQueue from 'p-queue';
import { FurrowError, InputError } from '../engine/errors.js';
import { buildDebRepo } from '../repo/index.js';
import { BundleError, downloadVerified, fileSha256, readJsonIfAny, type Progress } from './download.js';
import {
  BLOBS_DIR,
  BUNDLE_FORMAT,
  DEBIAN_REPO_DIR,
  IMAGES_DIR,
  INDEX_NAME,
  itemName,
  sameContent,
  type BundleBinary,
  type BundleFile,
  type BundleImage,
  type BundleIndex,
  type BundlePackages,
} from './format.js';
import { unpackBundle, writeBundleTar } from './archive.js';
import type { BinaryItem, Manifest } from './manifest.js';
import { addToLayoutIndex, RegistryClient, type PulledImage } from './registry/index.js';
import { pullFromLayout } from './registry/layout-source.js';

/** Downloads and pulls in flight at once. */
const PARALLEL_FETCHES = 4;

export interface BuildOptions {
  manifest: Manifest;
  output: string;
  log?: Progress;
}

export interface BuildResult {
  index: BundleIndex;
  /** What this build fetched over the network or from file URLs (0 of each: everything was there). */
  fetched: { binaries: number; blobs: number; packages: number };
  /** False when the output was already up to date and left as it was. */
  written: boolean;
}

/**
 * Builds one bundle file from a manifest. Items are gathered in `<output>.parts/` (seeded from an
 * earlier output when there is one): an item already there with the right digest is not fetched
 * again, so an interrupted build resumes and a rebuild fetches nothing. Only verified items are
 * ever written there, and the output file appears (renamed into place) only when it is complete.
 */
export async function buildBundle(o: BuildOptions): Promise<BuildResult> {
  const log = o.log ?? (() => undefined);
  const output = path.resolve(o.output);
  const parts = `${output}.parts`;
  checkPackagesBuildable(o.manifest);
  if (!existsSync(parts) && existsSync(output)) {
    log(`reusing what ${path.basename(output)} holds`);
    await unpackBundle(output, parts);
  }
  await mkdir(parts, { recursive: true });
  const prior = await readJsonIfAny<BundleIndex>(path.join(parts, INDEX_NAME));
  const priorFiles = new Map((prior?.files ?? []).map((f) => [f.path, f]));
  const fetched = { binaries: 0, blobs: 0, packages: 0 };
  const files: BundleFile[] = [];

  // A few downloads at a time; results are kept in manifest order, so bundle.json is stable.
  const queue = new PQueue({ concurrency: PARALLEL_FETCHES });
  const binaries: BundleBinary[] = [];
  for (const got of await Promise.all(
    o.manifest.binaries.map((item) =>
      queue.add(() => gatherBinary(item, parts, prior, priorFiles, log), { throwOnTimeout: true }),
    ),
  )) {
    binaries.push(got.binary);
    files.push(...got.binFiles);
    if (got.wasFetched) fetched.binaries++;
  }

  const images = await gatherImages(o.manifest, parts, prior, files, fetched, log);
  const packages = await gatherPackages(o.manifest, parts, files, fetched, log);

  const index: BundleIndex = {
    format: BUNDLE_FORMAT,
    name: o.manifest.name,
    created: new Date().toISOString(),
    arches: o.manifest.arches,
    binaries,
    images,
    ...(packages ? { packages } : {}),
    files: files.sort((a, b) => a.path.localeCompare(b.path)),
  };
  if (prior && existsSync(output) && sameContent(prior, index)) {
    log(`${path.basename(output)} is up to date`);
    await rm(parts, { recursive: true, force: true });
    return { index: prior, fetched, written: false };
  }
  await writeFile(path.join(parts, INDEX_NAME), `${JSON.stringify(index, null, 2)}\n`);
  await writeBundleTar(parts, index, output);
  await rm(parts, { recursive: true, force: true });
  const size = (await stat(output)).size;
  log(`wrote ${output}: ${index.files.length} files, ${(size / 1e6).toFixed(1)} MB`);
  return { index, fetched, written: true };
}

/** OS packages come from this machine's apt: only for its own distribution family and architecture. */
function checkPackagesBuildable(manifest: Manifest): void {
  const debian = manifest.packages.find((p) => p.family === 'debian');
  if (!debian) return;
  if (!existsSync('/usr/bin/apt-get')) {
    throw new InputError(
      { file: manifest.file },
      'the manifest lists Debian packages, but this machine has no apt-get',
      "build the bundle on a Debian or Ubuntu machine of the hosts' release",
    );
  }
  const native = nativeDebArch();
  const others = manifest.arches.filter((a) => a !== native);
  if (others.length) {
    throw new InputError(
      { file: manifest.file },
      `OS packages are downloaded with this ` +
        `machine's apt, which is ${native}; the build asks for ${others.join(', ')} too`,
      `build with --arch ${native}, or build the ${others.join(', ')} bundle on a machine of that architecture`,
    );
  }
}

function nativeDebArch(): string {
  const map: Record<string, string> = {
    x64: 'amd64',
    arm64: 'arm64',
    arm: 'arm',
    ppc64: 'ppc64le',
    s390x: 's390x',
    riscv64: 'riscv64',
    ia32: '386',
    loong64: 'loong64',
  };
  return map[process.arch] ?? process.arch;
}

async function gatherBinary(
  item: BinaryItem,
  parts: string,
  prior: BundleIndex | undefined,
  priorFiles: Map<string, BundleFile>,
  log: Progress,
): Promise<{ binary: BundleBinary; binFiles: BundleFile[]; wasFetched: boolean }> {
  const label = itemName('binary', item.name, item.version, item.arch);
  const names = item.files?.map((f) => f.to) ?? [item.name];
  const rel = (name: string) => `bin/${item.arch}/${name}`;
  const binary: BundleBinary = {
    name: item.name,
    version: item.version,
    arch: item.arch,
    url: item.url,
    [item.checksum.algorithm]: item.checksum.hex,
    hosts: item.hosts,
    files: names.map(rel),
  };
  const before = prior?.binaries.find((b) => b.name === item.name && b.arch === item.arch);
  if (
    before &&
    before.url === item.url &&
    before[item.checksum.algorithm] === item.checksum.hex &&
    JSON.stringify(before.files) === JSON.stringify(binary.files)
  ) {
    const kept: BundleFile[] = [];
    for (const p of binary.files) {
      const record = priorFiles.get(p);
      if (record && (await fileSha256(path.join(parts, p))) === record.sha256) kept.push(record);
    }
    if (kept.length === binary.files.length) {
      log(`${label}: present`);
      return { binary, binFiles: kept, wasFetched: false };
    }
  }

  const dir = path.join(parts, 'bin', item.arch);
  await mkdir(dir, { recursive: true });
  const work = await mkdtemp(path.join(parts, '.download-'));
  try {
    const download = path.join(work, 'download');
    const size = await downloadVerified(item.url, item.checksum, download, label, item.place);
    log(`${label}: fetched ${(size / 1e6).toFixed(1)} MB from ${item.url}`);
    const sources = item.files ? await extractFiles(download, item, work, label) : [download];
    const binFiles: BundleFile[] = [];
    for (const [i, src] of sources.entries()) {
      const dest = path.join(parts, rel(names[i]!));
      await chmod(src, 0o755);
      await rename(src, dest);
      // A plain download was hashed as it came; files taken out of an archive are hashed now.
      binFiles.push({
        path: rel(names[i]!),
        sha256: item.files || item.checksum.algorithm !== 'sha256' ? (await fileSha256(dest))! : item.checksum.hex,
        size: (await stat(dest)).size,
        item: label,
      });
    }
    return { binary, binFiles, wasFetched: true };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** Takes the listed files out of a downloaded tar archive (gzip or not); every one must be there. */
async function extractFiles(archive: string, item: BinaryItem, work: string, label: string): Promise<string[]> {
  const out = path.join(work, 'x');
  await mkdir(out);
  const strip = (p: string) => p.replace(/^\.?\/+/, '');
  const wanted = new Set(item.files!.map((f) => strip(f.from)));
  const seen: string[] = [];
  try {
    await tar.x({
      file: archive,
      cwd: out,
      strict: true,
      filter: (p) => {
        if (seen.length < 2000) seen.push(strip(p));
        return wanted.has(strip(p));
      },
    });
  } catch (err) {
    throw new InputError(
      item.place,
      `${label}: the download is not a tar archive (${(err as Error).message}), but the manifest lists files ` +
        `to take out of it`,
      'leave files: out when the download is the binary itself',
    );
  }
  const missing = [...wanted].filter((f) => !existsSync(path.join(out, f)));
  if (missing.length) {
    const has = seen
      .filter((p) => !p.endsWith('/'))
      .slice(0, 15)
      .join(', ');
    throw new InputError(
      item.place,
      `${label}: the archive has no ${missing.join(', ')}`,
      `it holds: ${has}${seen.length > 15 ? ', ...' : ''}`,
    );
  }
  return item.files!.map((f) => path.join(out, strip(f.from)));
}

async function gatherImages(
  manifest: Manifest,
  parts: string,
  prior: BundleIndex | undefined,
  files: BundleFile[],
  fetched: BuildResult['fetched'],
  log: Progress,
): Promise<BundleImage[]> {
  if (!manifest.images.length) return [];
  const client = new RegistryClient(manifest.registries);
  const blobDir = path.join(parts, BLOBS_DIR);
  await mkdir(blobDir, { recursive: true });
  const images: BundleImage[] = [];
  const pulledAll: PulledImage[] = [];
  const users = new Map<string, { size: number; images: string[] }>();
  const queue = new PQueue({ concurrency: PARALLEL_FETCHES });
  const pull = async (item: Manifest['images'][number]) => {
    const before = prior?.images.find(
      (i) => i.ref === item.ref && JSON.stringify(i.arches) === JSON.stringify(item.arches),
    );
    try {
      if (item.layout)
        return await pullFromLayout(item.ref, item.layout, { arches: item.arches, blobDir, place: item.place });
      return await client.pull(item.ref, {
        arches: item.arches,
        blobDir,
        ...(before ? { known: { digest: before.digest, mediaType: before.mediaType } } : {}),
      });
    } catch (err) {
      // The client's errors name the image, the endpoint and the fix, with their own exit status.
      if (err instanceof FurrowError) throw err;
      throw new BundleError(`image ${item.ref} (${item.place.file}:${item.place.line}): ${(err as Error).message}`, {
        cause: err,
      });
    }
  };
  const results = await Promise.all(
    manifest.images.map((item) => queue.add(() => pull(item), { throwOnTimeout: true })),
  );
  for (const [i, item] of manifest.images.entries()) {
    const pulled = results[i]!;
    if (pulled.missingArches.length)
      log(
        `image ${pulled.name}: has no ${pulled.missingArches.join(', ')}; the bundle carries ` +
          `${pulled.platforms.map((p) => p.arch).join(', ')}`,
      );
    const newBlobs = pulled.blobs.filter((b) => b.fetched);
    fetched.blobs += newBlobs.length;
    const bytes = newBlobs.reduce((n, b) => n + b.size, 0);
    log(
      `image ${pulled.name}: ${pulled.digest.slice(0, 19)} ${item.arches.join(',')}, ` +
        `${newBlobs.length ? `fetched ${newBlobs.length} blob(s), ${(bytes / 1e6).toFixed(1)} MB` : 'present'}`,
    );
    // What this build fetched is not part of the bundle: a rebuild must compare equal.
    pulledAll.push(pulled);
    const { missingArches: _missing, blobs, ...kept } = pulled;
    images.push({ ...kept, blobs: blobs.map((b) => ({ digest: b.digest, size: b.size })), arches: item.arches });
    for (const b of pulled.blobs) {
      const u = users.get(b.digest) ?? { size: b.size, images: [] };
      if (!u.images.includes(pulled.name)) u.images.push(pulled.name);
      users.set(b.digest, u);
    }
  }
  await addToLayoutIndex(path.join(parts, IMAGES_DIR), pulledAll);
  for (const [digest, u] of users) {
    files.push({
      path: `${BLOBS_DIR}/${digest.replace(/^sha256:/, '')}`,
      sha256: digest.replace(/^sha256:/, ''),
      size: u.size,
      item: u.images.map((n) => `image ${n}`).join(', '),
    });
  }
  for (const name of ['oci-layout', 'index.json']) {
    const p = path.join(parts, IMAGES_DIR, name);
    files.push({
      path: `${IMAGES_DIR}/${name}`,
      sha256: (await fileSha256(p))!,
      size: (await stat(p)).size,
      item: 'images index',
    });
  }
  return images;
}

async function gatherPackages(
  manifest: Manifest,
  parts: string,
  files: BundleFile[],
  fetched: BuildResult['fetched'],
  log: Progress,
): Promise<BundlePackages | undefined> {
  const debian = manifest.packages.find((p) => p.family === 'debian');
  if (!debian) return undefined;
  const dir = path.join(parts, DEBIAN_REPO_DIR);
  const repo = await buildDebRepo({
    packages: debian.names,
    dir,
    prune: true,
    log: (line) => log(`packages: ${line}`),
  });
  fetched.packages += repo.downloaded.length;
  const label = itemName('packages', 'debian');
  for (const deb of repo.debs)
    files.push({
      path: `${DEBIAN_REPO_DIR}/${deb.filename}`,
      sha256: deb.sha256,
      size: deb.size,
      item: `package ${deb.package} ${deb.version}`,
    });
  for (const name of ['Packages', 'Packages.gz', 'Release']) {
    const p = path.join(dir, name);
    files.push({
      path: `${DEBIAN_REPO_DIR}/${name}`,
      sha256: (await fileSha256(p))!,
      size: (await stat(p)).size,
      item: `${label} index`,
    });
  }
  return {
    family: 'debian',
    distribution: await osRelease(),
    arch: nativeDebArch(),
    requested: debian.names,
    packages: repo.debs.map((d) => ({ name: d.package, version: d.version, path: `${DEBIAN_REPO_DIR}/${d.filename}` })),
  };
}

/** The build machine's distribution, from /etc/os-release: hosts installing from the repository must match it. */
export async function osRelease(
  file = '/etc/os-release',
): Promise<{ id: string; versionId: string; codename: string }> {
  const text = await readFile(file, 'utf8').catch(() => '');
  const field = (k: string) => new RegExp(`^${k}="?([^"\\n]*)"?$`, 'm').exec(text)?.[1] ?? '';
  return { id: field('ID'), versionId: field('VERSION_ID'), codename: field('VERSION_CODENAME') };
}
