import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { withMachineLock } from '../../../src/lab/machine-lock.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const lockModule = path.join(path.dirname(fileURLToPath(import.meta.url)), '../../../src/lab/machine-lock.js');

describe('the lab machine lock (util-linux flock, held by a process of its own)', () => {
  let dir: string;
  let file: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'furrow-lock-'));
    file = path.join(dir, 'sub', 'lab.lock');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  test('two holders at once run one after the other, and the second one is told it waits', async () => {
    const events: string[] = [];
    let waited = 0;
    const hold = (name: string) =>
      withMachineLock(
        file,
        async () => {
          events.push(`${name} in`);
          await sleep(1500);
          events.push(`${name} out`);
          return name;
        },
        () => waited++,
      );
    const first = hold('a');
    await sleep(200);
    const results = await Promise.all([first, hold('b')]);
    expect(results).toEqual(['a', 'b']);
    expect(events).toEqual(['a in', 'a out', 'b in', 'b out']);
    expect(waited).toBe(1);
  });

  test('a holder that throws lets the lock go, and the error is its own', async () => {
    await expect(
      withMachineLock(file, async () => {
        throw new Error('build failed');
      }),
    ).rejects.toThrow('build failed');
    let waited = false;
    expect(
      await withMachineLock(
        file,
        async () => 'free',
        () => (waited = true),
      ),
    ).toBe('free');
    expect(waited).toBe(false);
  });

  test('a process killed while it holds the lock leaves nothing behind: the next one takes it at once', async () => {
    const script =
      `const { withMachineLock } = await import(${JSON.stringify(lockModule)});` +
      `await withMachineLock(${JSON.stringify(file)}, async () => {` +
      ` console.log('held'); await new Promise(() => {}); });`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await new Promise<void>((resolve) =>
      child.stdout.on('data', (d: Buffer) => d.toString().includes('held') && resolve()),
    );
    // While it lives, the lock is taken.
    let waited = false;
    const blocked = withMachineLock(
      file,
      async () => 'mine',
      () => (waited = true),
    );
    await sleep(1300);
    expect(waited).toBe(true);
    child.kill('SIGKILL');
    expect(await blocked).toBe('mine');
  });

  test('a lock file that cannot be made is an error naming it, and the holder never runs', async () => {
    writeFileSync(path.join(dir, 'sub'), 'a file, not a folder');
    let ran = false;
    await expect(withMachineLock(file, async () => (ran = true))).rejects.toThrow(`could not lock ${file}: `);
    expect(ran).toBe(false);
  });
});
