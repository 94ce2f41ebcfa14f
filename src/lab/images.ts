/**
 * Container images for the lab, built here from Debian's busybox-static (upstream images cannot be
 * fetched from the machines the lab runs on):
 *
 * - the sandbox ("pause") image: every pod's first container, which only has to hold the pod's
 *   namespaces open, so its command blocks (`busybox sleep 2147483647`, about 68 years);
 * - a web image for tests: busybox httpd serving one page that names the container's hostname
 *   (in a pod: the pod's name), so a test can tell which pod answered.
 *
 * Each image is one OCI manifest over one deterministic layer (fixed times, owners and modes), so
 * the same busybox gives the same digests on every machine and every run. `imageLayout` writes an
 * OCI image layout of them (what a bundle's images/ is); `imageLayoutTar` is the same as one tar,
 * which `ctr -n k8s.io images import` takes as it is.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { LabError } from '../engine/errors.js';

export const OCI_MEDIA = {
  index: 'application/vnd.oci.image.index.v1+json',
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
  layer: 'application/vnd.oci.image.layer.v1.tar+gzip',
} as const;

/** Where the lab's images are named: not a registry anyone serves, so no pull can reach out for them. */
export const LAB_IMAGE_REGISTRY = 'furrow.lab';
/** The lab's sandbox image, as containerd's `sandbox_image` (SANDBOX_IMAGE) names it. */
export const LAB_PAUSE_IMAGE = `${LAB_IMAGE_REGISTRY}/pause:1`;
/** The lab's test web server: `GET /` answers `furrow lab web: <hostname>`, on port 80 (or $PORT). */
export const LAB_WEB_IMAGE = `${LAB_IMAGE_REGISTRY}/web:1`;

const sha256 = (data: Buffer) => `sha256:${createHash('sha256').update(data).digest('hex')}`;

export interface TarEntry {
  name: string;
  type: 'file' | 'dir' | 'symlink';
  data?: Buffer;
  mode?: number;
  target?: string;
}

/** A ustar archive with fixed owner, group and time, so the same entries give the same bytes. */
export function tarOf(entries: TarEntry[]): Buffer {
  const blocks: Buffer[] = [];
  const octal = (n: number, width: number) => `${n.toString(8).padStart(width - 1, '0')}\0`;
  for (const e of entries) {
    if (Buffer.byteLength(e.name) > 100) throw new Error(`tar entry name over 100 bytes: ${e.name}`);
    const h = Buffer.alloc(512);
    const data = e.type === 'file' ? (e.data ?? Buffer.alloc(0)) : Buffer.alloc(0);
    h.write(e.name, 0, 100, 'utf8');
    h.write(octal(e.mode ?? (e.type === 'file' ? 0o644 : 0o755), 8), 100, 'ascii');
    h.write(octal(0, 8), 108, 'ascii');
    h.write(octal(0, 8), 116, 'ascii');
    h.write(octal(data.length, 12), 124, 'ascii');
    h.write(octal(1_700_000_000, 12), 136, 'ascii');
    h.write('        ', 148, 'ascii');
    h.write(e.type === 'file' ? '0' : e.type === 'dir' ? '5' : '2', 156, 'ascii');
    if (e.target) h.write(e.target, 157, 100, 'utf8');
    h.write('ustar\0' + '00', 257, 'ascii');
    h.write('root', 265, 'ascii');
    h.write('root', 297, 'ascii');
    let sum = 0;
    for (const byte of h) sum += byte;
    h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'ascii');
    blocks.push(h, data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}

export interface Layer {
  /** The gzipped tar, as a registry or an image layout stores it. */
  blob: Buffer;
  digest: string;
  /** sha256 of the uncompressed tar: the config's rootfs.diff_ids. */
  diffId: string;
}

export function layerOf(entries: TarEntry[]): Layer {
  const tar = tarOf(entries);
  const blob = gzipSync(tar, { level: 6 });
  return { blob, digest: sha256(blob), diffId: sha256(tar) };
}

/** ELF program header type of the dynamic loader's path: a static binary has none. */
const PT_INTERP = 3;

/** True for a 64-bit little-endian ELF file with no dynamic loader (runs in an image with no libc). */
export function isStaticElf(bin: Buffer): boolean {
  if (bin.length < 64 || bin.readUInt32BE(0) !== 0x7f454c46 || bin[4] !== 2 || bin[5] !== 1) return false;
  const phoff = Number(bin.readBigUInt64LE(32));
  const phentsize = bin.readUInt16LE(54);
  const phnum = bin.readUInt16LE(56);
  for (let i = 0; i < phnum; i++) {
    const at = phoff + i * phentsize;
    if (at + 4 > bin.length || bin.readUInt32LE(at) === PT_INTERP) return false;
  }
  return true;
}

/** Debian's busybox-static installs its one binary here. */
export const BUSYBOX_PATH = '/bin/busybox';

/**
 * The machine's static busybox (Debian's busybox-static); a dynamic one or none is an error that says what to install.
 */
export function staticBusybox(file = BUSYBOX_PATH): Buffer {
  if (!existsSync(file))
    throw new LabError(
      `the lab's images are built from busybox-static, and ${file} is missing: apt-get install busybox-static`,
    );
  const bin = readFileSync(file);
  if (!isStaticElf(bin))
    throw new LabError(
      `${file} is not a static 64-bit binary (the 'busybox' package?); the lab's images need Debian's ` +
        `busybox-static: apt-get install busybox-static`,
    );
  return bin;
}

/** The image's platform, as OCI names Node's process.arch. */
export function ociArch(arch: string = process.arch): string {
  const names: Record<string, string> = {
    x64: 'amd64',
    arm64: 'arm64',
    arm: 'arm',
    ppc64: 'ppc64le',
    s390x: 's390x',
    riscv64: 'riscv64',
  };
  return names[arch] ?? arch;
}

/** The applets the images call by name; each a symlink to busybox, as busybox --install makes. */
const APPLETS = ['sh', 'sleep', 'httpd', 'hostname', 'cat', 'echo', 'ls', 'mkdir', 'wget', 'ip', 'true'];

/** /bin/busybox with its applets, plus an empty /tmp: the one layer of every lab image. */
export function busyboxLayer(busybox: Buffer): Layer {
  return layerOf([
    { name: 'bin/', type: 'dir' },
    { name: 'bin/busybox', type: 'file', data: busybox, mode: 0o755 },
    ...APPLETS.map((a) => ({ name: `bin/${a}`, type: 'symlink' as const, target: 'busybox', mode: 0o777 })),
    { name: 'tmp/', type: 'dir', mode: 0o1777 },
  ]);
}

/** One single-platform OCI image: its manifest, and the blobs (config, layers) it names, by digest. */
export interface LabImage {
  /** The full reference it is imported under, e.g. furrow.lab/pause:1. */
  ref: string;
  mediaType: typeof OCI_MEDIA.manifest;
  manifest: Buffer;
  digest: string;
  arch: string;
  config: { digest: string; bytes: Buffer };
  layers: Layer[];
}

export interface ImageConfig {
  entrypoint?: string[];
  cmd?: string[];
  env?: string[];
  exposedPorts?: string[];
  labels?: Record<string, string>;
}

export function ociImage(ref: string, arch: string, layers: Layer[], c: ImageConfig): LabImage {
  const config = Buffer.from(
    JSON.stringify({
      architecture: arch,
      os: 'linux',
      created: '2024-01-01T00:00:00Z',
      config: {
        Env: c.env ?? ['PATH=/bin'],
        ...(c.entrypoint ? { Entrypoint: c.entrypoint } : {}),
        ...(c.cmd ? { Cmd: c.cmd } : {}),
        ...(c.exposedPorts ? { ExposedPorts: Object.fromEntries(c.exposedPorts.map((p) => [p, {}])) } : {}),
        WorkingDir: '/',
        ...(c.labels ? { Labels: c.labels } : {}),
      },
      rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
      history: layers.map(() => ({ created: '2024-01-01T00:00:00Z', created_by: 'furrow lab images' })),
    }),
  );
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MEDIA.manifest,
      config: { mediaType: OCI_MEDIA.config, digest: sha256(config), size: config.length },
      layers: layers.map((l) => ({ mediaType: OCI_MEDIA.layer, digest: l.digest, size: l.blob.length })),
    }),
  );
  return {
    ref,
    mediaType: OCI_MEDIA.manifest,
    manifest,
    digest: sha256(manifest),
    arch,
    config: { digest: sha256(config), bytes: config },
    layers,
  };
}

/** The page the web image serves: the hostname, which in a pod is the pod's name. */
const WEB_SCRIPT =
  'mkdir -p /tmp/www && echo "furrow lab web: $(hostname)" > /tmp/www/index.html && exec httpd -f -p ' +
  '"${PORT:-80}" -h /tmp/www';

/** The sandbox and web images, from this machine's busybox-static (or the busybox binary given). */
export function labImages(busybox: Buffer = staticBusybox(), arch = ociArch()): { pause: LabImage; web: LabImage } {
  const layer = busyboxLayer(busybox);
  return {
    // sleep as PID 1 ignores SIGTERM; the runtime stops a sandbox with SIGKILL, which is enough.
    pause: ociImage(LAB_PAUSE_IMAGE, arch, [layer], {
      entrypoint: ['/bin/busybox', 'sleep', '2147483647'],
      labels: { 'furrow.lab.image': 'pause' },
    }),
    web: ociImage(LAB_WEB_IMAGE, arch, [layer], {
      entrypoint: ['/bin/sh', '-c', WEB_SCRIPT],
      exposedPorts: ['80/tcp'],
      labels: { 'furrow.lab.image': 'web' },
    }),
  };
}

/** Every blob of the images (manifests, configs, layers), each once, by digest. */
export function imageBlobs(images: LabImage[]): Map<string, Buffer> {
  const blobs = new Map<string, Buffer>();
  for (const i of images) {
    blobs.set(i.digest, i.manifest);
    blobs.set(i.config.digest, i.config.bytes);
    for (const l of i.layers) blobs.set(l.digest, l.blob);
  }
  return blobs;
}

/** index.json of a layout: each image by its full name (containerd's annotation) and its tag (OCI's). */
function layoutIndex(images: LabImage[]): Buffer {
  return Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      manifests: images.map((i) => ({
        mediaType: i.mediaType,
        digest: i.digest,
        size: i.manifest.length,
        annotations: {
          'io.containerd.image.name': i.ref,
          'org.opencontainers.image.ref.name': i.ref.slice(i.ref.lastIndexOf(':') + 1),
        },
        platform: { architecture: i.arch, os: 'linux' },
      })),
    }),
  );
}

/** Writes an OCI image layout of the images into dir (oci-layout, index.json, blobs/sha256/). */
export async function imageLayout(dir: string, images: LabImage[]): Promise<void> {
  await mkdir(path.join(dir, 'blobs', 'sha256'), { recursive: true });
  for (const [digest, data] of imageBlobs(images))
    await writeFile(path.join(dir, 'blobs', 'sha256', digest.slice('sha256:'.length)), data);
  await writeFile(path.join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  await writeFile(path.join(dir, 'index.json'), layoutIndex(images));
}

/** The same layout as one tar, for `ctr -n k8s.io images import FILE`. */
export function imageLayoutTar(images: LabImage[]): Buffer {
  return tarOf([
    { name: 'oci-layout', type: 'file', data: Buffer.from('{"imageLayoutVersion":"1.0.0"}') },
    { name: 'index.json', type: 'file', data: layoutIndex(images) },
    { name: 'blobs/', type: 'dir' },
    { name: 'blobs/sha256/', type: 'dir' },
    ...[...imageBlobs(images)].map(([digest, data]) => ({
      name: `blobs/sha256/${digest.slice('sha256:'.length)}`,
      type: 'file' as const,
      data,
    })),
  ]);
}
