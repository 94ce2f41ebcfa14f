import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { open, readFile, rename, rm } from 'node:fs/promises';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { FurrowError, InputError, type SourcePlace } from '../engine/errors.js';
import type { Checksum } from './manifest.js';

/** Fetching or checking a bundle item failed; the message names the item and what to do. */
export class BundleError extends FurrowError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('module', message, options);
  }
}

/** A URL could not be fetched (no connection, no such file, an HTTP error): exit status 5. */
export class FetchError extends FurrowError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('fetch', message, options);
  }
}

export type Progress = (line: string) => void;

/** sha256 of a file, streamed; undefined when there is no such file. */
export async function fileSha256(file: string): Promise<string | undefined> {
  const hash = createHash('sha256');
  try {
    for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  return hash.digest('hex');
}

async function openSource(url: string, item: string): Promise<Readable> {
  if (url.startsWith('file://')) {
    // Opened here, not on the first read, so that a missing file is "could not fetch".
    try {
      return (await open(fileURLToPath(url))).createReadStream();
    } catch (err) {
      throw new FetchError(
        `${item}: cannot fetch ${url}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
        {
          cause: err,
        },
      );
    }
  }
  let res: Response;
  try {
    res = await fetch(url, { redirect: 'follow' });
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    throw new FetchError(`${item}: cannot fetch ${url}: ${cause?.code ?? cause?.message ?? (err as Error).message}`, {
      cause: err,
    });
  }
  if (!res.ok || !res.body) {
    await res.body?.cancel();
    throw new FetchError(`${item}: cannot fetch ${url}: it answered ${res.status} ${res.statusText}`);
  }
  return Readable.fromWeb(res.body as import('node:stream/web').ReadableStream<Uint8Array>);
}

/**
 * Downloads url to dest, hashing as it goes. Only a download with the expected digest lands at
 * dest (a temp file beside it, then renamed); anything else is removed and the error names the
 * item, where it is in the manifest, and both digests.
 */
export async function downloadVerified(
  url: string,
  checksum: Checksum,
  dest: string,
  item: string,
  place: SourcePlace,
): Promise<number> {
  const tmp = `${dest}.part-${process.pid}`;
  const hash = createHash(checksum.algorithm);
  let size = 0;
  // A source that breaks off while streaming is the network's doing; a failed write is this machine's.
  let sourceBroke = false;
  try {
    const counter = new Transform({
      transform(chunk: Buffer, _enc, done) {
        hash.update(chunk);
        size += chunk.length;
        done(null, chunk);
      },
    });
    const source = await openSource(url, item);
    source.once('error', () => (sourceBroke = true));
    await pipeline(source, counter, createWriteStream(tmp, { mode: 0o644 }));
    const got = hash.digest('hex');
    if (got !== checksum.hex) {
      const { algorithm } = checksum;
      throw new InputError(
        place,
        `${item}: the download from ${url} has ${algorithm} ${got}, the manifest says ${checksum.hex}`,
        `check the URL and the ${algorithm} in the manifest (the file may have changed upstream)`,
      );
    }
    await rename(tmp, dest);
    return size;
  } catch (err) {
    await rm(tmp, { force: true });
    if (err instanceof FurrowError) throw err;
    if (sourceBroke)
      throw new FetchError(`${item}: cannot fetch ${url}: ${(err as Error).message}; build again to resume`, {
        cause: err,
      });
    throw new BundleError(`${item}: cannot write ${tmp}: ${(err as Error).message}`, { cause: err });
  }
}

/** Reads a JSON file, or undefined when it is not there or not JSON. */
export async function readJsonIfAny<T>(file: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as T;
  } catch {
    return undefined;
  }
}
