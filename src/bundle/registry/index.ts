/**
 * The registry client of `furrow bundle build`: pulls images over the OCI distribution API into an
 * OCI image layout. No docker, skopeo or ctr: Node's fetch only.
 */
export type {
  ImageRef,
  PulledBlob,
  PulledImage,
  PulledPlatform,
  PullOptions,
  PullProgress,
  RegistryAuth,
  RegistryConfig,
  RegistrySettings,
} from './types.js';
export { parseImageRef, apiHost, isLoopbackHost, DOCKER_HUB, DOCKER_HUB_API } from './reference.js';
export { parseChallenges, type Challenge } from './challenge.js';
export {
  MEDIA,
  MANIFEST_ACCEPT,
  parseManifest,
  selectPlatforms,
  parsePlatformWanted,
  type Descriptor,
  type Platform,
  type PlatformSelection,
} from './media.js';
export { RegistryError, type RegistryErrorKind } from './errors.js';
export { RegistryClient } from './client.js';
export { addToLayoutIndex, REF_NAME, CONTAINERD_NAME } from './layout.js';
export { sha256Digest } from './blob-store.js';
