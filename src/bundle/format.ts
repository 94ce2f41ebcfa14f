/**
 * The bundle file: ONE uncompressed tar (its big parts, image layers and .deb files, are
 * compressed already) whose first entry is `bundle.json`, the index of everything in it:
 *
 *   bundle.json                 this index
 *   bin/<arch>/<name>           binaries, mode 0755
 *   images/                     an OCI image layout: oci-layout, index.json, blobs/sha256/<hex>
 *                               (each blob once, however many images and arches share it)
 *   repo/debian/                a flat Debian repository: pool/*.deb, Packages, Packages.gz, Release
 *
 * Every file but bundle.json is listed in `files` with its sha256 and size, and says which item
 * it belongs to, so `bundle verify` can name the item a bad byte is in.
 */
import type { PulledImage } from './registry/index.js';

export const BUNDLE_FORMAT = 'furrow-bundle/1';
export const INDEX_NAME = 'bundle.json';
export const IMAGES_DIR = 'images';
export const BLOBS_DIR = 'images/blobs/sha256';
export const DEBIAN_REPO_DIR = 'repo/debian';

export interface BundleFile {
  /** Relative to the bundle's top. */
  path: string;
  sha256: string;
  size: number;
  /** The item it belongs to, as `bundle ls` and errors name it: "binary etcd 3.5.16 amd64". */
  item: string;
}

export interface BundleBinary {
  name: string;
  version: string;
  arch: string;
  url: string;
  /** The download's digest as the manifest gives it (checked against it): sha256, or sha512. */
  sha256?: string;
  sha512?: string;
  /** The inventory pattern of the hosts it is installed on. */
  hosts: string;
  /** Its files under bin/<arch>/. */
  files: string[];
}

export interface BundleImage extends Omit<PulledImage, 'blobs' | 'missingArches'> {
  arches: string[];
  blobs: { digest: string; size: number }[];
}

export interface BundlePackages {
  family: 'debian';
  /** The build machine's distribution: hosts must match it to install from the repository. */
  distribution: { id: string; versionId: string; codename: string };
  arch: string;
  requested: string[];
  packages: { name: string; version: string; path: string }[];
}

export interface BundleIndex {
  format: typeof BUNDLE_FORMAT;
  name: string;
  created: string;
  arches: string[];
  binaries: BundleBinary[];
  images: BundleImage[];
  packages?: BundlePackages;
  files: BundleFile[];
}

export function itemName(kind: 'binary' | 'image' | 'packages', ...words: (string | undefined)[]): string {
  return [kind, ...words.filter(Boolean)].join(' ');
}

/** Everything of the index but its creation time: two builds with the same content compare equal. */
export function sameContent(a: BundleIndex, b: BundleIndex): boolean {
  return JSON.stringify({ ...a, created: '' }) === JSON.stringify({ ...b, created: '' });
}
