/**
 * One error tree for the whole tool. Every error the user can see is a FurrowError:
 * its `code` decides the exit status and how reporters show it.
 */
export type ErrorCode =
  | 'input'
  | 'unreachable'
  | 'busy'
  | 'fetch'
  | 'auth'
  | 'hostkey'
  | 'module'
  | 'contract'
  | 'lab'
  | 'internal';

export class FurrowError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Where in an input file something is wrong (1-based line and column). */
export interface SourcePlace {
  file: string;
  line?: number;
  column?: number;
}

export function formatPlace(place: SourcePlace): string {
  if (place.line === undefined) return place.file;
  return place.column === undefined ? `${place.file}:${place.line}` : `${place.file}:${place.line}:${place.column}`;
}

/** Bad input: exit status 2, names the file and place and says what was expected. */
export class InputError extends FurrowError {
  constructor(
    readonly place: SourcePlace | undefined,
    readonly problem: string,
    readonly fix?: string,
  ) {
    super(
      'input',
      [place ? `${formatPlace(place)}: ${problem}` : problem, fix ? `  fix: ${fix}` : ''].filter(Boolean).join('\n'),
    );
  }
}

/** The host could not be reached (TCP, handshake, jump host): reported apart from failures. */
export class UnreachableError extends FurrowError {
  constructor(
    readonly host: string,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super('unreachable', `${host}: unreachable: ${detail}`, options);
  }
}

/** The server refused every credential we offered. */
export class AuthError extends FurrowError {
  constructor(
    readonly host: string,
    readonly user: string,
    detail: string,
  ) {
    super('auth', `${host}: authentication failed for user '${user}': ${detail}`);
  }
}

/** The host presented a key that differs from the recorded one (or is unknown under strict checking). */
export class HostKeyError extends FurrowError {
  constructor(
    readonly host: string,
    message: string,
  ) {
    super('hostkey', `${host}: ${message}`);
  }
}

/** The lab could not be brought up or down; the message says what to do. */
export class LabError extends FurrowError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('lab', message, options);
  }
}

/** Exit statuses, documented in docs/cli.md. */
/** busy: another run holds a host's lock and the run was told not to wait (--no-wait); nothing was touched. */
/**
 * fetch: a download or image pull could not be fetched (no connection, an HTTP error): a network problem, not a failed
 * host.
 */
export const EXIT = { ok: 0, failed: 1, input: 2, unreachable: 3, busy: 4, fetch: 5, internal: 70 } as const;

export function exitCodeFor(err: unknown): number {
  if (err instanceof FurrowError) {
    if (err.code === 'input') return EXIT.input;
    if (err.code === 'unreachable') return EXIT.unreachable;
    if (err.code === 'busy') return EXIT.busy;
    if (err.code === 'fetch') return EXIT.fetch;
    if (err.code === 'internal') return EXIT.internal;
    return EXIT.failed;
  }
  return EXIT.internal;
}
