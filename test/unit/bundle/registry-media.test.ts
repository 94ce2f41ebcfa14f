import {
  MANIFEST_ACCEPT,
  MEDIA,
  parseManifest,
  parsePlatformWanted,
  selectPlatforms,
  type Descriptor,
} from '../../../src/bundle/registry/index.js';

const digest = (n: number) => `sha256:${n.toString(16).padStart(64, '0')}`;
let next = 1;
const entry = (os: string, architecture: string, variant?: string, extra: Partial<Descriptor> = {}): Descriptor => ({
  mediaType: MEDIA.ociManifest,
  digest: digest(next++),
  size: 500,
  platform: { os, architecture, ...(variant ? { variant } : {}) },
  ...extra,
});

describe('platform selection from an index', () => {
  const amd64 = entry('linux', 'amd64');
  const armv6 = entry('linux', 'arm', 'v6');
  const armv7 = entry('linux', 'arm', 'v7');
  const arm64 = entry('linux', 'arm64', 'v8');
  const s390x = entry('linux', 's390x');
  const windows = entry('windows', 'amd64');
  const attestation = entry('unknown', 'unknown', undefined, {
    annotations: { 'vnd.docker.reference.type': 'attestation-manifest' },
  });
  const index = [windows, amd64, armv6, armv7, arm64, s390x, attestation];

  test('amd64 and arm64, in the order asked', () => {
    const s = selectPlatforms(index, ['arm64', 'amd64']);
    expect(s.selected.map((x) => x.descriptor)).toEqual([arm64, amd64]);
    expect(s.missing).toEqual([]);
  });

  test('linux only: the windows/amd64 entry listed first is passed over', () => {
    expect(selectPlatforms(index, ['amd64']).selected.map((x) => x.descriptor)).toEqual([amd64]);
  });

  test('arm with no variant means arm/v7; a named variant picks that one', () => {
    expect(selectPlatforms(index, ['arm']).selected[0]!.descriptor).toBe(armv7);
    expect(selectPlatforms(index, ['arm/v6']).selected[0]!.descriptor).toBe(armv6);
    expect(selectPlatforms(index, ['linux/arm/v7']).selected[0]!.descriptor).toBe(armv7);
  });

  test('arm64/v8 matches an arm64 entry that names no variant, and the other way round', () => {
    const plain = entry('linux', 'arm64');
    expect(selectPlatforms([plain], ['arm64/v8']).selected[0]!.descriptor).toBe(plain);
    expect(selectPlatforms([arm64], ['arm64']).selected[0]!.descriptor).toBe(arm64);
  });

  test('aliases: x86_64 and aarch64', () => {
    expect(selectPlatforms(index, ['x86_64', 'aarch64']).selected.map((x) => x.descriptor)).toEqual([amd64, arm64]);
  });

  test('what the index lacks is reported; attestations and unknown platforms are not offered', () => {
    const s = selectPlatforms([amd64, attestation], ['amd64', 'riscv64']);
    expect(s.selected.map((x) => x.descriptor)).toEqual([amd64]);
    expect(s.missing).toEqual(['riscv64']);
    expect(s.available).toEqual(['linux/amd64']);
    expect(selectPlatforms(index, ['ppc64le']).available).toEqual([
      'windows/amd64',
      'linux/amd64',
      'linux/arm/v6',
      'linux/arm/v7',
      'linux/arm64/v8',
      'linux/s390x',
    ]);
  });

  test('one manifest asked for twice is selected once', () => {
    expect(selectPlatforms(index, ['amd64', 'x86_64', 'linux/amd64']).selected).toHaveLength(1);
  });

  test('wanted platforms as written', () => {
    expect(parsePlatformWanted('amd64')).toEqual({ os: 'linux', architecture: 'amd64', spec: 'amd64' });
    expect(parsePlatformWanted('linux/arm64/v8')).toEqual({
      os: 'linux',
      architecture: 'arm64',
      variant: 'v8',
      spec: 'linux/arm64/v8',
    });
    expect(parsePlatformWanted('arm/v7')).toEqual({ os: 'linux', architecture: 'arm', variant: 'v7', spec: 'arm/v7' });
  });
});

describe('manifest media types', () => {
  const bytes = (o: unknown) => Buffer.from(JSON.stringify(o));
  const config = { mediaType: 'application/vnd.oci.image.config.v1+json', digest: digest(1), size: 2 };

  test('the Accept header lists the four types a pull understands', () => {
    expect(MANIFEST_ACCEPT.split(', ').sort()).toEqual(
      [MEDIA.dockerList, MEDIA.dockerManifest, MEDIA.ociIndex, MEDIA.ociManifest].sort(),
    );
  });

  test('the served Content-Type decides; a generic one falls back to the JSON mediaType, then its shape', () => {
    const index = bytes({ schemaVersion: 2, manifests: [] });
    expect(parseManifest(index, `${MEDIA.dockerList}; charset=utf-8`)).toMatchObject({
      kind: 'index',
      mediaType: MEDIA.dockerList,
    });
    expect(parseManifest(index, 'application/json')).toMatchObject({ kind: 'index', mediaType: MEDIA.ociIndex });
    const manifest = bytes({ schemaVersion: 2, mediaType: MEDIA.dockerManifest, config, layers: [] });
    expect(parseManifest(manifest, 'text/plain')).toMatchObject({
      kind: 'manifest',
      mediaType: MEDIA.dockerManifest,
      config,
      layers: [],
    });
    expect(parseManifest(bytes({ schemaVersion: 2, config, layers: [] }))).toMatchObject({
      kind: 'manifest',
      mediaType: MEDIA.ociManifest,
    });
  });

  test('schema 1 is recognised (to be refused), by type or by schemaVersion', () => {
    expect(parseManifest(bytes({ schemaVersion: 1, name: 'x', fsLayers: [] }), 'application/json').kind).toBe(
      'schema1',
    );
    expect(parseManifest(bytes({}), MEDIA.dockerSchema1Signed).kind).toBe('schema1');
  });

  test('broken manifests say why', () => {
    expect(parseManifest(Buffer.from('{'), MEDIA.ociManifest)).toMatchObject({ kind: 'unknown', why: 'not JSON' });
    expect(parseManifest(bytes({ schemaVersion: 2, layers: [] }), MEDIA.ociManifest)).toMatchObject({
      kind: 'unknown',
      why: 'a manifest without a config descriptor',
    });
    expect(
      parseManifest(bytes({ schemaVersion: 2, config, layers: [{ digest: 'x' }] }), MEDIA.ociManifest),
    ).toMatchObject({
      kind: 'unknown',
    });
    expect(parseManifest(bytes({ schemaVersion: 2, manifests: [{ size: 1 }] }), MEDIA.ociIndex)).toMatchObject({
      kind: 'unknown',
    });
    expect(parseManifest(bytes({ schemaVersion: 2, artifactType: 'x' }), 'application/json')).toMatchObject({
      kind: 'unknown',
    });
  });
});
