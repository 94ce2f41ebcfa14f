import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { LabError } from '../engine/errors.js';

/**
 * Runs `fn` while this process holds an exclusive lock on `file`, for the few steps two `lab up`s
 * on one machine must not take at once (see lab.ts). The lock is the kernel's `flock`, held by a
 * util-linux `flock` process that waits for its standard input to end: it goes when we end that
 * input, or when this process dies and the kernel closes the pipe. So nothing stale is ever left
 * for a later run to clean up. `onWait` is called once if the lock is not free within a second.
 */
export async function withMachineLock<T>(file: string, fn: () => Promise<T>, onWait?: () => void): Promise<T> {
  try {
    mkdirSync(path.dirname(file), { recursive: true });
  } catch (e) {
    throw new LabError(`could not lock ${file}: ${(e as Error).message}`);
  }
  const holder = spawn('flock', ['--exclusive', file, 'sh', '-c', 'echo locked; exec cat >/dev/null'], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  holder.stdin.on('error', () => undefined); // EPIPE when flock has gone: reported by 'close'
  const ended = new Promise<number | null>((resolve) => holder.on('close', resolve));
  await new Promise<void>((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    const waiting = setTimeout(() => onWait?.(), 1000);
    const fail = (why: string) => {
      clearTimeout(waiting);
      reject(new LabError(`could not lock ${file}: ${why}`));
    };
    holder.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      if (stdout.includes('locked\n')) {
        clearTimeout(waiting);
        resolve();
      }
    });
    holder.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    holder.on('error', (e) => fail(`${e.message} (flock comes with util-linux)`));
    // After the lock was taken this rejects a settled promise, which is a no-op.
    holder.on('close', (code) => fail(`flock exited ${code}${stderr.trim() ? `: ${stderr.trim()}` : ''}`));
  });
  try {
    return await fn();
  } finally {
    holder.stdin.end();
    await ended;
  }
}
