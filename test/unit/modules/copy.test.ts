import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { copy, type CopyParams } from '../../../src/modules/copy.js';
import type { Plan } from '../../../src/engine/module.js';
import { moduleContext, runModule } from '../../support/modules.js';
import { cannedConnection, localConnection, probeContent, tempDir } from './support/hosts.js';

const SHA_HELLO = '5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03'; // "hello\n"
const SHA_OLD = 'a'.repeat(64);

interface Case {
  name: string;
  params: CopyParams;
  probe: string;
  files?: Record<string, string>;
  /** The task is no_log: inline content is neither read back nor shown. */
  noLog?: boolean;
  expected: Partial<Plan>;
}

/** Params and canned probe output -> the plan (action, reason, diff): one round trip each. */
const cases: Case[] = [
  {
    name: 'absent: create, the inline content of a no_log task is never shown',
    params: { dest: '/etc/app.conf', content: 'hello\n', mode: '0640' },
    noLog: true,
    probe: '@ absent\n',
    expected: {
      action: 'create',
      reason: '/etc/app.conf does not exist',
      diff: {
        values: [
          { key: 'state', before: 'absent', after: 'file' },
          { key: 'content', before: '(secret)', after: '(secret changed)' },
          { key: 'mode', before: null, after: '0640' },
        ],
      },
    },
  },
  {
    name: 'same hash and attributes: nothing to do',
    params: { dest: '/etc/app.conf', content: 'hello\n', mode: 420, owner: 'root', group: 0 },
    probe: `@ file 644 0 0 6 root root\nsha256 ${SHA_HELLO}\n`,
    expected: { action: 'none', reason: '/etc/app.conf is up to date' },
  },
  {
    name: 'same hash, other mode and owner: only attributes change',
    params: { dest: '/etc/app.conf', content: 'hello\n', mode: '600', owner: 'daemon' },
    probe: `@ file 644 0 0 6 root root\nsha256 ${SHA_HELLO}\n`,
    expected: {
      action: 'update',
      reason: 'mode of /etc/app.conf is 0644, wants 0600; owner of /etc/app.conf is root, wants daemon',
      diff: {
        values: [
          { key: 'mode', before: '0644', after: '0600' },
          { key: 'owner', before: 'root', after: 'daemon' },
        ],
      },
      data: {
        path: '/etc/app.conf',
        attrs: [
          { key: 'mode', before: '0644', after: '0600' },
          { key: 'owner', before: 'root', after: 'daemon' },
        ],
      },
    },
  },
  {
    name: 'other content from a src file: a unified diff labelled with the path',
    params: { dest: '/etc/app.conf', src: 'app.conf' },
    probe: `@ file 600 1000 1000 4 alice alice\nsha256 ${SHA_OLD}\n${probeContent('bye\n')}@ absent\n`,
    files: { 'app.conf': 'hello\n' },
    expected: {
      action: 'update',
      reason: 'content of /etc/app.conf differs (sha256 aaaaaaaaaaaa -> 5891b5b522d5)',
      diff: { unified: '--- /etc/app.conf\n+++ /etc/app.conf\n@@ -1,1 +1,1 @@\n-bye\n+hello\n' },
    },
  },
  {
    name: 'force: no leaves an existing file alone',
    params: { dest: '/etc/app.conf', content: 'hello\n', force: 'no' },
    probe: `@ file 644 0 0 3 root root\nsha256 ${SHA_OLD}\n`,
    expected: { action: 'none', reason: '/etc/app.conf exists and force is false: content left alone' },
  },
  {
    name: 'src onto an existing directory lands inside it',
    params: { dest: '/etc/app', src: 'app.conf' },
    probe: `@ directory 755 0 0 4096 root root\n@ file 644 0 0 6 root root\nsha256 ${SHA_HELLO}\n`,
    files: { 'app.conf': 'hello\n' },
    expected: { action: 'none', reason: '/etc/app/app.conf is up to date' },
  },
  {
    name: 'a link at dest is replaced by a file',
    params: { dest: '/etc/app.conf', content: 'hello\n' },
    noLog: true,
    probe: '@ link 777 0 0 8 root root\ntarget 8\n/opt/app\n',
    expected: {
      action: 'replace',
      reason: '/etc/app.conf is a link to /opt/app: it becomes a file',
      diff: {
        values: [
          { key: 'state', before: 'link', after: 'file' },
          { key: 'content', before: '(secret)', after: '(secret changed)' },
        ],
      },
    },
  },
];

describe('copy: plan from canned probe output', () => {
  const tmp = tempDir('copy-plan');
  afterAll(() => tmp.cleanup());

  test.each(cases)('$name', async ({ params, probe, files, noLog, expected }) => {
    for (const [name, text] of Object.entries(files ?? {})) {
      mkdirSync(path.join(tmp.dir, 'files'), { recursive: true });
      writeFileSync(path.join(tmp.dir, 'files', name), text);
    }
    const conn = cannedConnection(probe);
    const plan = await copy.plan(moduleContext(conn, { filesDir: tmp.dir, noLog }), params);
    expect(plan).toMatchObject(expected);
    if (!expected.diff) expect(plan.diff).toBeUndefined();
    expect(conn.commands).toHaveLength(1);
  });

  test('a content change keeps the old mode and owner (by id) unless told otherwise', async () => {
    const plan = await copy.plan(
      moduleContext(cannedConnection(`@ file 600 1000 1001 3 alice staff\nsha256 ${SHA_OLD}\n`)),
      {
        dest: '/x',
        content: 'hello\n',
      },
    );
    expect(plan.data?.write).toEqual({
      source: { bytes: Buffer.from('hello\n') },
      mode: '0600',
      owner: '1000',
      group: '1001',
      backup: false,
    });
  });

  test.each([
    [{ dest: '/x', content: 'a', src: 'b' }, 'copy: give either content or src, not both'],
    [{ dest: '/x' }, 'copy: one of content or src is required'],
    [{ dest: '/x/', content: 'a' }, "copy: dest '/x/' is a directory but content has no file name"],
    [{ dest: '/x', content: 'a', mode: 'rw-r--r--' }, 'copy: mode "rw-r--r--" is not a file mode'],
    [{ dest: '/x', src: 'nope' }, "copy: src 'nope' was not found"],
  ] as [CopyParams, string][])('bad params: %j', async (params, message) => {
    await expect(
      copy.plan(moduleContext(cannedConnection('@ absent\n'), { filesDir: tmp.dir }), params),
    ).rejects.toThrow(message);
  });

  test('a dest that is a directory, for content, fails naming the host', async () => {
    await expect(
      copy.plan(moduleContext(cannedConnection('@ directory 755 0 0 0 root root\n')), { dest: '/etc', content: 'a' }),
    ).rejects.toThrow('h1: copy: /etc is a directory, not a file');
  });
});

describe('copy on a real shell (LocalConnection)', () => {
  const tmp = tempDir('copy');
  const conn = localConnection();
  const run = (params: CopyParams, check = false) =>
    runModule(copy, moduleContext(conn, { check, filesDir: tmp.dir }), params);
  afterAll(async () => {
    await conn.close();
    tmp.cleanup();
  });

  test('create, re-run does nothing, check mode changes nothing, drift is repaired', async () => {
    const dest = path.join(tmp.dir, 'app.conf');
    const first = await run({ dest, content: 'hello\n', mode: '0640', owner: 'daemon', group: 'daemon' });
    expect(first.changed).toBe(true);
    expect(readFileSync(dest, 'utf8')).toBe('hello\n');
    expect(statSync(dest).mode & 0o7777).toBe(0o640);
    expect(statSync(dest).uid).toBe(1); // daemon
    expect((await run({ dest, content: 'hello\n', mode: '0640', owner: 'daemon', group: 'daemon' })).plan.action).toBe(
      'none',
    );

    const checked = await run({ dest, content: 'bye\n', mode: '0640', owner: 'daemon', group: 'daemon' }, true);
    expect(checked.plan.action).toBe('update');
    expect(readFileSync(dest, 'utf8')).toBe('hello\n');

    chmodSync(dest, 0o777);
    const repaired = await run({ dest, content: 'hello\n', mode: '0640', owner: 'daemon', group: 'daemon' });
    expect(repaired.plan.reason).toBe(`mode of ${dest} is 0777, wants 0640`);
    expect(statSync(dest).mode & 0o7777).toBe(0o640);
    expect((await run({ dest, content: 'hello\n', mode: '0640', owner: 'daemon', group: 'daemon' })).plan.action).toBe(
      'none',
    );
  });

  test('src from files/ with a diff, backup keeps the old file, mode and owner survive a content change', async () => {
    mkdirSync(path.join(tmp.dir, 'files'), { recursive: true });
    writeFileSync(path.join(tmp.dir, 'files', 'motd'), 'one\ntwo\n');
    const dest = path.join(tmp.dir, 'motd');
    writeFileSync(dest, 'one\n');
    chmodSync(dest, 0o600);
    const changed = await run({ dest, src: 'motd', backup: true });
    expect(changed.plan.diff).toEqual({ unified: `--- ${dest}\n+++ ${dest}\n@@ -1,1 +1,2 @@\n one\n+two\n` });
    expect(readFileSync(dest, 'utf8')).toBe('one\ntwo\n');
    expect(statSync(dest).mode & 0o7777).toBe(0o600);
    const backups = readdirSync(tmp.dir).filter((f) => /^motd\.\d{4}-\d\d-\d\d@\d\d:\d\d:\d\d~$/.test(f));
    expect(backups).toHaveLength(1);
    expect(readFileSync(path.join(tmp.dir, backups[0]!), 'utf8')).toBe('one\n');
    expect(changed.result?.output).toEqual({ path: dest, backup_file: path.join(tmp.dir, backups[0]!) });
    expect((await run({ dest, src: 'motd', backup: true })).plan.action).toBe('none');
  });

  test('a large binary src streams, and its diff is by hash', async () => {
    const big = Buffer.alloc(300 * 1024, 7);
    big[10] = 0;
    writeFileSync(path.join(tmp.dir, 'files', 'blob'), big);
    const dest = path.join(tmp.dir, 'blob');
    const first = await run({ dest, src: 'blob', mode: '0755' });
    expect(first.plan.diff?.values?.[1]).toEqual({
      key: 'content',
      before: null,
      after: expect.stringMatching(/^sha256:[0-9a-f]{64}$/),
    });
    expect(readFileSync(dest).equals(big)).toBe(true);
    expect((await run({ dest, src: 'blob', mode: '0755' })).plan.action).toBe('none');
    expect(existsSync(dest)).toBe(true);
  });
});
