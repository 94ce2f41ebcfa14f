/**
 * Pulls images into the blobs of an OCI image layout, with the distribution API only: the top-level
 * manifest or index kept byte for byte (its digest is the registry's), the manifests, configs and
 * layers of the wanted platforms, every blob verified while it streams and stored once. A rebuild
 * that knows the earlier resolution and finds its blobs intact asks the registry nothing.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import PQueue from 'p-queue';
import { InputError } from '../../engine/errors.js';
import { BlobMismatch, BlobStore, sha256Digest, sha256Hex } from './blob-store.js';
import { RegistryError } from './errors.js';
import {
  describePlatform,
  MANIFEST_ACCEPT,
  parseManifest,
  parsePlatformWanted,
  platformMatches,
  selectPlatforms,
  type Descriptor,
  type Parsed,
  type Platform,
} from './media.js';
import { parseImageRef } from './reference.js';
import { discard, displayUrl, Transport, type Endpoint } from './transport.js';
import type { ImageRef, PulledBlob, PulledImage, PulledPlatform, PullOptions, RegistryConfig } from './types.js';
import { getOrAdd } from '../../engine/get-or-add.js';

/** Manifests and indexes are read into memory; containerd refuses larger ones too. */
const MAX_MANIFEST = 4 << 20;
/** Image configs are read into memory to learn their platform. */
const MAX_CONFIG = 32 << 20;
/** Blob downloads at once, across every pull of one client. */
const PARALLEL_BLOBS = 4;
const PROGRESS_STEP = 1 << 20;

/** Reads a whole body of at most `max` bytes. */
async function readAll(res: Response, max: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let total = 0;
  if (!res.body) return Buffer.alloc(0);
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    total += chunk.length;
    if (total > max) {
      await res.body.cancel().catch(() => undefined);
      return undefined;
    }
    chunks.push(Buffer.from(chunk));
  }
  return Buffer.concat(chunks);
}

interface Top {
  digest: string;
  bytes: Buffer;
  /** Content-Type served, or the media type recorded by an earlier build. */
  served?: string;
  fetched: boolean;
}

export class RegistryClient {
  private readonly transport: Transport;
  /** Mirrors that could not be connected to, with why: not tried again by this client. */
  private readonly down = new Map<string, string>();
  private readonly stores = new Map<string, BlobStore>();
  /** Blob fetches in flight, by blob folder and digest, shared by concurrent pulls. */
  private readonly inflight = new Map<string, Promise<void>>();
  private readonly slots = new PQueue({ concurrency: PARALLEL_BLOBS });

  constructor(config: RegistryConfig = {}) {
    this.transport = new Transport(config);
  }

  async pull(ref: string, opts: PullOptions): Promise<PulledImage> {
    const image = parseImageRef(ref);
    if (!opts.arches.length)
      throw new InputError(undefined, `${ref}: no architectures to pull`, "name at least one, e.g. arches: ['amd64']");
    const dir = path.resolve(opts.blobDir);
    const store = getOrAdd(this.stores, dir, () => new BlobStore(dir));
    return new Pull(this.fetcher(), store, image, ref, opts).run();
  }

  /** What one pull needs of the client: endpoints with fallback, the shared limiter and in-flight map. */
  private fetcher(): Fetcher {
    return {
      transport: this.transport,
      slots: this.slots,
      inflight: this.inflight,
      viaEndpoints: (name, registry, work, failed) => this.viaEndpoints(name, registry, work, failed),
    };
  }

  /**
   * Runs `work` against each endpoint of the registry in order (mirrors, then the registry) until
   * one succeeds. A mirror that fails is passed over, and not asked again for the same pull
   * (`failed`); one that cannot be connected to is skipped for the rest of this client's pulls.
   * The registry's own failure is the error, with the mirrors'.
   */
  private async viaEndpoints<T>(
    name: string,
    registry: string,
    work: (ep: Endpoint) => Promise<T>,
    failed: Map<string, string>,
  ): Promise<T> {
    const passed: string[] = [];
    for (const ep of this.transport.endpoints(registry)) {
      const skip = ep.mirror ? (this.down.get(ep.base) ?? failed.get(ep.base)) : undefined;
      if (skip) {
        passed.push(`mirror ${ep.base} skipped (${skip})`);
        continue;
      }
      try {
        return await work(ep);
      } catch (err) {
        if (!(err instanceof RegistryError)) throw err;
        if (!ep.mirror) {
          if (!passed.length) throw err;
          throw new RegistryError(err.kind, name, `${err.detail}\n  mirrors tried first: ${passed.join('; ')}`, {
            ...err.extra,
          });
        }
        if (err.kind === 'unreachable') this.down.set(ep.base, 'unreachable');
        failed.set(ep.base, `failed earlier in this pull: ${err.status ?? err.kind}`);
        passed.push(`mirror ${ep.base}: ${err.detail}`);
      }
    }
    throw new RegistryError('registry', name, `no endpoint left to try: ${passed.join('; ')}`);
  }
}

interface Fetcher {
  transport: Transport;
  slots: PQueue;
  inflight: Map<string, Promise<void>>;
  viaEndpoints<T>(
    name: string,
    registry: string,
    work: (ep: Endpoint) => Promise<T>,
    failed: Map<string, string>,
  ): Promise<T>;
}

/** One pull: resolves the top-level object, then the wanted platforms' manifests, configs and layers. */
class Pull {
  private readonly blobs = new Map<string, PulledBlob>();
  /** Mirrors that failed a request of this pull: its other requests go past them. */
  private readonly failedMirrors = new Map<string, string>();

  constructor(
    private readonly fetcher: Fetcher,
    private readonly store: BlobStore,
    private readonly image: ImageRef,
    private readonly ref: string,
    private readonly opts: PullOptions,
  ) {}

  async run(): Promise<PulledImage> {
    const top = await this.resolveTop();
    const parsed = this.check(parseManifest(top.bytes, top.served), top.digest);
    let platforms: PulledPlatform[];
    let missing: string[];
    if (parsed.kind === 'index') {
      const selection = selectPlatforms(parsed.manifests, this.opts.arches);
      if (!selection.selected.length) {
        throw new RegistryError(
          'platform',
          this.ref,
          `has no image for ${this.opts.arches.join(', ')}; it has ` +
            `${selection.available.join(', ') || 'no image platforms'}: pull arches it has, or another tag`,
        );
      }
      missing = selection.missing;
      platforms = await Promise.all(selection.selected.map(({ descriptor }) => this.platformOfIndex(descriptor)));
    } else {
      const single = await this.singlePlatform(top, parsed);
      platforms = [single.platform];
      missing = single.missing;
    }
    await this.keep(top.digest, top.bytes, top.fetched);
    this.opts.onProgress?.({ image: this.ref, done: true });
    const order = [top.digest, ...platforms.flatMap((p) => [p.manifest, p.config, ...p.layers])];
    return {
      ref: this.ref,
      name: this.image.name,
      digest: top.digest,
      mediaType: parsed.mediaType,
      platforms,
      missingArches: missing,
      blobs: [...new Set(order)].map((d) => this.blobs.get(d)!),
    };
  }

  /**
   * The top-level manifest or index: from blobDir when its digest is known and it is intact, else from the registry.
   */
  private async resolveTop(): Promise<Top> {
    const known = this.opts.known && sha256Hex(this.opts.known.digest) ? this.opts.known : undefined;
    const pinned = this.image.digest ?? known?.digest;
    if (this.image.digest && !sha256Hex(this.image.digest)) {
      throw new RegistryError(
        'unsupported',
        this.ref,
        `only sha256 digests are stored in an OCI layout's blobs/sha256; this ` +
          `reference pins ${this.image.digest.split(':')[0]}`,
      );
    }
    if (pinned && (await this.store.has(pinned))) {
      const served = known && known.digest === pinned ? known.mediaType : undefined;
      return {
        digest: pinned,
        bytes: await readFile(this.store.file(pinned)),
        ...(served ? { served } : {}),
        fetched: false,
      };
    }
    const reference = pinned ?? this.image.tag!;
    return this.fetcher.viaEndpoints(
      this.ref,
      this.image.registry,
      async (ep) => {
        const res = await this.fetcher.transport.get(
          this.ref,
          ep,
          this.image.repository,
          `manifests/${reference}`,
          MANIFEST_ACCEPT,
        );
        const bytes = await readAll(res, MAX_MANIFEST);
        const url = displayUrl(res.url);
        if (!bytes)
          throw new RegistryError(
            'registry',
            this.ref,
            `the manifest at ${url} is larger than ${MAX_MANIFEST} bytes; refusing it`,
            {
              endpoint: ep.base,
            },
          );
        const digest = sha256Digest(bytes);
        const header = res.headers.get('docker-content-digest');
        if (pinned && digest !== pinned) throw this.mismatch(ep, pinned, digest, bytes.length);
        if (header && header !== digest && sha256Hex(header))
          throw this.mismatch(ep, header, digest, bytes.length, 'the Docker-Content-Digest it sent');
        return { digest, bytes, served: res.headers.get('content-type') ?? undefined, fetched: true };
      },
      this.failedMirrors,
    );
  }

  private check(parsed: Parsed, digest: string): Exclude<Parsed, { kind: 'schema1' } | { kind: 'unknown' }> {
    if (parsed.kind === 'schema1') {
      throw new RegistryError(
        'unsupported',
        this.ref,
        `${digest} is a Docker schema 1 manifest (${parsed.mediaType}), which Furrow does not pull (deprecated since ` +
          `2017, it has no content-addressed config): push the image again with a current tool, which writes ` +
          `schema 2 or OCI`,
      );
    }
    if (parsed.kind === 'unknown') {
      throw new RegistryError(
        'unsupported',
        this.ref,
        `${digest} is not an image manifest or index ` +
          `Furrow understands (${parsed.mediaType || 'no media type'}: ${parsed.why})`,
      );
    }
    return parsed;
  }

  private async singlePlatform(
    top: Top,
    manifest: Extract<Parsed, { kind: 'manifest' }>,
  ): Promise<{ platform: PulledPlatform; missing: string[] }> {
    const config = await this.small(manifest.config, 'blobs', MAX_CONFIG);
    let platform: Platform;
    try {
      const json = JSON.parse(config.bytes.toString('utf8')) as {
        os?: unknown;
        architecture?: unknown;
        variant?: unknown;
      };
      platform = {
        os: String(json.os ?? ''),
        architecture: String(json.architecture ?? ''),
        ...(typeof json.variant === 'string' ? { variant: json.variant } : {}),
      };
    } catch {
      throw new RegistryError(
        'unsupported',
        this.ref,
        `its config ${manifest.config.digest} is not JSON: not a container image`,
      );
    }
    const missing = this.opts.arches.filter((a) => !platformMatches(platform, parsePlatformWanted(a)));
    if (missing.length === this.opts.arches.length) {
      throw new RegistryError(
        'platform',
        this.ref,
        `is a single-platform image for ${describePlatform(platform)}, not for ${this.opts.arches.join(', ')}: pull ` +
          `it for ${platform.architecture || 'its architecture'}, or choose a multi-arch tag`,
      );
    }
    await this.keep(manifest.config.digest, config.bytes, config.fetched);
    const pulled = await this.platformOf(top.digest, top.bytes.length, manifest, platform);
    return { platform: pulled, missing };
  }

  private async platformOfIndex(d: Descriptor): Promise<PulledPlatform> {
    const got = await this.small(d, 'manifests', MAX_MANIFEST);
    const parsed = this.check(parseManifest(got.bytes, d.mediaType), d.digest);
    if (parsed.kind !== 'manifest')
      throw new RegistryError(
        'unsupported',
        this.ref,
        `its index entry ${d.digest} for ${describePlatform(d.platform ?? {})} is itself an index; nested ` +
          `indexes are not pulled`,
      );
    const config = await this.small(parsed.config, 'blobs', MAX_CONFIG);
    await this.keep(parsed.config.digest, config.bytes, config.fetched);
    await this.keep(d.digest, got.bytes, got.fetched);
    return this.platformOf(d.digest, d.size, parsed, d.platform!);
  }

  private async platformOf(
    digest: string,
    size: number,
    manifest: Extract<Parsed, { kind: 'manifest' }>,
    platform: Platform,
  ): Promise<PulledPlatform> {
    await Promise.all(manifest.layers.map((layer) => this.layer(layer)));
    return {
      os: platform.os,
      arch: platform.architecture,
      ...(platform.variant ? { variant: platform.variant } : {}),
      manifest: digest,
      config: manifest.config.digest,
      layers: manifest.layers.map((l) => l.digest),
      size: size + manifest.config.size + manifest.layers.reduce((sum, l) => sum + l.size, 0),
    };
  }

  /**
   * A manifest or config, read into memory: from blobDir when intact, else fetched and checked (stored later by keep).
   */
  private async small(
    d: Descriptor,
    kind: 'manifests' | 'blobs',
    max: number,
  ): Promise<{ bytes: Buffer; fetched: boolean }> {
    this.requireSha256(d);
    if (d.size > max)
      throw new RegistryError(
        'unsupported',
        this.ref,
        `${d.digest} is ${d.size} bytes; a ${kind === 'blobs' ? 'config' : 'manifest'} larger than ${max} is refused`,
      );
    if (await this.store.has(d.digest, d.size))
      return { bytes: await readFile(this.store.file(d.digest)), fetched: false };
    const bytes = await this.fetcher.viaEndpoints(
      this.ref,
      this.image.registry,
      async (ep) => {
        const res = await this.fetcher.transport.get(
          this.ref,
          ep,
          this.image.repository,
          `${kind}/${d.digest}`,
          kind === 'manifests' ? MANIFEST_ACCEPT : undefined,
        );
        const body = await readAll(res, d.size);
        const digest = body ? sha256Digest(body) : undefined;
        if (!body || digest !== d.digest || body.length !== d.size)
          throw this.mismatch(ep, d.digest, digest, body?.length, undefined, d.size);
        return body;
      },
      this.failedMirrors,
    );
    return { bytes, fetched: true };
  }

  /** Stores a verified in-memory blob unless present, and records it for the result. */
  private async keep(digest: string, bytes: Buffer, fetched: boolean): Promise<void> {
    if (fetched) await this.store.putBytes(digest, bytes);
    if (!this.blobs.has(digest)) this.blobs.set(digest, { digest, size: bytes.length, fetched });
  }

  /** A layer, streamed to blobDir unless present and intact; one fetch per blob across concurrent pulls. */
  private async layer(d: Descriptor): Promise<void> {
    this.requireSha256(d);
    const key = `${this.store.dir}|${d.digest}`;
    const pending = this.fetcher.inflight.get(key);
    if (pending) {
      await pending;
      this.blobs.set(d.digest, { digest: d.digest, size: d.size, fetched: false });
      return;
    }
    let fetched = false;
    const work = (async () => {
      if (await this.store.has(d.digest, d.size)) return;
      await this.fetcher.slots.add(() =>
        this.fetcher.viaEndpoints(this.ref, this.image.registry, (ep) => this.stream(ep, d), this.failedMirrors),
      );
      fetched = true;
    })();
    this.fetcher.inflight.set(key, work);
    try {
      await work;
    } finally {
      this.fetcher.inflight.delete(key);
    }
    this.blobs.set(d.digest, { digest: d.digest, size: d.size, fetched });
  }

  private async stream(ep: Endpoint, d: Descriptor): Promise<void> {
    const res = await this.fetcher.transport.get(this.ref, ep, this.image.repository, `blobs/${d.digest}`);
    if (!res.body) {
      await discard(res);
      throw new RegistryError(
        'registry',
        this.ref,
        `GET ${displayUrl(res.url)} answered ${res.status} without a body`,
        {
          endpoint: ep.base,
        },
      );
    }
    const progress = this.opts.onProgress;
    let reported = 0;
    try {
      await this.store.putStream(res.body, d.digest, d.size, (bytes) => {
        if (progress && bytes - reported >= PROGRESS_STEP) {
          reported = bytes;
          progress({ image: this.ref, blob: d.digest, bytes, total: d.size });
        }
      });
    } catch (err) {
      if (err instanceof BlobMismatch)
        throw this.mismatch(ep, d.digest, err.actual, err.actualSize, undefined, d.size, res.url);
      if ((err as NodeJS.ErrnoException).syscall) throw err; // writing blobDir failed: no other endpoint helps
      throw new RegistryError(
        'unreachable',
        this.ref,
        `GET ${displayUrl(res.url)}: the download broke off (${(err as Error).message}); build again to resume`,
        {
          endpoint: ep.base,
          cause: err,
        },
      );
    }
    progress?.({ image: this.ref, blob: d.digest, bytes: d.size, total: d.size, done: true });
  }

  private requireSha256(d: Descriptor): void {
    if (!sha256Hex(d.digest))
      throw new RegistryError(
        'unsupported',
        this.ref,
        `blob ${d.digest} is not a sha256 digest; an OCI layout here keeps blobs/sha256 only`,
      );
  }

  private mismatch(
    ep: Endpoint,
    expected: string,
    actual: string | undefined,
    actualSize: number | undefined,
    against?: string,
    expectedSize?: number,
    url?: string,
  ): RegistryError {
    const notSize = expectedSize !== undefined && expectedSize !== actualSize ? `, not ${expectedSize}` : '';
    const size = actualSize !== undefined ? ` (${actualSize} bytes${notSize})` : '';
    const got = actual === undefined ? `more than the ${expectedSize} bytes its descriptor gives` : `${actual}${size}`;
    return new RegistryError(
      'integrity',
      this.ref,
      `content from ${displayUrl(url ?? ep.base)} does not match ${against ?? 'its digest'}: expected ${expected}, ` +
        `got ${got}; nothing was stored. The copy there is damaged: push the image again, or use another mirror`,
      { endpoint: ep.base },
    );
  }
}
