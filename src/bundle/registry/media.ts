/**
 * The four manifest media types a pull understands, their JSON shapes, and which platforms of an
 * index to take. Pure functions: no I/O.
 */
export const MEDIA = {
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerSchema1: 'application/vnd.docker.distribution.manifest.v1+json',
  dockerSchema1Signed: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
} as const;

/** Every media type a pull accepts, for the Accept header of manifest requests. */
export const MANIFEST_ACCEPT = [MEDIA.ociIndex, MEDIA.dockerList, MEDIA.ociManifest, MEDIA.dockerManifest].join(', ');

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: Platform;
  annotations?: Record<string, string>;
  urls?: string[];
}

export type Parsed =
  | { kind: 'index'; mediaType: string; manifests: Descriptor[] }
  | { kind: 'manifest'; mediaType: string; config: Descriptor; layers: Descriptor[] }
  | { kind: 'schema1'; mediaType: string }
  | { kind: 'unknown'; mediaType: string; why: string };

const INDEX_TYPES = new Set<string>([MEDIA.ociIndex, MEDIA.dockerList]);
const MANIFEST_TYPES = new Set<string>([MEDIA.ociManifest, MEDIA.dockerManifest]);
const SCHEMA1_TYPES = new Set<string>([MEDIA.dockerSchema1, MEDIA.dockerSchema1Signed]);

/** "application/json; charset=utf-8" -> "application/json". */
export function bareMediaType(contentType: string | null | undefined): string {
  return (contentType ?? '').split(';')[0]!.trim().toLowerCase();
}

function descriptor(value: unknown): Descriptor | undefined {
  if (!value || typeof value !== 'object') return undefined;
  const d = value as Record<string, unknown>;
  if (typeof d.digest !== 'string' || typeof d.size !== 'number' || !Number.isSafeInteger(d.size) || d.size < 0)
    return undefined;
  return d as unknown as Descriptor;
}

/**
 * What a manifest's bytes are. `served` is the Content-Type the registry sent (or the media type
 * recorded for the blob); when it is generic or absent, the JSON's own mediaType and shape decide.
 */
export function parseManifest(bytes: Buffer, served?: string): Parsed {
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(bytes.toString('utf8')) as Record<string, unknown>;
  } catch {
    return { kind: 'unknown', mediaType: bareMediaType(served), why: 'not JSON' };
  }
  if (!json || typeof json !== 'object' || Array.isArray(json))
    return { kind: 'unknown', mediaType: bareMediaType(served), why: 'not a JSON object' };
  const own = typeof json.mediaType === 'string' ? json.mediaType : undefined;
  const known = (t: string | undefined) => !!t && (INDEX_TYPES.has(t) || MANIFEST_TYPES.has(t) || SCHEMA1_TYPES.has(t));
  const servedType = bareMediaType(served);
  let mediaType = known(servedType) ? servedType : known(own) ? own! : undefined;
  if (json.schemaVersion === 1 || (mediaType && SCHEMA1_TYPES.has(mediaType)))
    return { kind: 'schema1', mediaType: mediaType ?? MEDIA.dockerSchema1 };
  if (!mediaType) {
    if (Array.isArray(json.manifests)) mediaType = MEDIA.ociIndex;
    else if (Array.isArray(json.layers)) mediaType = MEDIA.ociManifest;
    else
      return {
        kind: 'unknown',
        mediaType: servedType || own || '',
        why: 'neither an image index nor an image manifest',
      };
  }
  if (INDEX_TYPES.has(mediaType)) {
    if (!Array.isArray(json.manifests)) return { kind: 'unknown', mediaType, why: 'an index without a manifests list' };
    const manifests = json.manifests.map(descriptor);
    if (manifests.some((d) => !d)) return { kind: 'unknown', mediaType, why: 'an index entry without digest and size' };
    return { kind: 'index', mediaType, manifests: manifests as Descriptor[] };
  }
  const config = descriptor(json.config);
  if (!config) return { kind: 'unknown', mediaType, why: 'a manifest without a config descriptor' };
  const layers = Array.isArray(json.layers) ? json.layers.map(descriptor) : [undefined];
  if (layers.some((d) => !d)) return { kind: 'unknown', mediaType, why: 'a manifest whose layers lack digest or size' };
  return { kind: 'manifest', mediaType, config, layers: layers as Descriptor[] };
}

/** What a platform wants: 'amd64', 'arm64', 'arm/v7', 'linux/arm64/v8' (also x86_64 and aarch64). */
export interface PlatformWanted {
  os: string;
  architecture: string;
  variant?: string;
  /** As the caller wrote it. */
  spec: string;
}

const ARCH_ALIASES: Record<string, string> = {
  x86_64: 'amd64',
  'x86-64': 'amd64',
  aarch64: 'arm64',
  armhf: 'arm',
  i386: '386',
  i686: '386',
};
const KNOWN_OS = new Set([
  'linux',
  'windows',
  'darwin',
  'freebsd',
  'netbsd',
  'openbsd',
  'solaris',
  'illumos',
  'aix',
  'android',
]);
/** The variant an architecture means when none is named (containerd's platforms.Normalize). */
const DEFAULT_VARIANT: Record<string, string> = { arm64: 'v8', arm: 'v7' };

export function parsePlatformWanted(spec: string): PlatformWanted {
  const parts = spec.toLowerCase().split('/').filter(Boolean);
  const os = parts.length > 1 && KNOWN_OS.has(parts[0]!) ? parts.shift()! : 'linux';
  const architecture = ARCH_ALIASES[parts[0] ?? ''] ?? parts[0] ?? '';
  const variant = parts[1];
  return { os, architecture, ...(variant ? { variant } : {}), spec };
}

export function describePlatform(p: { os?: string; architecture?: string; variant?: string }): string {
  return [p.os ?? '?', p.architecture ?? '?', p.variant].filter(Boolean).join('/');
}

function variantOf(p: { architecture: string; variant?: string }): string | undefined {
  return p.variant ?? DEFAULT_VARIANT[p.architecture];
}

/** Index entries that are images (not attestations or other artifacts). */
function imageEntries(manifests: Descriptor[]): Descriptor[] {
  return manifests.filter(
    (d) =>
      d.platform &&
      d.platform.os !== 'unknown' &&
      d.platform.architecture !== 'unknown' &&
      d.annotations?.['vnd.docker.reference.type'] !== 'attestation-manifest' &&
      (MANIFEST_TYPES.has(d.mediaType) || !d.mediaType),
  );
}

/** Whether a single platform (an image's config, or an index entry) satisfies what is wanted. */
export function platformMatches(p: Platform, want: PlatformWanted): boolean {
  if (p.os !== want.os) return false;
  if ((ARCH_ALIASES[p.architecture] ?? p.architecture) !== want.architecture) return false;
  if (want.variant === undefined) return true;
  return variantOf(p) === variantOf(want);
}

export interface PlatformSelection {
  /** One entry per wanted platform that the index has, in the order asked, each manifest once. */
  selected: { want: PlatformWanted; descriptor: Descriptor }[];
  /** Wanted platforms the index lacks, as the caller wrote them. */
  missing: string[];
  /** Every image platform the index has, for messages: "linux/amd64, linux/arm/v7". */
  available: string[];
}

/**
 * Picks the manifests of an index for the wanted platforms. With no variant asked, the
 * architecture's default variant (arm64 -> v8, arm -> v7) or an entry with no variant wins over
 * other variants; otherwise the first entry for the architecture.
 */
export function selectPlatforms(manifests: Descriptor[], wanted: string[]): PlatformSelection {
  const entries = imageEntries(manifests);
  const selected: PlatformSelection['selected'] = [];
  const missing: string[] = [];
  for (const spec of wanted) {
    const want = parsePlatformWanted(spec);
    const candidates = entries.filter((d) => platformMatches(d.platform!, want));
    const best =
      candidates.find(
        (d) => d.platform!.variant === undefined || d.platform!.variant === DEFAULT_VARIANT[want.architecture],
      ) ?? candidates[0];
    if (!best) missing.push(spec);
    else if (!selected.some((s) => s.descriptor.digest === best.digest)) selected.push({ want, descriptor: best });
  }
  return { selected, missing, available: entries.map((d) => describePlatform(d.platform!)) };
}
