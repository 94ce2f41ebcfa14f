/**
 * A pull that failed, said so a user can act on it: which image, which endpoint, what came back and
 * what to do. `kind` is for callers; the FurrowError code sets the exit status (auth and integrity
 * 1, could not fetch 5: no connection, or a registry answering with an error; an image or platform
 * that does not exist 2).
 */
import { FurrowError, type ErrorCode } from '../../engine/errors.js';

export type RegistryErrorKind =
  | 'auth' // 401/403, or the token server refused
  | 'not-found' // no such repository, tag or blob
  | 'unreachable' // no connection, TLS failure
  | 'unsupported' // schema 1, an unknown media type, a digest algorithm we do not store
  | 'platform' // the image has none of the wanted architectures
  | 'integrity' // content does not match its digest or size
  | 'registry'; // anything else the registry answered (5xx, 429, bad JSON)

const CODES: Record<RegistryErrorKind, ErrorCode> = {
  auth: 'auth',
  'not-found': 'input',
  unreachable: 'fetch',
  unsupported: 'input',
  platform: 'input',
  integrity: 'module',
  registry: 'fetch',
};

export class RegistryError extends FurrowError {
  constructor(
    readonly kind: RegistryErrorKind,
    /** The image as the caller named it. */
    readonly image: string,
    readonly detail: string,
    readonly extra: { endpoint?: string; status?: number; cause?: unknown } = {},
  ) {
    super(CODES[kind], `${image}: ${detail}`, extra.cause === undefined ? undefined : { cause: extra.cause });
  }

  get endpoint(): string | undefined {
    return this.extra.endpoint;
  }

  get status(): number | undefined {
    return this.extra.status;
  }
}
