import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { pullFromLayout } from '../../../src/bundle/registry/layout-source.js';
import { imageLayout, labImages } from '../../../src/lab/images.js';

/** The images' structure does not depend on what the binary is. */
const images = labImages(Buffer.from('not really busybox\n'), 'amd64');

describe('bundle images from an OCI image layout', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'furrow-layout-src-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  test('copies the manifest, config and layer, keeps the layout digest, and names the image', async () => {
    const layout = path.join(dir, 'layout');
    await imageLayout(layout, [images.pause, images.web]);
    const blobDir = path.join(dir, 'blobs');
    const pulled = await pullFromLayout('furrow.lab/pause:1', pathToFileURL(layout).href, {
      arches: ['amd64'],
      blobDir,
    });
    expect(pulled.digest).toBe(images.pause.digest);
    expect(pulled.name).toBe('furrow.lab/pause:1');
    expect(pulled.platforms).toEqual([
      expect.objectContaining({
        arch: 'amd64',
        os: 'linux',
        manifest: images.pause.digest,
        config: images.pause.config.digest,
      }),
    ]);
    expect(pulled.blobs.map((b) => b.fetched)).toEqual([true, true, true]);
    expect(readdirSync(blobDir).sort()).toEqual(
      [images.pause.digest, images.pause.config.digest, images.pause.layers[0]!.digest].map((d) => d.slice(7)).sort(),
    );
    // Again: every blob is present.
    const again = await pullFromLayout('furrow.lab/pause:1', layout, { arches: ['amd64'], blobDir });
    expect(again.blobs.every((b) => !b.fetched)).toBe(true);
  });

  test('an image the layout does not name, a damaged blob, another arch: errors that say so', async () => {
    const layout = path.join(dir, 'layout');
    await imageLayout(layout, [images.pause]);
    const blobDir = path.join(dir, 'blobs');
    await expect(pullFromLayout('furrow.lab/web:1', layout, { arches: ['amd64'], blobDir })).rejects.toThrow(
      /names no such image \(it has: furrow\.lab\/pause:1\)/,
    );
    await expect(pullFromLayout('furrow.lab/pause:1', layout, { arches: ['arm64'], blobDir })).rejects.toThrow(
      /is for amd64, the build asks for arm64/,
    );
    const layer = images.pause.layers[0]!.digest;
    writeFileSync(path.join(layout, 'blobs', 'sha256', layer.slice(7)), 'damaged');
    await expect(pullFromLayout('furrow.lab/pause:1', layout, { arches: ['amd64'], blobDir })).rejects.toThrow(
      new RegExp(`blob ${layer}: .*write the layout again|blob ${layer}`),
    );
    expect(readdirSync(blobDir)).not.toContain(layer.slice(7));
  });
});
