/**
 * Issue 18 #1: a file Furrow wrote is not hashed again while its stat line is as recorded, and
 * every way of changing it is still seen: edited in place, replaced, touched back to its old mtime,
 * truncated and rewritten to the same size, chmod'ed. On this machine's own shell and filesystem,
 * each edit made right after Furrow's write (within the clock tick the record guards against).
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  openSync,
  readFileSync,
  renameSync,
  statSync,
  truncateSync,
  writeFileSync,
  writeSync,
  closeSync,
} from 'node:fs';
import path from 'node:path';
import { probeFiles, type PresentFile } from '../../../src/engine/facts/files.js';
import { RECORD_MIN_BYTES, recordCommand, recordPath } from '../../../src/engine/facts/written.js';
import { copy } from '../../../src/modules/copy.js';
import { sha256 } from '../../../src/modules/support/content.js';
import { moduleContext, runModule } from '../../support/modules.js';
import { localConnection, tempDir } from '../modules/support/hosts.js';

const tmp = tempDir('written');
const conn = localConnection();
const records = { dir: path.join(tmp.dir, 'written') };
afterAll(async () => {
  await conn.close();
  tmp.cleanup();
});

const src = path.join(tmp.dir, 'etcd');
const bytes = randomBytes(RECORD_MIN_BYTES + 4096);
writeFileSync(src, bytes);
const ctx = moduleContext(conn, { written: records });
// The edits below change byte 100 to one it cannot already be (random bytes hold 'X' there 1 time in 256).
const changed = Buffer.from([(bytes[100] as number) ^ 0xff]);
const probe = async (file: string, trusted = true) =>
  (await probeFiles(conn, [{ path: file }], trusted ? records : undefined))[0] as PresentFile;
const recordOf = (file: string) => readFileSync(recordPath(records.dir, file), 'utf8');

/** A fresh copy at `name`, written by the copy module (so recorded), and what it recorded. */
async function written(name: string): Promise<{ dest: string; record: string }> {
  const dest = path.join(tmp.dir, name);
  const run = await runModule(copy, ctx, { src, dest, mode: '0755' });
  expect(run.changed).toBe(true);
  return { dest, record: recordOf(dest) };
}

test(
  'a write of a large file is recorded (its stat line and the sha256 written); a re-run ' + 'changes nothing',
  async () => {
    const { dest, record } = await written('recorded');
    const st = statSync(dest, { bigint: true });
    expect(record).toMatch(
      new RegExp(
        `^755 \\d+ \\d+ ${bytes.length} \\S+ \\S+ \\d+ ${st.ino} \\d+\\.\\d{9} \\d+\\.\\d{9} ${sha256(bytes)}\\n$`,
      ),
    );
    expect((await runModule(copy, ctx, { src, dest, mode: '0755' })).changed).toBe(false);
  },
);

test(
  'a record whose stat line holds is believed without hashing (what saves the time); without records (--verify) ' +
    'the file is hashed',
  async () => {
    const { dest, record } = await written('believed');
    // A record that lies about the content proves the probe did not hash: it reports the lie.
    writeFileSync(recordPath(records.dir, dest), record.replace(/ [0-9a-f]{64}\n$/, ` ${'0'.repeat(64)}\n`));
    expect((await probe(dest)).sha256).toBe('0'.repeat(64));
    expect((await probe(dest, false)).sha256).toBe(sha256(bytes));
  },
);

const edits: [string, (file: string) => void][] = [
  [
    'edited in place, same size',
    (f) => {
      const fd = openSync(f, 'r+');
      writeSync(fd, changed, 0, 1, 100);
      closeSync(fd);
    },
  ],
  [
    'replaced by another file',
    (f) => {
      writeFileSync(`${f}.new`, Buffer.concat([bytes.subarray(0, 100), changed, bytes.subarray(101)]));
      chmodSync(`${f}.new`, 0o755);
      renameSync(`${f}.new`, f);
    },
  ],
  [
    'edited, then touched back to its old mtime (to the ns)',
    (f) => {
      execFileSync('touch', ['-r', f, `${f}.times`]);
      const before = statSync(f, { bigint: true }).mtimeNs;
      const fd = openSync(f, 'r+');
      writeSync(fd, changed, 0, 1, 100);
      closeSync(fd);
      execFileSync('touch', ['-r', `${f}.times`, f]);
      expect(statSync(f, { bigint: true }).mtimeNs).toBe(before);
    },
  ],
  [
    'truncated and rewritten to the same size',
    (f) => {
      truncateSync(f, 0);
      writeFileSync(f, Buffer.concat([bytes.subarray(0, 100), changed, bytes.subarray(101)]));
    },
  ],
];

test.each(edits)('%s: seen at once, the file hashed anew and copied again', async (_name, edit) => {
  const { dest } = await written(`edit-${_name.replace(/\W+/g, '-')}`);
  edit(dest);
  const now = await probe(dest);
  expect(now.size).toBe(bytes.length);
  expect(now.sha256).toBe(sha256(readFileSync(dest)));
  expect(now.sha256).not.toBe(sha256(bytes));
  const again = await runModule(copy, ctx, { src, dest, mode: '0755' });
  expect(again.plan.reason).toMatch(/^content of .* differs/);
  expect(readFileSync(dest).equals(bytes)).toBe(true);
});

test(
  'a chmod moves ctime: the file is hashed again, its content found right, only the mode fixed ' +
    '(and recorded anew)',
  async () => {
    const { dest, record } = await written('chmod');
    chmodSync(dest, 0o700);
    const again = await runModule(copy, ctx, { src, dest, mode: '0755' });
    expect(again.plan).toMatchObject({ action: 'update', reason: expect.stringMatching(/mode/) });
    expect(recordOf(dest)).not.toBe(record);
    expect((await runModule(copy, ctx, { src, dest, mode: '0755' })).changed).toBe(false);
  },
);

test('no record for content Furrow did not write, nor for small files', async () => {
  const other = path.join(tmp.dir, 'not-ours');
  writeFileSync(other, bytes);
  await conn.exec(recordCommand(records, other, '1'.repeat(64)));
  expect(existsSync(recordPath(records.dir, other))).toBe(false);
  const small = path.join(tmp.dir, 'small.conf');
  expect((await runModule(copy, ctx, { content: 'hello\n', dest: small })).changed).toBe(true);
  expect(existsSync(recordPath(records.dir, small))).toBe(false);
});
