/**
 * An image taken from an OCI image layout on disk instead of its registry: for images made on the
 * build machine (the lab's, built from busybox-static) that no registry serves. The layout's
 * index.json names the image (io.containerd.image.name or org.opencontainers.image.ref.name); its
 * manifest, config and layers are copied into the bundle's blobs, each checked against its digest,
 * so a damaged layout stops the build as a damaged download would.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { InputError, type SourcePlace } from '../../engine/errors.js';
import { BlobStore, sha256Hex } from './blob-store.js';
import { CONTAINERD_NAME, REF_NAME } from './layout.js';
import { parseManifest, type Descriptor } from './media.js';
import { parseImageRef } from './reference.js';
import type { PulledBlob, PulledImage } from './types.js';

/** A layout given as a path or a file:// URL. */
export function layoutPath(location: string): string {
  return location.startsWith('file://') ? fileURLToPath(location) : path.resolve(location);
}

export async function pullFromLayout(
  ref: string,
  location: string,
  o: { arches: string[]; blobDir: string; place?: SourcePlace },
): Promise<PulledImage> {
  const dir = layoutPath(location);
  const image = parseImageRef(ref);
  const bad = (what: string, fix: string) =>
    new InputError(o.place, `image ${ref} from the layout ${dir}: ${what}`, fix);
  const index = JSON.parse(await readFile(path.join(dir, 'index.json'), 'utf8').catch(() => '{}')) as {
    manifests?: Descriptor[];
  };
  const names = (d: Descriptor) => [d.annotations?.[CONTAINERD_NAME], d.annotations?.[REF_NAME]];
  const entry = (index.manifests ?? []).find((d) => names(d).some((n) => n === ref || n === image.name));
  if (!entry) {
    const has = (index.manifests ?? []).map((d) => names(d).find(Boolean) ?? d.digest).join(', ');
    throw bad(
      `index.json names no such image (it has: ${has || 'nothing, or no index.json'})`,
      'give the layout that holds the image, or its name as the layout names it',
    );
  }
  const store = new BlobStore(o.blobDir);
  const blobs: PulledBlob[] = [];
  const copy = async (d: { digest: string; size: number }): Promise<Buffer> => {
    if (!sha256Hex(d.digest))
      throw bad(`blob ${d.digest} is not a sha256 digest`, 'only sha256 layouts can be bundled');
    // A blob the bundle holds already (verified) is not read from the layout again.
    if (await store.has(d.digest, d.size)) {
      blobs.push({ digest: d.digest, size: d.size, fetched: false });
      return readFile(store.file(d.digest));
    }
    const bytes = await readFile(path.join(dir, 'blobs', 'sha256', sha256Hex(d.digest)!)).catch(() => undefined);
    if (!bytes) throw bad(`blob ${d.digest} is missing`, 'write the layout again');
    await store
      .putBytes(d.digest, bytes, d.size)
      .catch((err: Error) => Promise.reject(bad(`blob ${d.digest}: ${err.message}`, 'write the layout again')));
    blobs.push({ digest: d.digest, size: d.size, fetched: true });
    return bytes;
  };
  const top = await copy(entry);
  const parsed = parseManifest(top, entry.mediaType);
  if (parsed.kind !== 'manifest')
    throw bad(
      `is ${parsed.kind === 'index' ? 'an image index' : `not an image manifest (${parsed.mediaType})`}`,
      'a layout image is bundled as one single-platform manifest',
    );
  const config = JSON.parse((await copy(parsed.config)).toString('utf8')) as {
    os?: string;
    architecture?: string;
    variant?: string;
  };
  const arch = config.architecture ?? 'amd64';
  if (!o.arches.includes(arch))
    throw bad(
      `is for ${arch}, the build asks for ${o.arches.join(', ')}`,
      `build it for ${o.arches.join(', ')}, or give the image arch: [${arch}]`,
    );
  for (const layer of parsed.layers) await copy(layer);
  return {
    ref,
    name: image.name,
    digest: entry.digest,
    mediaType: parsed.mediaType,
    platforms: [
      {
        os: config.os ?? 'linux',
        arch,
        ...(config.variant ? { variant: config.variant } : {}),
        manifest: entry.digest,
        config: parsed.config.digest,
        layers: parsed.layers.map((l) => l.digest),
        size: blobs.reduce((n, b) => n + b.size, 0),
      },
    ],
    missingArches: o.arches.filter((a) => a !== arch),
    blobs,
  };
}
