/**
 * Image references as docker writes them, normalised as docker does: `busybox` is
 * docker.io/library/busybox:latest. Pure functions; the grammar is distribution's reference package.
 */
import { InputError } from '../../engine/errors.js';
import type { ImageRef } from './types.js';

export const DOCKER_HUB = 'docker.io';
/** The host docker.io's distribution API answers on. */
export const DOCKER_HUB_API = 'registry-1.docker.io';

const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^\w[\w.-]{0,127}$/;
const DIGEST = /^([a-z0-9]+(?:[.+_-][a-z0-9]+)*):([a-zA-Z0-9=_-]+)$/;
const HOST_LABEL = /^[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?$/;
const DIGEST_HEX: Record<string, number> = { sha256: 64, sha512: 128 };

function bad(
  ref: string,
  problem: string,
  fix = 'write it as [registry[:port]/]repository[:tag][@sha256:<64 hex>], e.g. docker.io/library/busybox:1.36',
): InputError {
  return new InputError(undefined, `image reference '${ref}': ${problem}`, fix);
}

/** A registry host as written in references: DNS name or IPv4 or [IPv6], optional :port. */
export function validRegistryHost(host: string): boolean {
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:[\]]+)(?::(\d{1,5}))?$/.exec(host);
  if (!m) return false;
  if (m[2] !== undefined && Number(m[2]) > 65535) return false;
  return m[1]!.startsWith('[') || m[1]!.split('.').every((label) => HOST_LABEL.test(label));
}

export function parseDigest(ref: string, digest: string): string {
  const m = DIGEST.exec(digest);
  if (!m) throw bad(ref, `'${digest}' is not a digest (algorithm:hex)`);
  const hexLength = DIGEST_HEX[m[1]!];
  if (hexLength === undefined) throw bad(ref, `digest algorithm '${m[1]}' is not supported (sha256 or sha512)`);
  if (!new RegExp(`^[a-f0-9]{${hexLength}}$`).test(m[2]!))
    throw bad(ref, `a ${m[1]} digest is ${hexLength} lowercase hex digits, not '${m[2]}'`);
  return digest;
}

export function parseImageRef(ref: string): ImageRef {
  if (typeof ref !== 'string' || ref.trim() === '') throw bad(String(ref), 'empty');
  if (ref !== ref.trim() || /\s/.test(ref)) throw bad(ref, 'contains white space');
  let rest = ref;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = parseDigest(ref, rest.slice(at + 1));
    rest = rest.slice(0, at);
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag))
      throw bad(ref, `'${tag}' is not a valid tag (letters, digits, _ . -, at most 128, not starting with . or -)`);
  }
  if (rest === '') throw bad(ref, 'no repository name');

  let registry = DOCKER_HUB;
  let path = rest;
  const slash = rest.indexOf('/');
  if (slash >= 0) {
    const first = rest.slice(0, slash);
    if (/[.:]/.test(first) || first === 'localhost' || first !== first.toLowerCase()) {
      if (!validRegistryHost(first)) throw bad(ref, `'${first}' is not a valid registry host[:port]`);
      registry = first === 'index.docker.io' ? DOCKER_HUB : first;
      path = rest.slice(slash + 1);
    }
  }
  if (path === '') throw bad(ref, 'no repository name after the registry');
  if (registry === DOCKER_HUB && !path.includes('/')) path = `library/${path}`;
  for (const component of path.split('/')) {
    if (component !== component.toLowerCase() && COMPONENT.test(component.toLowerCase())) {
      throw bad(ref, `repository names are lowercase ('${component}')`, `write '${component.toLowerCase()}'`);
    }
    if (!COMPONENT.test(component))
      throw bad(
        ref,
        `'${component}' is not a valid repository path component (lowercase letters and digits, separated ` +
          `by . _ __ or -)`,
      );
  }
  const repoName = `${registry}/${path}`;
  if (repoName.length > 255) throw bad(ref, `the name is ${repoName.length} characters long; at most 255`);
  if (tag === undefined && digest === undefined) tag = 'latest';
  const name = tag !== undefined ? `${repoName}:${tag}` : `${repoName}@${digest}`;
  return {
    registry,
    repository: path,
    ...(tag !== undefined ? { tag } : {}),
    ...(digest !== undefined ? { digest } : {}),
    name,
  };
}

/** The host the distribution API of a registry answers on (docker.io's is registry-1.docker.io). */
export function apiHost(registry: string): string {
  return registry === DOCKER_HUB ? DOCKER_HUB_API : registry;
}

/** localhost, 127.0.0.0/8 and ::1, with or without a port: the hosts docker reaches over plain http by default. */
export function isLoopbackHost(host: string): boolean {
  const bare = host.startsWith('[')
    ? host.slice(1, host.indexOf(']'))
    : host.split(':').length > 2
      ? host
      : host.replace(/:\d+$/, '');
  return bare === 'localhost' || bare === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(bare);
}
