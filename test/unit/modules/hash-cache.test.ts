/**
 * Issue 18 #1, the controller's side: a large controller file (a binary to copy) is hashed once per
 * state of the file, across runs. Each run here is a new process, as each `furrow deploy` is.
 */
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, existsSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import { tempDir } from './support/hosts.js';

const tmp = tempDir('hash-cache');
afterAll(() => tmp.cleanup());
const cacheDir = path.join(tmp.dir, 'cache');
const cacheFile = path.join(cacheDir, 'file-hashes.json');
const content = new URL('../../../src/modules/support/content.js', import.meta.url).href;

/** A run's view of the file: sha256OfFile in a process of its own. */
const hashInNewRun = (file: string) =>
  execFileSync(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `import { sha256OfFile } from ${JSON.stringify(content)}; process.stdout.write(await ` +
        `sha256OfFile(${JSON.stringify(file)}));`,
    ],
    {
      env: { ...process.env, FURROW_CACHE_DIR: cacheDir },
    },
  ).toString();
const kept = (): Record<string, string> => (existsSync(cacheFile) ? JSON.parse(readFileSync(cacheFile, 'utf8')) : {});
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const settle = () => new Promise((r) => setTimeout(r, 1100));

const bytes = randomBytes(2 * 1024 * 1024);

test(
  'a settled large file is hashed once: the next run takes the kept sha256 (a planted one proves ' +
    'it is not hashed)',
  async () => {
    const file = path.join(tmp.dir, 'containerd');
    writeFileSync(file, bytes);
    await settle();
    expect(hashInNewRun(file)).toBe(sha(bytes));
    expect(kept()[file]).toMatch(new RegExp(` ${sha(bytes)}$`));
    writeFileSync(
      cacheFile,
      JSON.stringify({ ...kept(), [file]: kept()[file]!.replace(/[0-9a-f]{64}$/, 'f'.repeat(64)) }),
    );
    expect(hashInNewRun(file)).toBe('f'.repeat(64));
  },
);

test('an edit touched back to the old mtime is seen: hashed anew', async () => {
  const file = path.join(tmp.dir, 'etcd');
  writeFileSync(file, bytes);
  await settle();
  expect(hashInNewRun(file)).toBe(sha(bytes));
  execFileSync('touch', ['-r', file, `${file}.times`]);
  const fd = openSync(file, 'r+');
  // The complement of the byte there: random bytes hold 'X' at any place 1 time in 256.
  writeSync(fd, Buffer.from([(bytes[10] as number) ^ 0xff]), 0, 1, 10);
  closeSync(fd);
  execFileSync('touch', ['-r', `${file}.times`, file]);
  expect(hashInNewRun(file)).toBe(sha(readFileSync(file)));
  expect(hashInNewRun(file)).not.toBe(sha(bytes));
});

test('not kept: a file changed less than a second ago, or a small one', () => {
  const fresh = path.join(tmp.dir, 'fresh');
  writeFileSync(fresh, bytes);
  expect(hashInNewRun(fresh)).toBe(sha(bytes));
  const small = path.join(tmp.dir, 'small');
  writeFileSync(small, 'hello\n');
  expect(hashInNewRun(small)).toBe(sha(Buffer.from('hello\n')));
  expect(Object.keys(kept())).not.toEqual(expect.arrayContaining([fresh]));
  expect(Object.keys(kept())).not.toEqual(expect.arrayContaining([small]));
});
