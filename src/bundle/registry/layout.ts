/**
 * The OCI image layout's two small files: `oci-layout` and `index.json`, whose entries name the
 * pulled images. `ctr images import` names an image from io.containerd.image.name, other tools
 * from org.opencontainers.image.ref.name; both hold the full normalised name.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { MEDIA } from './media.js';
import type { PulledImage } from './types.js';

export const REF_NAME = 'org.opencontainers.image.ref.name';
export const CONTAINERD_NAME = 'io.containerd.image.name';

interface LayoutIndex {
  schemaVersion: 2;
  mediaType?: string;
  manifests: { mediaType: string; digest: string; size: number; annotations?: Record<string, string> }[];
  [key: string]: unknown;
}

async function writeAtomic(file: string, text: string): Promise<void> {
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.partial`;
  try {
    await writeFile(tmp, text, { mode: 0o644 });
    await rename(tmp, file);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
}

/** Adds or updates the layout's index.json entry of each image (one entry per name) and writes oci-layout. */
export async function addToLayoutIndex(layoutDir: string, images: PulledImage[]): Promise<void> {
  await mkdir(layoutDir, { recursive: true });
  const indexFile = path.join(layoutDir, 'index.json');
  let index: LayoutIndex = { schemaVersion: 2, mediaType: MEDIA.ociIndex, manifests: [] };
  const existing = await readFile(indexFile, 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  });
  if (existing !== undefined) {
    const parsed = JSON.parse(existing) as LayoutIndex;
    if (!Array.isArray(parsed.manifests)) throw new Error(`${indexFile}: not an OCI image index (no manifests list)`);
    index = parsed;
  }
  for (const image of images) {
    const top = image.blobs.find((b) => b.digest === image.digest);
    if (!top) throw new Error(`${image.name}: its top-level blob ${image.digest} is not among its blobs`);
    const entry = {
      mediaType: image.mediaType,
      digest: image.digest,
      size: top.size,
      annotations: { [CONTAINERD_NAME]: image.name, [REF_NAME]: image.name },
    };
    const at = index.manifests.findIndex(
      (m) => m.annotations?.[REF_NAME] === image.name || m.annotations?.[CONTAINERD_NAME] === image.name,
    );
    if (at >= 0) index.manifests[at] = entry;
    else index.manifests.push(entry);
  }
  await writeAtomic(path.join(layoutDir, 'oci-layout'), `${JSON.stringify({ imageLayoutVersion: '1.0.0' })}\n`);
  await writeAtomic(indexFile, `${JSON.stringify(index, null, 2)}\n`);
}
