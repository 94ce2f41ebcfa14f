import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import {
  imageLayout,
  imageLayoutTar,
  isStaticElf,
  LAB_PAUSE_IMAGE,
  LAB_WEB_IMAGE,
  labImages,
  staticBusybox,
} from '../../../src/lab/images.js';

/** A stand-in for busybox: the images' structure does not depend on what the binary is. */
const FAKE_BUSYBOX = Buffer.from('not really busybox\n');
const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

describe('lab images (from busybox-static)', () => {
  test('the same busybox gives the same digests, and another busybox other ones', () => {
    const a = labImages(FAKE_BUSYBOX, 'amd64');
    const b = labImages(Buffer.from(FAKE_BUSYBOX), 'amd64');
    expect(a.pause.digest).toBe(b.pause.digest);
    expect(a.web.digest).toBe(b.web.digest);
    expect(labImages(Buffer.from('other'), 'amd64').pause.digest).not.toBe(a.pause.digest);
    expect(a.pause.digest).not.toBe(a.web.digest);
  });

  test('pause blocks forever; web serves a page naming the hostname with httpd; both for the platform asked', () => {
    const { pause, web } = labImages(FAKE_BUSYBOX, 'arm64');
    const config = (i: typeof pause) =>
      JSON.parse(i.config.bytes.toString()) as {
        architecture: string;
        os: string;
        config: { Entrypoint: string[] };
        rootfs: { diff_ids: string[] };
      };
    expect(pause.ref).toBe(LAB_PAUSE_IMAGE);
    expect(config(pause).config.Entrypoint).toEqual(['/bin/busybox', 'sleep', '2147483647']);
    expect(config(pause)).toMatchObject({ architecture: 'arm64', os: 'linux' });
    expect(web.ref).toBe(LAB_WEB_IMAGE);
    expect(config(web).config.Entrypoint.join(' ')).toMatch(/echo "furrow lab web: \$\(hostname\)".*exec httpd -f -p/);
    // The manifest names the config and layer by the digests of their bytes; diff_ids are of the plain tar.
    const manifest = JSON.parse(web.manifest.toString()) as {
      config: { digest: string; size: number };
      layers: { digest: string; size: number }[];
    };
    expect(manifest.config).toMatchObject({ digest: sha(web.config.bytes), size: web.config.bytes.length });
    expect(manifest.layers).toEqual([
      {
        mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
        digest: sha(web.layers[0]!.blob),
        size: web.layers[0]!.blob.length,
      },
    ]);
    expect(config(web).rootfs.diff_ids).toEqual([sha(gunzipSync(web.layers[0]!.blob))]);
  });

  test('the layer holds busybox and its applets as links, readable by tar', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'furrow-images-test-'));
    try {
      const { web } = labImages(FAKE_BUSYBOX, 'amd64');
      writeFileSync(path.join(dir, 'layer.tar.gz'), web.layers[0]!.blob);
      const listing = execFileSync('tar', ['-tvzf', path.join(dir, 'layer.tar.gz')]).toString();
      expect(listing).toMatch(/^-rwxr-xr-x root\/root +19 .* bin\/busybox$/m);
      expect(listing).toMatch(/bin\/sh -> busybox$/m);
      expect(listing).toMatch(/bin\/httpd -> busybox$/m);
      expect(listing).toMatch(/^drwxrwxrwt .* tmp\/$/m);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('the layout (as files and as one tar) names each image for containerd and holds every blob once', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'furrow-images-test-'));
    try {
      const { pause, web } = labImages(FAKE_BUSYBOX, 'amd64');
      await imageLayout(path.join(dir, 'layout'), [pause, web]);
      writeFileSync(path.join(dir, 'layout.tar'), imageLayoutTar([pause, web]));
      execFileSync('mkdir', [path.join(dir, 'untarred')]);
      execFileSync('tar', ['-xf', path.join(dir, 'layout.tar'), '-C', path.join(dir, 'untarred')]);
      for (const root of ['layout', 'untarred']) {
        const index = JSON.parse(readFileSync(path.join(dir, root, 'index.json'), 'utf8')) as {
          manifests: { digest: string; annotations: Record<string, string> }[];
        };
        expect(
          index.manifests.map((m) => [
            m.digest,
            m.annotations['io.containerd.image.name'],
            m.annotations['org.opencontainers.image.ref.name'],
          ]),
        ).toEqual([
          [pause.digest, LAB_PAUSE_IMAGE, '1'],
          [web.digest, LAB_WEB_IMAGE, '1'],
        ]);
        expect(readFileSync(path.join(dir, root, 'oci-layout'), 'utf8')).toBe('{"imageLayoutVersion":"1.0.0"}');
        // Two manifests, two configs, one shared layer; each file's name is its own digest.
        const blobs = execFileSync('ls', [path.join(dir, root, 'blobs', 'sha256')])
          .toString()
          .trim()
          .split('\n');
        expect(blobs).toHaveLength(5);
        for (const b of blobs)
          expect(sha(readFileSync(path.join(dir, root, 'blobs', 'sha256', b)))).toBe(`sha256:${b}`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('only a static ELF binary is taken as busybox-static', () => {
    // Node itself is dynamically linked; a text file is no ELF at all.
    expect(isStaticElf(readFileSync(process.execPath))).toBe(false);
    expect(isStaticElf(FAKE_BUSYBOX)).toBe(false);
    const dir = mkdtempSync(path.join(os.tmpdir(), 'furrow-images-test-'));
    try {
      writeFileSync(path.join(dir, 'busybox'), FAKE_BUSYBOX);
      expect(() => staticBusybox(path.join(dir, 'busybox'))).toThrow(
        /not a static 64-bit binary.*apt-get install busybox-static/,
      );
      expect(() => staticBusybox(path.join(dir, 'missing'))).toThrow(/is missing: apt-get install busybox-static/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
