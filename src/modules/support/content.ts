/** A file's content: unified diffs of text, binary detection, SHA-256 of bytes and of controller files. */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createTwoFilesPatch, FILE_HEADERS_ONLY } from 'diff';

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

/** Hashes this process has taken, by file identity and mtime: a read-ahead and the plan after it hash once. */
const hashes = new Map<string, string>();

/** Hashes a controller file by streaming it (binaries can be large). */
export async function sha256OfFile(localPath: string): Promise<string> {
  const info = await stat(localPath);
  const key = `${localPath}\0${info.dev}:${info.ino}:${info.size}:${info.mtimeMs}`;
  const known = hashes.get(key);
  if (known) return known;
  const digest = await new Promise<string>((resolve, reject) => {
    const hash = createHash('sha256');
    createReadStream(localPath)
      .on('error', reject)
      .on('data', (chunk) => hash.update(chunk))
      .on('end', () => resolve(hash.digest('hex')));
  });
  hashes.set(key, digest);
  return digest;
}
