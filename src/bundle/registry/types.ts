/** The registry client's public shapes: what the bundle build gives it and what a pull returns. */

export interface RegistryAuth {
  username: string;
  password: string;
}

/** Per registry host (as written in image references, e.g. "docker.io", "127.0.0.1:5000"). */
export interface RegistrySettings {
  /**
   * Endpoints tried first, in order (e.g. "http://127.0.0.1:5001" or "https://mirror.example"); then
   * the registry itself. As in containerd's hosts.toml, a mirror serves `<mirror>/v2/<repository>/...`.
   * A mirror authenticates with the settings of its own host in the config when it has some, else
   * with this registry's `auth`.
   */
  mirrors?: string[];
  auth?: RegistryAuth;
  /** Plain http instead of https. Default: true only for loopback hosts (localhost, 127.x, ::1), as docker does. */
  insecure?: boolean;
}

export type RegistryConfig = Record<string, RegistrySettings>;

export interface ImageRef {
  /** As written in references and config keys: "docker.io", "127.0.0.1:5000". */
  registry: string;
  /** docker.io/busybox -> "library/busybox". */
  repository: string;
  tag?: string;
  digest?: string;
  /**
   * Normalised full name: repository with its tag (docker.io/library/busybox:1.36), or @digest when given by digest
   * only.
   */
  name: string;
}

export interface PulledPlatform {
  os: string;
  arch: string;
  variant?: string;
  /** Digest of this platform's image manifest. */
  manifest: string;
  config: string;
  layers: string[];
  /** Bytes of manifest + config + layers. */
  size: number;
}

export interface PulledBlob {
  digest: string;
  size: number;
  /** false when it was already present in blobDir and its sha256 verified. */
  fetched: boolean;
}

export interface PulledImage {
  /** As the caller gave it. */
  ref: string;
  /** Normalised name with tag (or @digest when given by digest only). */
  name: string;
  /** Digest of the top-level manifest or index, exactly as the registry serves it (what `ctr images ls` shows). */
  digest: string;
  /** Media type of that top-level object. */
  mediaType: string;
  platforms: PulledPlatform[];
  /** Requested architectures the image does not have (an index without them; empty when all were found). */
  missingArches: string[];
  /** Every blob this image needs in the layout (index, manifests, configs, layers), each once. */
  blobs: PulledBlob[];
}

export interface PullProgress {
  image: string;
  blob?: string;
  bytes?: number;
  total?: number;
  done?: boolean;
}

export interface PullOptions {
  /**
   * e.g. ['amd64', 'arm64'] (also 'arm/v7', 'linux/arm64'). From an index, the matching linux
   * platforms are pulled; a single-platform image whose arch is not among them is an error.
   */
  arches: string[];
  /** <layout>/blobs/sha256: every blob stored once as <hex>, written temp-then-rename after its sha256 is verified. */
  blobDir: string;
  /** Resolution recorded by an earlier build: when its blob is present, the registry is not asked for the tag again. */
  known?: { digest: string; mediaType: string };
  onProgress?: (event: PullProgress) => void;
}
