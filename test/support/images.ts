/**
 * Test images built here and pushed with the distribution push API (POST blobs/uploads/, PUT
 * ...&digest=, PUT manifests/<tag>), no docker:
 *
 * - furrow-test/busybox:1        Docker schema2, amd64: one layer holding /bin/busybox (and /bin/sh)
 *                                from Debian's busybox-static package
 * - furrow-test/busybox-extra:1  OCI, amd64: the same busybox layer (byte for byte) and one small layer
 * - furrow-test/multi:1          OCI index: amd64 (the busybox layer) and arm64/v8 (a small layer)
 * - furrow-test/multi-docker:1   Docker manifest list: the same two platforms as schema2 manifests
 *
 * Layers are deterministic tar.gz files (fixed times, owners and modes), so the busybox layer has
 * one digest wherever it is pushed.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { layerOf, type Layer } from '../../src/lab/images.js';
import type { TestRegistry } from './registry.js';

/** The deterministic tar and layer makers live with the lab's own images (one place). */
export { layerOf, tarOf, type Layer, type TarEntry } from '../../src/lab/images.js';

const run = promisify(execFile);
const sha256 = (data: Buffer) => `sha256:${createHash('sha256').update(data).digest('hex')}`;

export const MEDIA = {
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar+gzip',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayer: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
} as const;

type Format = 'docker' | 'oci';

let busyboxBinary: Promise<Buffer> | undefined;

/**
 * /bin/busybox from Debian's busybox-static: `apt-get download` into a temporary folder (0777, as
 * apt's sandbox user writes there) and `dpkg-deb -x`. When the download fails (no apt lists), the
 * installed package's /bin/busybox is used.
 */
export function busybox(): Promise<Buffer> {
  busyboxBinary ??= (async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'furrow-busybox-'));
    try {
      chmodSync(dir, 0o777);
      await run('apt-get', ['download', 'busybox-static'], { cwd: dir });
      const deb = readdirSync(dir).find((f) => f.endsWith('.deb'));
      if (!deb) throw new Error('apt-get download busybox-static left no .deb');
      await run('dpkg-deb', ['-x', path.join(dir, deb), path.join(dir, 'root')]);
      return readFileSync(path.join(dir, 'root', 'bin', 'busybox'));
    } catch (err) {
      if (existsSync('/bin/busybox')) return readFileSync('/bin/busybox');
      throw new Error(`busybox for the test images: ${(err as Error).message}; apt-get install busybox-static`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  })();
  return busyboxBinary;
}

export async function busyboxLayer(): Promise<Layer> {
  const bin = await busybox();
  return layerOf([
    { name: 'bin/', type: 'dir' },
    { name: 'bin/busybox', type: 'file', data: bin, mode: 0o755 },
    { name: 'bin/sh', type: 'symlink', target: 'busybox', mode: 0o777 },
  ]);
}

export function fileLayer(name: string, text: string): Layer {
  const dir = path.posix.dirname(name);
  return layerOf([
    ...(dir !== '.' ? [{ name: `${dir}/`, type: 'dir' as const }] : []),
    { name, type: 'file', data: Buffer.from(text) },
  ]);
}

interface Built {
  bytes: Buffer;
  digest: string;
  mediaType: string;
  /** Blobs (configs and layers) the manifest needs, by digest. */
  blobs: Map<string, Buffer>;
  children: Built[];
  platforms: { arch: string; variant?: string; manifest: string; config: string; layers: string[] }[];
}

/** An image manifest for one platform, with its config. */
export function imageManifest(format: Format, arch: string, layers: Layer[], label: string, variant?: string): Built {
  const config = Buffer.from(
    JSON.stringify({
      architecture: arch,
      ...(variant ? { variant } : {}),
      os: 'linux',
      created: '2024-01-01T00:00:00Z',
      config: { Cmd: ['/bin/sh'], Labels: { 'furrow.test': label } },
      rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
      history: layers.map(() => ({ created: '2024-01-01T00:00:00Z', created_by: 'furrow test' })),
    }),
  );
  const mediaType = format === 'docker' ? MEDIA.dockerManifest : MEDIA.ociManifest;
  const bytes = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType,
      config: {
        mediaType: format === 'docker' ? MEDIA.dockerConfig : MEDIA.ociConfig,
        digest: sha256(config),
        size: config.length,
      },
      layers: layers.map((l) => ({
        mediaType: format === 'docker' ? MEDIA.dockerLayer : MEDIA.ociLayer,
        digest: l.digest,
        size: l.blob.length,
      })),
    }),
  );
  const blobs = new Map<string, Buffer>([
    [sha256(config), config],
    ...layers.map((l) => [l.digest, l.blob] as [string, Buffer]),
  ]);
  const digest = sha256(bytes);
  return {
    bytes,
    digest,
    mediaType,
    blobs,
    children: [],
    platforms: [
      {
        arch,
        ...(variant ? { variant } : {}),
        manifest: digest,
        config: sha256(config),
        layers: layers.map((l) => l.digest),
      },
    ],
  };
}

/** An OCI index or Docker manifest list over single-platform manifests. */
export function imageIndex(format: Format, manifests: Built[]): Built {
  const mediaType = format === 'docker' ? MEDIA.dockerList : MEDIA.ociIndex;
  const bytes = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType,
      manifests: manifests.map((m) => ({
        mediaType: m.mediaType,
        digest: m.digest,
        size: m.bytes.length,
        platform: {
          architecture: m.platforms[0]!.arch,
          os: 'linux',
          ...(m.platforms[0]!.variant ? { variant: m.platforms[0]!.variant } : {}),
        },
      })),
    }),
  );
  return {
    bytes,
    digest: sha256(bytes),
    mediaType,
    blobs: new Map(),
    children: manifests,
    platforms: manifests.flatMap((m) => m.platforms),
  };
}

async function call(
  registry: TestRegistry,
  repository: string,
  method: string,
  url: string,
  body?: Buffer,
  contentType?: string,
): Promise<Response> {
  const authorization = await registry.authorization(repository, ['pull', 'push']);
  const headers: Record<string, string> = {
    ...(authorization ? { authorization } : {}),
    ...(contentType ? { 'content-type': contentType } : {}),
  };
  return fetch(new URL(url, registry.url), { method, headers, ...(body ? { body } : {}) });
}

async function expectStatus(res: Response, status: number, what: string): Promise<Response> {
  if (res.status !== status) throw new Error(`${what}: ${res.status} ${res.statusText}: ${await res.text()}`);
  return res;
}

async function pushBlob(registry: TestRegistry, repository: string, digest: string, data: Buffer): Promise<void> {
  const head = await call(registry, repository, 'HEAD', `/v2/${repository}/blobs/${digest}`);
  if (head.status === 200) return;
  const started = await expectStatus(
    await call(registry, repository, 'POST', `/v2/${repository}/blobs/uploads/`),
    202,
    `start upload to ${repository}`,
  );
  await started.body?.cancel();
  const location = new URL(started.headers.get('location')!, registry.url);
  location.searchParams.set('digest', digest);
  const put = await call(registry, repository, 'PUT', location.href, data, 'application/octet-stream');
  await expectStatus(put, 201, `upload ${digest} to ${repository}`);
  await put.body?.cancel();
}

/**
 * Pushes an image (its blobs, child manifests by digest, then the top under `tag`); returns the digest the registry
 * names.
 */
async function pushBuilt(registry: TestRegistry, repository: string, tag: string, built: Built): Promise<string> {
  for (const child of built.children) await pushBuilt(registry, repository, child.digest, child);
  for (const [digest, data] of built.blobs) await pushBlob(registry, repository, digest, data);
  const put = await expectStatus(
    await call(registry, repository, 'PUT', `/v2/${repository}/manifests/${tag}`, built.bytes, built.mediaType),
    201,
    `push ${repository}:${tag}`,
  );
  await put.body?.cancel();
  const served = put.headers.get('docker-content-digest');
  if (served !== built.digest)
    throw new Error(`push ${repository}:${tag}: the registry says ${served}, the bytes are ${built.digest}`);
  return built.digest;
}

export interface TestImage {
  ref: string;
  /** Normalised name, as the client reports it. */
  name: string;
  repository: string;
  tag: string;
  /** The registry's digest of the top-level manifest or index. */
  digest: string;
  mediaType: string;
  /** Bytes of the top-level manifest or index. */
  size: number;
  platforms: { arch: string; variant?: string; manifest: string; config: string; layers: string[] }[];
  /** Every blob of the image: top, child manifests, configs, layers. */
  blobs: string[];
}

/** Builds and pushes one image to `repository:tag`. */
export async function pushImage(
  registry: TestRegistry,
  repository: string,
  tag: string,
  built: Built,
): Promise<TestImage> {
  const digest = await pushBuilt(registry, repository, tag, built);
  const blobs = [
    digest,
    ...built.children.map((c) => c.digest),
    ...[built, ...built.children].flatMap((b) => [...b.blobs.keys()]),
  ];
  const ref = `${registry.host}/${repository}:${tag}`;
  return {
    ref,
    name: ref,
    repository,
    tag,
    digest,
    mediaType: built.mediaType,
    size: built.bytes.length,
    platforms: built.platforms,
    blobs: [...new Set(blobs)],
  };
}

export interface TestImages {
  busybox: TestImage;
  extra: TestImage;
  multi: TestImage;
  multiDocker: TestImage;
  /** The refs of all four, on the registry given first. */
  refs: string[];
  digests: Record<string, string>;
  names: Record<string, string>;
  /** The busybox layer, in busybox, extra, multi (amd64) and multiDocker (amd64). */
  sharedLayer: string;
  multiArchRef: string;
}

export interface AuthImages {
  /** furrow-test/busybox:1 on the second registry (the one behind auth). */
  auth: TestImage;
  authRef: string;
  authRegistryHost: string;
}

export async function pushTestImages(registry: TestRegistry): Promise<TestImages>;
export async function pushTestImages(
  registry: TestRegistry,
  authRegistry: TestRegistry,
): Promise<TestImages & AuthImages>;
export async function pushTestImages(
  registry: TestRegistry,
  authRegistry?: TestRegistry,
): Promise<TestImages | (TestImages & AuthImages)> {
  const bb = await busyboxLayer();
  const extraLayer = fileLayer('etc/furrow-test', 'extra layer\n');
  const armLayer = fileLayer('etc/furrow-arch', 'arm64\n');
  const busybox = await pushImage(
    registry,
    'furrow-test/busybox',
    '1',
    imageManifest('docker', 'amd64', [bb], 'busybox'),
  );
  const extra = await pushImage(
    registry,
    'furrow-test/busybox-extra',
    '1',
    imageManifest('oci', 'amd64', [bb, extraLayer], 'busybox-extra'),
  );
  const multi = await pushImage(
    registry,
    'furrow-test/multi',
    '1',
    imageIndex('oci', [
      imageManifest('oci', 'amd64', [bb], 'multi'),
      imageManifest('oci', 'arm64', [armLayer], 'multi', 'v8'),
    ]),
  );
  const multiDocker = await pushImage(
    registry,
    'furrow-test/multi-docker',
    '1',
    imageIndex('docker', [
      imageManifest('docker', 'amd64', [bb], 'multi-docker'),
      imageManifest('docker', 'arm64', [armLayer], 'multi-docker', 'v8'),
    ]),
  );
  const all = [busybox, extra, multi, multiDocker];
  const images: TestImages = {
    busybox,
    extra,
    multi,
    multiDocker,
    refs: all.map((i) => i.ref),
    digests: Object.fromEntries(all.map((i) => [i.ref, i.digest])),
    names: Object.fromEntries(all.map((i) => [i.ref, i.name])),
    sharedLayer: bb.digest,
    multiArchRef: multi.ref,
  };
  if (!authRegistry) return images;
  const auth = await pushImage(
    authRegistry,
    'furrow-test/busybox',
    '1',
    imageManifest('docker', 'amd64', [bb], 'busybox'),
  );
  return {
    ...images,
    auth,
    authRef: auth.ref,
    authRegistryHost: authRegistry.host,
    digests: { ...images.digests, [auth.ref]: auth.digest },
    names: { ...images.names, [auth.ref]: auth.name },
  };
}
