import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import {
  addToLayoutIndex,
  MANIFEST_ACCEPT,
  MEDIA,
  RegistryClient,
  RegistryError,
  type PulledImage,
  type RegistryConfig,
} from '../../src/bundle/registry/index.js';
import { busyboxLayer, fileLayer, imageManifest, pushImage, type TestImage } from '../support/images.js';
import { pushTestImages, startRegistry, type TestImages, type TestRegistry } from '../support/registry.js';
import { describeLab } from './support.js';

const AUTH = { username: 'furrow', password: 'registry-secret' };
const hexOf = (data: Buffer) => createHash('sha256').update(data).digest('hex');

/** Every file in a blob folder is named by the sha256 of its content, and nothing else is there. */
function expectIntact(blobDir: string): string[] {
  const names = readdirSync(blobDir).sort();
  for (const name of names) expect([name, hexOf(readFileSync(path.join(blobDir, name)))]).toEqual([name, name]);
  return names.map((n) => `sha256:${n}`);
}

async function errorOf(work: Promise<unknown>): Promise<RegistryError> {
  const err = await work.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (err instanceof RegistryError) return err;
  throw err ?? new Error('expected a RegistryError, the pull succeeded');
}

/** A loopback port with nothing listening on it. */
function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/**
 * The registry client against Debian's real docker-registry on loopback: images built and pushed
 * by the test (Docker schema2, OCI, an OCI index and a Docker manifest list), Basic and Bearer
 * token auth, a mirror, blob redirects, damaged blobs on either side.
 */
describeLab('registry client pulls from real registries into OCI layout blobs', () => {
  const work = mkdtempSync(path.join(os.tmpdir(), 'furrow-registry-lab-'));
  let dirs = 0;
  const blobDir = () => path.join(work, `blobs-${++dirs}`, 'blobs', 'sha256');
  /** Every registry that came up, stopped in afterAll even when another failed to start. */
  const started: TestRegistry[] = [];
  let plain: TestRegistry;
  let basic: TestRegistry;
  let token: TestRegistry;
  let mirror: TestRegistry;
  let redirect: TestRegistry;
  let images: TestImages & { auth: TestImage; authRef: string };
  let onToken: TestImage;
  let onRedirect: TestImage;

  beforeAll(async () => {
    const start = async (opts?: Parameters<typeof startRegistry>[0]) => {
      const r = await startRegistry(opts);
      started.push(r);
      return r;
    };
    [plain, basic, token, mirror, redirect] = await Promise.all([
      start(),
      start({ auth: AUTH }),
      start({ auth: AUTH, token: true }),
      start(),
      start({ auth: AUTH, redirectBlobs: true }),
    ]);
    images = await pushTestImages(plain, basic);
    const bb = images.busybox;
    const layer = await busyboxLayer();
    const busyboxAgain = (r: TestRegistry, repository: string) =>
      pushImage(r, repository, '1', imageManifest('docker', 'amd64', [layer], 'busybox'));
    onToken = await busyboxAgain(token, 'furrow-test/busybox');
    onRedirect = await busyboxAgain(redirect, 'furrow-test/busybox');
    // The mirror holds busybox under the same repository path as the registry it mirrors.
    const mirrored = await busyboxAgain(mirror, bb.repository);
    expect(mirrored.digest).toBe(bb.digest);
  }, 180_000);

  afterAll(async () => {
    await Promise.allSettled(started.map((r) => r.stop()));
    rmSync(work, { recursive: true, force: true });
  });

  test(
    'a Docker schema2 image: manifest, config and layer stored under their digests, the digest ' + "is the registry's",
    async () => {
      const dir = blobDir();
      const events: { blob?: string; done?: boolean }[] = [];
      const pulled = await new RegistryClient().pull(images.busybox.ref, {
        arches: ['amd64'],
        blobDir: dir,
        onProgress: (e) => events.push(e),
      });
      const p = images.busybox.platforms[0]!;
      expect(pulled).toEqual({
        ref: images.busybox.ref,
        name: `${plain.host}/furrow-test/busybox:1`,
        digest: images.busybox.digest,
        mediaType: MEDIA.dockerManifest,
        platforms: [
          {
            os: 'linux',
            arch: 'amd64',
            manifest: images.busybox.digest,
            config: p.config,
            layers: [images.sharedLayer],
            size: expect.any(Number),
          },
        ],
        missingArches: [],
        blobs: [images.busybox.digest, p.config, images.sharedLayer].map((digest) => ({
          digest,
          size: expect.any(Number),
          fetched: true,
        })),
      });
      expect(pulled.platforms[0]!.size).toBe(pulled.blobs.reduce((n, b) => n + b.size, 0));
      expect(expectIntact(dir)).toEqual([...images.busybox.blobs].sort());
      expect(events).toContainEqual(expect.objectContaining({ blob: images.sharedLayer, done: true }));
      expect(events.at(-1)).toEqual({ image: images.busybox.ref, done: true });
    },
  );

  test('an OCI image with two layers', async () => {
    const dir = blobDir();
    const pulled = await new RegistryClient().pull(images.extra.ref, { arches: ['amd64'], blobDir: dir });
    expect([pulled.digest, pulled.mediaType]).toEqual([images.extra.digest, MEDIA.ociManifest]);
    expect(pulled.platforms.map((x) => x.layers)).toEqual([images.extra.platforms[0]!.layers]);
    expect(pulled.platforms[0]!.layers[0]).toBe(images.sharedLayer);
    expect(expectIntact(dir)).toEqual([...images.extra.blobs].sort());
  });

  test(
    "a multi-arch OCI index for amd64 and arm64: the index kept byte for byte under the registry's " +
      'Docker-Content-Digest',
    async () => {
      const served = await fetch(`${plain.url}/v2/furrow-test/multi/manifests/1`, {
        headers: { accept: MANIFEST_ACCEPT },
      });
      const servedBytes = Buffer.from(await served.arrayBuffer());
      const dir = blobDir();
      const pulled = await new RegistryClient().pull(images.multi.ref, { arches: ['amd64', 'arm64'], blobDir: dir });
      expect(pulled.digest).toBe(served.headers.get('docker-content-digest'));
      expect([pulled.digest, pulled.mediaType]).toEqual([images.multi.digest, MEDIA.ociIndex]);
      expect(readFileSync(path.join(dir, pulled.digest.slice(7)))).toEqual(servedBytes);
      expect(pulled.platforms.map((x) => [x.os, x.arch, x.variant, x.manifest, x.layers])).toEqual(
        images.multi.platforms.map((x) => ['linux', x.arch, x.variant, x.manifest, x.layers]),
      );
      expect(pulled.blobs).toHaveLength(7);
      expect(expectIntact(dir)).toEqual([...images.multi.blobs].sort());
    },
  );

  test(
    'the same index for amd64 only: the whole index is kept, only the amd64 manifest, config and ' + 'layer are stored',
    async () => {
      const dir = blobDir();
      const pulled = await new RegistryClient().pull(images.multi.ref, { arches: ['amd64'], blobDir: dir });
      const amd64 = images.multi.platforms.find((x) => x.arch === 'amd64')!;
      expect(pulled.digest).toBe(images.multi.digest);
      expect(pulled.platforms.map((x) => x.arch)).toEqual(['amd64']);
      expect(expectIntact(dir)).toEqual([images.multi.digest, amd64.manifest, amd64.config, ...amd64.layers].sort());
    },
  );

  test(
    'a Docker manifest list for arm64 and amd64, and a platform the index lacks is ' + 'reported, not pulled',
    async () => {
      const dir = blobDir();
      const pulled = await new RegistryClient().pull(images.multiDocker.ref, {
        arches: ['arm64', 'amd64', 's390x'],
        blobDir: dir,
      });
      expect([pulled.digest, pulled.mediaType]).toEqual([images.multiDocker.digest, MEDIA.dockerList]);
      expect(pulled.platforms.map((x) => `${x.arch}/${x.variant ?? ''}`)).toEqual(['arm64/v8', 'amd64/']);
      expect(pulled.missingArches).toEqual(['s390x']);
      expect(expectIntact(dir)).toEqual([...images.multiDocker.blobs].sort());
    },
  );

  test('an image without the wanted architecture is an error naming the image and what it has', async () => {
    const client = new RegistryClient();
    const single = await errorOf(client.pull(images.busybox.ref, { arches: ['arm64'], blobDir: blobDir() }));
    expect(single.kind).toBe('platform');
    expect(single.message).toBe(
      `${images.busybox.ref}: is a single-platform image for linux/amd64, not for arm64: pull it for amd64, or ` +
        `choose a multi-arch tag`,
    );
    const index = await errorOf(client.pull(images.multi.ref, { arches: ['s390x', 'riscv64'], blobDir: blobDir() }));
    expect(index.message).toBe(
      `${images.multi.ref}: has no image for s390x, riscv64; it has linux/amd64, linux/arm64/v8: pull arches it ` +
        `has, or another tag`,
    );
  });

  test("a tag that does not exist: 404 with the registry's own error code and what to check", async () => {
    const err = await errorOf(
      new RegistryClient().pull(`${plain.host}/furrow-test/busybox:nope`, { arches: ['amd64'], blobDir: blobDir() }),
    );
    expect([err.kind, err.status, err.endpoint]).toEqual(['not-found', 404, plain.url]);
    expect(err.message).toContain(
      `GET ${plain.url}/v2/furrow-test/busybox/manifests/nope answered 404 Not Found (MANIFEST_UNKNOWN`,
    );
    expect(err.message).toContain('check the image name and tag');
  });

  test(
    'the shared busybox layer is stored once: the second image does not fetch it, nor do ' + 'two pulls at once',
    async () => {
      const dir = blobDir();
      const client = new RegistryClient();
      await client.pull(images.busybox.ref, { arches: ['amd64'], blobDir: dir });
      const before = plain.requestCount();
      const extra = await client.pull(images.extra.ref, { arches: ['amd64'], blobDir: dir });
      expect(extra.blobs.find((b) => b.digest === images.sharedLayer)!.fetched).toBe(false);
      expect(plain.requestCount() - before).toBe(3); // manifest, config, its own layer
      expect(expectIntact(dir)).toEqual([...new Set([...images.busybox.blobs, ...images.extra.blobs])].sort());

      // One client pulling both at once into an empty folder fetches the shared layer once.
      const together = blobDir();
      const start = plain.requestCount();
      const both = await Promise.all(
        [images.busybox.ref, images.extra.ref].map((ref) => client.pull(ref, { arches: ['amd64'], blobDir: together })),
      );
      expect(plain.requestCount() - start).toBe(6);
      expect(both.map((p) => p.blobs.find((b) => b.digest === images.sharedLayer)!.fetched).sort()).toEqual([
        false,
        true,
      ]);
      expectIntact(together);
    },
  );

  test('a rebuild that knows the earlier resolution makes zero requests and reports every blob present', async () => {
    const dir = blobDir();
    const client = new RegistryClient();
    const first: PulledImage[] = [];
    for (const [ref, arches] of [
      [images.multi.ref, ['amd64', 'arm64']],
      [images.busybox.ref, ['amd64']],
      [images.extra.ref, ['amd64']],
    ] as const) {
      first.push(await client.pull(ref, { arches: [...arches], blobDir: dir }));
    }
    const before = plain.requestCount();
    const again = new RegistryClient();
    for (const [i, earlier] of first.entries()) {
      const arches = i === 0 ? ['amd64', 'arm64'] : ['amd64'];
      const pulled = await again.pull(earlier.ref, {
        arches,
        blobDir: dir,
        known: { digest: earlier.digest, mediaType: earlier.mediaType },
      });
      expect(pulled).toEqual({ ...earlier, blobs: earlier.blobs.map((b) => ({ ...b, fetched: false })) });
    }
    expect(plain.requestCount()).toBe(before);
    // Without `known` only the tag is asked again: one request.
    await again.pull(images.busybox.ref, { arches: ['amd64'], blobDir: dir });
    expect(plain.requestCount()).toBe(before + 1);
  });

  test('a corrupted blob in blobDir is detected and fetched again, and only that one', async () => {
    const dir = blobDir();
    const first = await new RegistryClient().pull(images.busybox.ref, { arches: ['amd64'], blobDir: dir });
    const file = path.join(dir, images.sharedLayer.slice(7));
    const data = readFileSync(file);
    data[1000] ^= 0xff;
    writeFileSync(file, data);
    const before = plain.requestCount();
    const again = await new RegistryClient().pull(images.busybox.ref, {
      arches: ['amd64'],
      blobDir: dir,
      known: { digest: first.digest, mediaType: first.mediaType },
    });
    expect(again.blobs.map((b) => [b.digest, b.fetched])).toEqual(
      first.blobs.map((b) => [b.digest, b.digest === images.sharedLayer]),
    );
    expect(plain.requestCount() - before).toBe(1);
    expectIntact(dir);
  });

  test(
    'content the registry serves that does not match its digest: an error naming the image and both digests, ' +
      'and no file left',
    async () => {
      const damaged = await pushImage(
        plain,
        'furrow-test/damaged',
        '1',
        imageManifest('oci', 'amd64', [fileLayer('etc/damaged', 'x'.repeat(4096))], 'damaged'),
      );
      const layer = damaged.platforms[0]!.layers[0]!;
      const stored = readFileSync(plain.blobFile(layer));
      stored[stored.length - 10] ^= 0xff;
      writeFileSync(plain.blobFile(layer), stored);
      const dir = blobDir();
      const err = await errorOf(new RegistryClient().pull(damaged.ref, { arches: ['amd64'], blobDir: dir }));
      expect(err.kind).toBe('integrity');
      expect(err.message).toContain(damaged.ref);
      expect(err.message).toContain(`expected ${layer}, got sha256:${hexOf(stored)} (${stored.length} bytes)`);
      expect(err.message).toMatch(/nothing was stored/);
      expect(existsSync(path.join(dir, layer.slice(7)))).toBe(false);
      expect(readdirSync(dir).filter((f) => f.includes('partial'))).toEqual([]);
    },
  );

  test(
    'basic auth: without credentials the error says 401 and where credentials go; wrong ones are refused; ' +
      'right ones pull',
    async () => {
      const ref = images.authRef;
      const none = await errorOf(new RegistryClient().pull(ref, { arches: ['amd64'], blobDir: blobDir() }));
      expect([none.kind, none.status]).toEqual(['auth', 401]);
      expect(none.message).toContain(
        `${ref}: GET ${basic.url}/v2/furrow-test/busybox/manifests/1 answered 401 Unauthorized`,
      );
      expect(none.message).toContain(
        `add auth (username, password) for '${basic.host}' in the bundle manifest's registries section`,
      );
      const wrong = await errorOf(
        new RegistryClient({ [basic.host]: { auth: { ...AUTH, password: 'wrong' } } }).pull(ref, {
          arches: ['amd64'],
          blobDir: blobDir(),
        }),
      );
      expect(wrong.message).toContain(`the registry refused the credentials given for '${basic.host}'`);
      expect(wrong.message).not.toContain('wrong');
      const dir = blobDir();
      const pulled = await new RegistryClient({ [basic.host]: { auth: AUTH } }).pull(ref, {
        arches: ['amd64'],
        blobDir: dir,
      });
      expect(pulled.digest).toBe(images.auth.digest);
      expect(expectIntact(dir)).toEqual([...images.auth.blobs].sort());
    },
  );

  test(
    "Bearer token auth against the registry's real token verification: one token per " + 'repository, reused',
    async () => {
      const config: RegistryConfig = { [token.host]: { auth: AUTH } };
      const client = new RegistryClient(config);
      const tokensBefore = token.tokenRequestCount();
      const dir = blobDir();
      const pulled = await client.pull(onToken.ref, { arches: ['amd64'], blobDir: dir });
      expect(pulled.digest).toBe(onToken.digest);
      expect(expectIntact(dir)).toEqual([...onToken.blobs].sort());
      expect(token.tokenRequestCount() - tokensBefore).toBe(1);
      const requestsBefore = token.requestCount();
      await client.pull(onToken.ref, { arches: ['amd64'], blobDir: blobDir() });
      expect(token.tokenRequestCount() - tokensBefore).toBe(1); // the cached token, sent before any challenge
      expect(token.requestCount() - requestsBefore).toBe(3); // no 401 round trip

      const anonymous = await errorOf(
        new RegistryClient().pull(onToken.ref, { arches: ['amd64'], blobDir: blobDir() }),
      );
      expect([anonymous.kind, anonymous.status]).toEqual(['auth', 401]);
      expect(anonymous.message).toContain(`add auth (username, password) for '${token.host}'`);
      const wrong = await errorOf(
        new RegistryClient({ [token.host]: { auth: { ...AUTH, password: 'nope' } } }).pull(onToken.ref, {
          arches: ['amd64'],
          blobDir: blobDir(),
        }),
      );
      expect(wrong.message).toMatch(
        new RegExp(
          `the token server ` +
            `http://127\\.0\\.0\\.1:\\d+/token \\(realm of ${token.url.replace(/\./g, '\\.')}\\) answered 401`,
        ),
      );
      expect(wrong.message).toContain(`it refused the credentials given for '${token.host}'`);
    },
  );

  test(
    'mirrors: one that is down is passed over for the registry; one that has the image serves it; one that ' +
      'lacks it falls back',
    async () => {
      const down = `http://127.0.0.1:${await closedPort()}`;
      const client = new RegistryClient({ [plain.host]: { mirrors: [down] } });
      const before = plain.requestCount();
      const pulled = await client.pull(images.busybox.ref, { arches: ['amd64'], blobDir: blobDir() });
      expect(pulled.digest).toBe(images.busybox.digest);
      expect(plain.requestCount() - before).toBe(3);

      const viaMirror = new RegistryClient({ [plain.host]: { mirrors: [`${down}/`, mirror.url] } });
      const [p0, m0] = [plain.requestCount(), mirror.requestCount()];
      const got = await viaMirror.pull(images.busybox.ref, { arches: ['amd64'], blobDir: blobDir() });
      expect(got.digest).toBe(images.busybox.digest);
      expect([plain.requestCount() - p0, mirror.requestCount() - m0]).toEqual([0, 3]);
      const fallback = await viaMirror.pull(images.extra.ref, { arches: ['amd64'], blobDir: blobDir() });
      expect(fallback.digest).toBe(images.extra.digest);
      expect(mirror.requestCount() - m0).toBe(4); // the mirror's 404 for busybox-extra, then the registry served it

      const err = await errorOf(
        new RegistryClient({ [plain.host]: { mirrors: [down] } }).pull(`${plain.host}/furrow-test/none:1`, {
          arches: ['amd64'],
          blobDir: blobDir(),
        }),
      );
      expect(err.message).toContain(
        `mirrors tried first: mirror ${down}: GET ${down}/v2/furrow-test/none/manifests/1: connection refused`,
      );
    },
  );

  test('blob redirects to another origin are followed without the Authorization header', async () => {
    const dir = blobDir();
    const pulled = await new RegistryClient({ [redirect.host]: { auth: AUTH } }).pull(onRedirect.ref, {
      arches: ['amd64'],
      blobDir: dir,
    });
    expect(pulled.digest).toBe(onRedirect.digest);
    expect(expectIntact(dir)).toEqual([...onRedirect.blobs].sort());
    const seen = redirect.storageRequests();
    expect(seen.map((r) => r.url.replace(/\?.*/, '')).sort()).toEqual(
      pulled.blobs
        .slice(1)
        .map((b) => `/blobs/${b.digest.slice(7)}`)
        .sort(),
    );
    expect(seen.filter((r) => r.authorization)).toEqual([]);
  });

  test('the layout index names each pulled image for ctr and OCI tools', async () => {
    const layout = path.join(work, 'layout');
    const dir = path.join(layout, 'blobs', 'sha256');
    const client = new RegistryClient();
    const pulled = [
      await client.pull(images.multi.ref, { arches: ['amd64'], blobDir: dir }),
      await client.pull(images.busybox.ref, { arches: ['amd64'], blobDir: dir }),
    ];
    await addToLayoutIndex(layout, pulled);
    const index = JSON.parse(readFileSync(path.join(layout, 'index.json'), 'utf8')) as {
      manifests: { digest: string; mediaType: string; size: number; annotations: Record<string, string> }[];
    };
    expect(
      index.manifests.map((m) => [m.annotations['org.opencontainers.image.ref.name'], m.digest, m.mediaType]),
    ).toEqual(pulled.map((p) => [p.name, p.digest, p.mediaType]));
    for (const m of index.manifests) expect(readFileSync(path.join(dir, m.digest.slice(7))).length).toBe(m.size);
  });
});
