import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { BlobMismatch, BlobStore, sha256Digest } from '../../../src/bundle/registry/blob-store.js';
import {
  addToLayoutIndex,
  CONTAINERD_NAME,
  MEDIA,
  REF_NAME,
  type PulledImage,
} from '../../../src/bundle/registry/index.js';

const hex = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

describe('blob store', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'furrow-blobs-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  test(
    'a streamed blob is stored under its hex once verified; a present one checks out; a ' + 'flipped byte does not',
    async () => {
      const data = Buffer.alloc(3 << 20, 7);
      const store = new BlobStore(dir);
      const seen: number[] = [];
      await store.putStream(
        Readable.from([data.subarray(0, 1 << 20), data.subarray(1 << 20)]),
        sha256Digest(data),
        data.length,
        (n) => seen.push(n),
      );
      expect(readdirSync(dir)).toEqual([hex(data)]);
      expect(seen.at(-1)).toBe(data.length);
      expect(await store.has(sha256Digest(data), data.length)).toBe(true);
      expect(await store.has(sha256Digest(data), data.length + 1)).toBe(false);

      const file = path.join(dir, hex(data));
      const flipped = Buffer.from(data);
      flipped[12345] ^= 1;
      writeFileSync(file, flipped);
      expect(await new BlobStore(dir).has(sha256Digest(data))).toBe(false);
      expect(await store.has(sha256Digest(data))).toBe(false); // the file changed, so it is hashed again
    },
  );

  test('content that does not match its digest or size leaves no file behind', async () => {
    const store = new BlobStore(dir);
    const want = sha256Digest('right');
    const wrong = await store.putStream(Readable.from([Buffer.from('wrong')]), want, 5).catch((e: unknown) => e);
    expect(wrong).toBeInstanceOf(BlobMismatch);
    expect((wrong as BlobMismatch).actual).toBe(sha256Digest('wrong'));
    const long = await store
      .putStream(Readable.from([Buffer.from('right'), Buffer.from('and more')]), want, 5)
      .catch((e: unknown) => e);
    expect((long as BlobMismatch).actual).toBeUndefined();
    expect((long as BlobMismatch).message).toMatch(/more than the 5 bytes/);
    await expect(store.putBytes(want, Buffer.from('right'), 4)).rejects.toThrow(/5 bytes .* where 4 were expected/);
    expect(readdirSync(dir)).toEqual([]);
  });
});

describe('OCI layout index', () => {
  test(
    'entries carry the full name for ctr and OCI tools; a second add replaces the entry ' + 'of the same name',
    async () => {
      const dir = mkdtempSync(path.join(os.tmpdir(), 'furrow-layout-'));
      try {
        const image = (name: string, digest: string, mediaType: string): PulledImage => ({
          ref: name,
          name,
          digest,
          mediaType,
          platforms: [],
          missingArches: [],
          blobs: [{ digest, size: 321, fetched: true }],
        });
        const a = sha256Digest('a');
        const b = sha256Digest('b');
        await addToLayoutIndex(dir, [
          image('docker.io/library/busybox:1.36', a, MEDIA.dockerList),
          image('127.0.0.1:5000/x:1', b, MEDIA.ociManifest),
        ]);
        await addToLayoutIndex(dir, [image('docker.io/library/busybox:1.36', b, MEDIA.ociIndex)]);
        expect(JSON.parse(readFileSync(path.join(dir, 'oci-layout'), 'utf8'))).toEqual({ imageLayoutVersion: '1.0.0' });
        const index = JSON.parse(readFileSync(path.join(dir, 'index.json'), 'utf8'));
        expect(index).toEqual({
          schemaVersion: 2,
          mediaType: MEDIA.ociIndex,
          manifests: [
            {
              mediaType: MEDIA.ociIndex,
              digest: b,
              size: 321,
              annotations: {
                [CONTAINERD_NAME]: 'docker.io/library/busybox:1.36',
                [REF_NAME]: 'docker.io/library/busybox:1.36',
              },
            },
            {
              mediaType: MEDIA.ociManifest,
              digest: b,
              size: 321,
              annotations: { [CONTAINERD_NAME]: '127.0.0.1:5000/x:1', [REF_NAME]: '127.0.0.1:5000/x:1' },
            },
          ],
        });
        expect(readdirSync(dir).sort()).toEqual(['index.json', 'oci-layout']);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );
});
