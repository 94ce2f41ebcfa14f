/**
 * The blobs of an OCI image layout (<layout>/blobs/sha256/<hex>): each stored once, written to a
 * temporary file in the same folder and renamed into place only after its sha256 and size were
 * verified while it streamed, so a blob that is present is whole. Present blobs are checked by
 * hashing them again (once per store object unless the file changed).
 */
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rename, stat, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileSha256 } from '../download.js';

/**
 * Content that did not match its descriptor; nothing was stored. `actual` is undefined when it was cut off for being
 * too long.
 */
export class BlobMismatch extends Error {
  constructor(
    readonly expected: string,
    readonly actual: string | undefined,
    readonly expectedSize: number | undefined,
    readonly actualSize: number,
  ) {
    super(
      actual === undefined
        ? `more than the ${expectedSize} bytes its descriptor gives`
        : expectedSize !== undefined && actualSize !== expectedSize
          ? `${actualSize} bytes (${actual}) where ${expectedSize} were expected`
          : `the content's digest is ${actual}`,
    );
  }
}

export function sha256Digest(data: Buffer | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/** The hex of a sha256 digest; undefined for other algorithms (an OCI layout keeps them elsewhere). */
export function sha256Hex(digest: string): string | undefined {
  const m = /^sha256:([a-f0-9]{64})$/.exec(digest);
  return m?.[1];
}

export class BlobStore {
  /** hex -> the stat signature of the file when its hash was last checked. */
  private readonly verified = new Map<string, string>();

  constructor(readonly dir: string) {}

  file(digest: string): string {
    const hex = sha256Hex(digest);
    if (!hex) throw new Error(`not a sha256 digest: ${digest}`);
    return path.join(this.dir, hex);
  }

  /** Whether the blob is present with the right size and sha256. */
  async has(digest: string, size?: number): Promise<boolean> {
    const file = this.file(digest);
    const st = await stat(file).catch(() => undefined);
    if (!st?.isFile() || (size !== undefined && st.size !== size)) return false;
    const signature = `${st.size}:${st.mtimeMs}:${st.ino}`;
    if (this.verified.get(digest) === signature) return true;
    const ok = `sha256:${await fileSha256(file)}` === digest;
    if (ok) this.verified.set(digest, signature);
    else this.verified.delete(digest);
    return ok;
  }

  /** Stores bytes already in memory (manifests, configs) after checking them. */
  async putBytes(digest: string, bytes: Buffer, size?: number): Promise<void> {
    const actual = sha256Digest(bytes);
    if (actual !== digest || (size !== undefined && bytes.length !== size))
      throw new BlobMismatch(digest, actual, size, bytes.length);
    const tmp = await this.tempFile(digest);
    try {
      await writeFile(tmp, bytes, { flag: 'wx', mode: 0o644 });
      await this.commit(tmp, digest);
    } catch (err) {
      await unlink(tmp).catch(() => undefined);
      throw err;
    }
  }

  /**
   * Streams a blob to the store, hashing as it goes; never holds more than a chunk in memory. Stops
   * as soon as more than `size` bytes arrive. On any failure the temporary file is removed.
   */
  async putStream(
    body: ReadableStream<Uint8Array> | Readable,
    digest: string,
    size: number | undefined,
    onBytes?: (bytes: number) => void,
  ): Promise<void> {
    const tmp = await this.tempFile(digest);
    const hash = createHash('sha256');
    let received = 0;
    const source =
      body instanceof Readable ? body : Readable.fromWeb(body as import('node:stream/web').ReadableStream<Uint8Array>);
    try {
      await pipeline(
        source,
        async function* (chunks: AsyncIterable<Buffer>) {
          for await (const chunk of chunks) {
            received += chunk.length;
            if (size !== undefined && received > size) throw new BlobMismatch(digest, undefined, size, received);
            hash.update(chunk);
            onBytes?.(received);
            yield chunk;
          }
        },
        createWriteStream(tmp, { flags: 'wx', mode: 0o644 }),
      );
      const actual = `sha256:${hash.digest('hex')}`;
      if (actual !== digest || (size !== undefined && received !== size))
        throw new BlobMismatch(digest, actual, size, received);
      await this.commit(tmp, digest);
    } catch (err) {
      source.destroy();
      await unlink(tmp).catch(() => undefined);
      throw err;
    }
  }

  private async tempFile(digest: string): Promise<string> {
    await mkdir(this.dir, { recursive: true });
    return path.join(
      this.dir,
      `.${sha256Hex(digest) ?? 'blob'}.${process.pid}.${randomBytes(4).toString('hex')}.partial`,
    );
  }

  private async commit(tmp: string, digest: string): Promise<void> {
    const file = this.file(digest);
    await rename(tmp, file);
    const st = await stat(file);
    this.verified.set(digest, `${st.size}:${st.mtimeMs}:${st.ino}`);
  }
}
