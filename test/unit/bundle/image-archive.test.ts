import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import * as tar from 'tar';
import { dockerLoadTar, imageForPlatform, ociImportTar } from '../../../src/bundle/image-archive.js';
import type { ModuleContext } from '../../../src/engine/module.js';
import { haveContainerd, haveDocker, image } from '../../../src/modules/image.js';
import { moduleContext } from '../../support/modules.js';
import { type CannedConnection, cannedConnection } from '../modules/support/hosts.js';

const digestOf = (data: string) => `sha256:${createHash('sha256').update(data).digest('hex')}`;

/** Entries of a tar stream: name -> content. */
async function entries(stream: Readable): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const parser = new tar.Parser({
    onReadEntry: (e) => {
      const chunks: Buffer[] = [];
      e.on('data', (c: Buffer) => chunks.push(c));
      e.on('end', () => out.set(e.path, Buffer.concat(chunks).toString()));
    },
  });
  await new Promise<void>((resolve, reject) => {
    stream.pipe(parser as unknown as NodeJS.WritableStream);
    parser.on('end', resolve);
    parser.on('error', reject);
  });
  return out;
}

describe('an image of a bundle layout as a runtime imports it', () => {
  const layout = mkdtempSync(path.join(os.tmpdir(), 'furrow-layout-'));
  afterAll(() => rmSync(layout, { recursive: true, force: true }));
  const blob = (data: string) => {
    const d = digestOf(data);
    mkdirSync(path.join(layout, 'blobs', 'sha256'), { recursive: true });
    writeFileSync(path.join(layout, 'blobs', 'sha256', d.slice(7)), data);
    return { digest: d, size: Buffer.byteLength(data) };
  };
  const layer = blob('shared layer bytes');
  const configs = {
    amd64: blob('{"architecture":"amd64","os":"linux"}'),
    arm64: blob('{"architecture":"arm64","os":"linux"}'),
  };
  const manifests = Object.fromEntries(
    (['amd64', 'arm64'] as const).map((arch) => [
      arch,
      blob(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...configs[arch] },
          layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...layer }],
        }),
      ),
    ]),
  );
  const indexText = JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: (['amd64', 'arm64'] as const).map((arch) => ({
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      ...manifests[arch],
      platform: { architecture: arch, os: 'linux' },
    })),
  });
  const top = blob(indexText);
  writeFileSync(
    path.join(layout, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [
        {
          mediaType: 'application/vnd.oci.image.index.v1+json',
          ...top,
          annotations: { 'io.containerd.image.name': 'example.test/multi:1' },
        },
      ],
    }),
  );
  writeFileSync(path.join(layout, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');

  test("resolves the host's platform from an index; refuses one the image lacks", async () => {
    const img = await imageForPlatform(layout, top.digest, 'arm64');
    expect(img.manifest.digest).toBe(manifests.arm64!.digest);
    expect(img.config.digest).toBe(configs.arm64.digest);
    expect(img.layers.map((l) => l.digest)).toEqual([layer.digest]);
    await expect(imageForPlatform(layout, top.digest, 's390x')).rejects.toThrow(
      /no linux\/s390x manifest \(it has amd64, arm64\)/,
    );
    await expect(imageForPlatform(layout, digestOf('nothing'), 'amd64')).rejects.toThrow(/has no image/);
  });

  test("for ctr: an OCI layout with the index as it was, named, and only the host platform's blobs", async () => {
    const img = await imageForPlatform(layout, top.digest, 'amd64');
    const { stream, done } = await ociImportTar(layout, img, 'example.test/multi:1');
    const files = await entries(stream);
    await done();
    const index = JSON.parse(files.get('index.json')!);
    expect(index.manifests).toEqual([
      {
        mediaType: 'application/vnd.oci.image.index.v1+json',
        digest: top.digest,
        size: top.size,
        annotations: { 'io.containerd.image.name': 'example.test/multi:1', 'org.opencontainers.image.ref.name': '1' },
      },
    ]);
    expect(files.get(`blobs/sha256/${top.digest.slice(7)}`)).toBe(indexText);
    const blobs = [...files.keys()].filter((k) => k.startsWith('blobs/')).sort();
    expect(blobs).toEqual(
      [top, manifests.amd64!, configs.amd64, layer].map((b) => `blobs/sha256/${b.digest.slice(7)}`).sort(),
    );
  });

  test('for docker load: manifest.json naming the config and layer files', async () => {
    const img = await imageForPlatform(layout, top.digest, 'amd64');
    const { stream, done } = await dockerLoadTar(layout, img, 'example.test/multi:1');
    const files = await entries(stream);
    await done();
    expect(JSON.parse(files.get('manifest.json')!)).toEqual([
      {
        Config: `${configs.amd64.digest.slice(7)}.json`,
        RepoTags: ['example.test/multi:1'],
        Layers: [`${layer.digest.slice(7)}/layer.tar`],
      },
    ]);
    expect(files.get(`${layer.digest.slice(7)}/layer.tar`)).toBe('shared layer bytes');
  });

  test('reads what ctr and docker list', () => {
    const listing = [
      'REF                            TYPE                                    DIGEST                                 ' +
        '                                 SIZE    PLATFORMS   LABELS',
      `example.test/multi:1           application/vnd.oci.image.index.v1+json ${top.digest} 1.1 MiB linux/amd64 -`,
      `example.test/multi:10          application/vnd.oci.image.index.v1+json ${layer.digest} 1.1 MiB linux/amd64 -`,
    ].join('\n');
    expect(haveContainerd(listing, 'example.test/multi:1')).toBe(top.digest);
    expect(haveContainerd(listing, 'example.test/multi')).toBeUndefined();
    expect(haveDocker(`${configs.amd64.digest}\n`)).toBe(configs.amd64.digest);
    expect(haveDocker('Error: No such image: example.test/multi:1\n')).toBeUndefined();
  });

  /**
   * As the engine's shared probe on a quiet host: the first item reads its key and the later
   * items' keys in one round trip, and each later item is answered from that read.
   */
  const loop = (conn: CannedConnection, later: Array<Record<string, unknown>>) => {
    const asked: string[][] = [];
    const read = new Map<string, unknown>();
    const ctx: ModuleContext = {
      ...moduleContext(conn),
      probeShared: async <T>(
        own: string[],
        keysOf: (params: Record<string, unknown>) => string[],
        probe: (keys: string[]) => Promise<Map<string, T>>,
      ) => {
        if (own.every((k) => read.has(k))) return read as Map<string, T>;
        const keys = [...own, ...later.flatMap(keysOf)];
        asked.push(keys);
        for (const [k, v] of await probe(keys)) read.set(k, v);
        return read as Map<string, T>;
      },
    };
    return { ctx, asked };
  };

  test("a loop's images are probed in one round trip: one containerd listing answers them all", async () => {
    const listing =
      'REF TYPE DIGEST SIZE PLATFORMS LABELS\n' +
      `example.test/multi:1 application/vnd.oci.image.index.v1+json ${top.digest} 1.1 MiB linux/amd64 -\n` +
      `example.test/multi:10 application/vnd.oci.image.index.v1+json ${layer.digest} 1.1 MiB linux/amd64 -\n`;
    const conn = cannedConnection(`x86_64\n${listing}`);
    const items = [
      { name: 'example.test/multi:1', digest: top.digest, layout, path: '/opt/kube/bin' },
      { name: 'example.test/multi:10', digest: top.digest, layout, path: '/opt/kube/bin' },
      { name: 'example.test/absent:1', digest: top.digest, layout, path: '/opt/kube/bin' },
    ];
    // An item whose params cannot be told yet is left to probe on its own.
    const { ctx, asked } = loop(conn, [...items.slice(1), { name: 5 }]);
    const plans = [];
    for (const item of items) plans.push(await image.plan(ctx, item));
    expect(plans.map((p) => p.action)).toEqual(['none', 'update', 'create']);
    expect(plans[1]!.reason).toBe(
      `example.test/multi:10 is ${layer.digest.slice(0, 19)}, the bundle has ${top.digest.slice(0, 19)}`,
    );
    expect(asked).toHaveLength(1);
    expect(asked[0]).toHaveLength(3);
    expect(conn.commands).toHaveLength(1);
    expect(conn.commands[0]).toContain("PATH='/opt/kube/bin':$PATH; export PATH");
    expect(conn.commands[0]!.match(/ images ls/g)).toHaveLength(1);
  });

  test('docker: one inspect per image in the one script, each answer taken from under its own marker', async () => {
    const conn = cannedConnection(
      `x86_64\n@furrow-image 0\n${configs.amd64.digest}\n@furrow-image 1\nError: No such image: example.test/b:1\n`,
    );
    const items = [
      { name: 'example.test/a:1', digest: top.digest, layout, runtime: 'docker' as const },
      { name: 'example.test/b:1', digest: top.digest, layout, runtime: 'docker' as const },
    ];
    const { ctx } = loop(conn, items.slice(1));
    expect((await image.plan(ctx, items[0]!)).action).toBe('none');
    expect((await image.plan(ctx, items[1]!)).action).toBe('create');
    expect(conn.commands).toHaveLength(1);
    expect(conn.commands[0]!.match(/docker image inspect/g)).toHaveLength(2);
    // A containerd item of the same loop is another runtime: not answered by docker's probe.
    const other = loop(cannedConnection('x86_64\nfurrow-no-runtime\n'), []);
    await expect(image.plan(other.ctx, { ...items[0]!, runtime: 'containerd' })).rejects.toThrow(
      'h1: image example.test/a:1: containerd is not installed on this host',
    );
  });
});
