import os from 'node:os';
import path from 'node:path';

/**
 * Where Furrow keeps what it can always compute again (hashes of the controller's binaries, parsed
 * YAML): $FURROW_CACHE_DIR, else $XDG_CACHE_HOME/furrow, else ~/.cache/furrow. Losing it costs time,
 * never correctness.
 */
export function cacheDir(): string {
  return (
    process.env.FURROW_CACHE_DIR ?? path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'furrow')
  );
}
