/** A file's content: unified diffs of text, binary detection, SHA-256 of bytes and of controller files. */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createTwoFilesPatch, FILE_HEADERS_ONLY } from 'diff';
import { identityOf, keepSha256, keptSha256 } from './hash-cache.js';

/** A unified diff of two texts, labelled with the path on both sides. */
export function unifiedDiff(path: string, before: string, after: string): string {
  return createTwoFilesPatch(path, path, before, after, undefined, undefined, { headerOptions: FILE_HEADERS_ONLY });
}

/** Binary files get no text diff: a NUL byte within the first 8000 bytes marks them, as git does. */
export function isText(bytes: Buffer): boolean {
  return !bytes.subarray(0, 8000).includes(0);
}

export function sha256(bytes: Buffer | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Hashes this process has taken or is taking, by file state: hosts that copy one binary hash it once. */
const hashes = new Map<string, Promise<string>>();

/**
 * Hashes a controller file by streaming it (binaries can be large), once per state of the file in
 * a process, and for a large file once per state across runs (hash-cache.ts).
 */
export async function sha256OfFile(localPath: string): Promise<string> {
  const info = await stat(localPath, { bigint: true });
  const key = `${localPath}\0${identityOf(info)}`;
  let digest = hashes.get(key);
  if (!digest) {
    digest = keptSha256(localPath, info).then(async (kept) => {
      if (kept) return kept;
      const hashed = await streamSha256(localPath);
      await keepSha256(localPath, info, hashed);
      return hashed;
    });
    hashes.set(key, digest);
    digest.catch(() => hashes.delete(key)); // a failed read is tried again next time
  }
  return digest;
}

function streamSha256(localPath: string): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const hash = createHash('sha256');
    createReadStream(localPath)
      .on('error', reject)
      .on('data', (chunk) => hash.update(chunk))
      .on('end', () => resolve(hash.digest('hex')));
  });
}
