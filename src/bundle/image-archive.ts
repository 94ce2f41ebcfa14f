import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import * as tar from 'tar';

/**
 * One image of an OCI image layout (the bundle's images/), as a tar stream a container runtime
 * imports from standard input: an OCI layout of just that image for `ctr images import`, or
 * docker's own archive format (manifest.json, config, layer files) for `docker load`, which before
 * Docker 25 does not read OCI layouts. Only the host's platform goes in: blobs of other
 * architectures are never sent.
 */

const INDEX_TYPES = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
];

interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: { architecture: string; os: string; variant?: string };
  annotations?: Record<string, string>;
}

export interface ImagePlatform {
  /** The top-level object (index or manifest), as the registry served it. */
  top: Descriptor;
  manifest: Descriptor;
  config: Descriptor;
  layers: Descriptor[];
}

const blobPath = (layout: string, digest: string) => path.join(layout, 'blobs', ...digest.split(':'));

async function readBlobJson<T>(layout: string, digest: string): Promise<T> {
  // Synchronously: small JSON, read for every image of every host (see pki/store.ts readIfExists).
  return JSON.parse(readFileSync(blobPath(layout, digest), 'utf8')) as T;
}

/** The image `digest` of the layout, resolved to `arch`'s manifest, config and layers. */
export async function imageForPlatform(layout: string, digest: string, arch: string): Promise<ImagePlatform> {
  const index = JSON.parse(readFileSync(path.join(layout, 'index.json'), 'utf8')) as { manifests: Descriptor[] };
  const top = index.manifests.find((m) => m.digest === digest);
  if (!top) throw new Error(`the layout ${layout} has no image ${digest}`);
  let manifest = top;
  if (INDEX_TYPES.includes(top.mediaType)) {
    const list = await readBlobJson<{ manifests: Descriptor[] }>(layout, digest);
    const found = list.manifests.find(
      (m) => m.platform?.architecture === arch && (m.platform.os ?? 'linux') === 'linux',
    );
    if (!found)
      throw new Error(
        `image ${digest} has no linux/${arch} manifest (it has ` +
          `${list.manifests.map((m) => m.platform?.architecture).join(', ')})`,
      );
    manifest = found;
  }
  const m = await readBlobJson<{ config: Descriptor; layers: Descriptor[] }>(layout, manifest.digest);
  const config = await readBlobJson<{ architecture?: string }>(layout, m.config.digest).catch(
    () => ({}) as { architecture?: string },
  );
  if (config.architecture && config.architecture !== arch)
    throw new Error(`image ${digest} is for ${config.architecture}, the host is ${arch}`);
  return { top, manifest, config: m.config, layers: m.layers };
}

/**
 * A tar stream of `files` (archive name -> file on the controller), built in a temp folder of links; `done` removes it.
 */
async function linkedTar(
  files: Map<string, string>,
  texts: Map<string, string>,
): Promise<{ stream: Readable; done: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'furrow-image-'));
  for (const [name, text] of texts) {
    await mkdir(path.dirname(path.join(dir, name)), { recursive: true });
    await writeFile(path.join(dir, name), text);
  }
  for (const [name, target] of files) {
    await mkdir(path.dirname(path.join(dir, name)), { recursive: true });
    await symlink(path.resolve(target), path.join(dir, name));
  }
  const stream = tar.c({ cwd: dir, follow: true, portable: true }, [
    ...texts.keys(),
    ...files.keys(),
  ]) as unknown as Readable;
  return { stream, done: () => rm(dir, { recursive: true, force: true }) };
}

/** An OCI layout holding one image (its index or manifest kept as it is, its other platforms left out). */
export async function ociImportTar(
  layout: string,
  image: ImagePlatform,
  name: string,
): Promise<{ stream: Readable; done: () => Promise<void> }> {
  const tag = /:([^/:@]+)$/.exec(name.split('@')[0]!)?.[1];
  const annotations: Record<string, string> = {
    'io.containerd.image.name': name,
    ...(tag ? { 'org.opencontainers.image.ref.name': tag } : {}),
  };
  const index = {
    schemaVersion: 2,
    manifests: [{ mediaType: image.top.mediaType, digest: image.top.digest, size: image.top.size, annotations }],
  };
  const blobs = [image.top, image.manifest, image.config, ...image.layers];
  const files = new Map(blobs.map((b) => [`blobs/${b.digest.replace(':', '/')}`, blobPath(layout, b.digest)]));
  const texts = new Map([
    ['oci-layout', '{"imageLayoutVersion":"1.0.0"}'],
    ['index.json', JSON.stringify(index)],
  ]);
  return linkedTar(files, texts);
}

/** docker load's format: manifest.json naming the config and layer files, plus those files. */
export async function dockerLoadTar(
  layout: string,
  image: ImagePlatform,
  name: string,
): Promise<{ stream: Readable; done: () => Promise<void> }> {
  const hex = (d: Descriptor) => d.digest.replace(/^sha256:/, '');
  const repoTags = name.includes('@') ? [] : [name];
  const manifest = [
    { Config: `${hex(image.config)}.json`, RepoTags: repoTags, Layers: image.layers.map((l) => `${hex(l)}/layer.tar`) },
  ];
  const files = new Map<string, string>([[`${hex(image.config)}.json`, blobPath(layout, image.config.digest)]]);
  for (const l of image.layers) files.set(`${hex(l)}/layer.tar`, blobPath(layout, l.digest));
  return linkedTar(files, new Map([['manifest.json', JSON.stringify(manifest)]]));
}
