import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileStat, probeFiles, type FileInfo } from '../../../src/engine/facts/files.js';
import { cannedConnection, localConnection, tempDir } from '../modules/support/hosts.js';

const SHA_HELLO = '5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03'; // "hello\n"

/** Raw probe output -> what it means (pyinfra-style fact cases). */
const parseCases: { name: string; stdout: string | Buffer; expected: FileInfo[] }[] = [
  { name: 'an absent path', stdout: '@ absent\n', expected: [{ type: 'absent' }] },
  {
    name: 'a regular file with its hash',
    stdout: `@ file 644 0 0 6 root root\nsha256 ${SHA_HELLO}\n`,
    expected: [{ type: 'file', mode: 0o644, uid: 0, gid: 0, size: 6, owner: 'root', group: 'root', sha256: SHA_HELLO }],
  },
  {
    name: 'an unreadable file has no hash',
    stdout: '@ file 600 1000 1000 6 alice alice\nsha256 \n',
    expected: [{ type: 'file', mode: 0o600, uid: 1000, gid: 1000, size: 6, owner: 'alice', group: 'alice' }],
  },
  {
    name: 'a link whose target has spaces and a newline',
    stdout: '@ link 777 0 0 8 root root\ntarget 8\n/a b\nc/d\n@ absent\n',
    expected: [
      { type: 'link', mode: 0o777, uid: 0, gid: 0, size: 8, owner: 'root', group: 'root', target: '/a b\nc/d' },
      { type: 'absent' },
    ],
  },
  {
    name: 'a link followed: the target file, and the path it resolves to',
    stdout: `@ file 644 0 0 6 root root\nsha256 ${SHA_HELLO}\nresolved 11\n/run/x.conf\n`,
    expected: [
      {
        type: 'file',
        mode: 0o644,
        uid: 0,
        gid: 0,
        size: 6,
        owner: 'root',
        group: 'root',
        sha256: SHA_HELLO,
        resolved: '/run/x.conf',
      },
    ],
  },
  {
    name: 'a directory with setgid and entries below that differ',
    stdout: '@ directory 2775 0 50 4096 root staff\nrecurse 1\n',
    expected: [
      {
        type: 'directory',
        mode: 0o2775,
        uid: 0,
        gid: 50,
        size: 4096,
        owner: 'root',
        group: 'staff',
        recurseDiffers: true,
      },
    ],
  },
  {
    name: 'content is base64 up to an empty line, so it may hold newlines, "@ " lines and bytes that are not UTF-8',
    stdout:
      `@ file 644 0 0 9 root root\nsha256 ` +
      `${SHA_HELLO}\ncontent\n${Buffer.from('@ absent\n').toString('base64')}\n\n@ other 644 0 0 0 root root\n`,
    expected: [
      {
        type: 'file',
        mode: 0o644,
        uid: 0,
        gid: 0,
        size: 9,
        owner: 'root',
        group: 'root',
        sha256: SHA_HELLO,
        content: Buffer.from('@ absent\n'),
      },
      { type: 'other', mode: 0o644, uid: 0, gid: 0, size: 0, owner: 'root', group: 'root' },
    ],
  },
];

describe('file probe: parse', () => {
  test.each(parseCases)('$name', ({ stdout, expected }) => {
    expect(fileStat.parse(stdout)).toEqual(expected);
  });

  test('binary content comes back byte for byte', () => {
    const bytes = Buffer.from([0, 1, 0xff, 0x0a, 0xfe]);
    const out = `@ file 644 0 0 5 root root\ncontent\n${bytes.toString('base64')}\n\n`;
    expect((fileStat.parse(out)[0] as { content: Buffer }).content.equals(bytes)).toBe(true);
  });

  test.each([
    ['an unknown line', '@ absent\nwhat 1\n', "file probe: unexpected line 'what 1'"],
    ['a detail before any header', 'sha256 abc\n', "file probe: unexpected line 'sha256 abc'"],
    ['a bad header', '@ file x 0 0 0 root root\n', "file probe: unexpected line '@ file x 0 0 0 root root'"],
    ['truncated content', '@ file 644 0 0 9 root root\ncontent\naGVsbG8K\n', 'file probe: truncated output'],
    [
      'content that is not base64',
      '@ file 644 0 0 9 root root\ncontent\n@ absent\n\n',
      "file probe: unexpected line '@ absent' in content",
    ],
  ])('rejects %s', (_name, stdout, message) => {
    expect(() => fileStat.parse(stdout)).toThrow(message);
  });

  test('the default is no files', () => {
    expect(fileStat.default).toEqual([]);
  });
});

describe('file probe: one round trip on a real shell', () => {
  const tmp = tempDir('facts-files');
  const conn = localConnection();
  afterAll(async () => {
    await conn.close();
    tmp.cleanup();
  });

  test('many paths, odd names, links followed or not, in one command', async () => {
    const odd = path.join(tmp.dir, `it's a "file" $(id)`);
    writeFileSync(odd, 'hello\n');
    chmodSync(odd, 0o640);
    symlinkSync(odd, path.join(tmp.dir, 'link'));
    mkdirSync(path.join(tmp.dir, 'dir'));
    chmodSync(path.join(tmp.dir, 'dir'), 0o750);
    const canned = cannedConnection('@ absent\n@ absent\n');
    await probeFiles(canned, [{ path: 'a' }, { path: 'b' }]);
    expect(canned.commands).toHaveLength(1);

    const infos = await probeFiles(conn, [
      { path: odd },
      { path: path.join(tmp.dir, 'link') },
      { path: path.join(tmp.dir, 'link'), follow: true },
      { path: path.join(tmp.dir, 'dir') },
      { path: path.join(tmp.dir, 'missing') },
    ]);
    const uid = process.getuid!();
    const gid = process.getgid!();
    expect(infos[0]).toMatchObject({ type: 'file', mode: 0o640, uid, gid, size: 6, sha256: SHA_HELLO });
    expect(infos[0]).not.toHaveProperty('content');
    expect(infos[1]).toMatchObject({ type: 'link', target: odd });
    expect(infos[2]).toMatchObject({ type: 'file', mode: 0o640, sha256: SHA_HELLO, resolved: odd });
    expect(infos[3]).toMatchObject({ type: 'directory', mode: 0o750 });
    expect(infos[4]).toEqual({ type: 'absent' });
  });

  test('a query asked twice is probed once, and both get its answer', async () => {
    const canned = cannedConnection('@ absent\n');
    expect(await probeFiles(canned, [{ path: '/x' }, { path: '/x' }])).toEqual([
      { type: 'absent' },
      { type: 'absent' },
    ]);
    expect(canned.commands[0]!.match(/furrow_emit/g)).toHaveLength(2); // the function, and one call
  });

  test("content 'if-changed' travels only when the hash differs", async () => {
    const f = path.join(tmp.dir, 'content');
    writeFileSync(f, 'hello\n');
    const [same, differs, always] = await probeFiles(conn, [
      { path: f, content: 'if-changed', wantSha256: SHA_HELLO },
      { path: f, content: 'if-changed', wantSha256: '0'.repeat(64) },
      { path: f, content: 'always' },
    ]);
    expect(same).not.toHaveProperty('content');
    expect((differs as { content: Buffer }).content.toString()).toBe('hello\n');
    expect((always as { content: Buffer }).content.toString()).toBe('hello\n');
    expect(always).toMatchObject({ sha256: SHA_HELLO }); // hashed on the controller from the content it sent
    const [tooBig] = await probeFiles(conn, [{ path: f, content: 'if-changed', wantSha256: '', maxContentBytes: 3 }]);
    expect(tooBig).not.toHaveProperty('content');
  });

  test('recurse reports whether entries below differ (links excepted for mode)', async () => {
    const d = path.join(tmp.dir, 'tree');
    mkdirSync(path.join(d, 'sub'), { recursive: true });
    writeFileSync(path.join(d, 'sub', 'f'), 'x');
    chmodSync(path.join(d, 'sub'), 0o700);
    chmodSync(path.join(d, 'sub', 'f'), 0o700);
    symlinkSync('sub/f', path.join(d, 'l'));
    const [ok, differs] = await probeFiles(conn, [
      { path: d, recurse: { mode: '0700' } },
      { path: d, recurse: { mode: '0755' } },
    ]);
    expect(ok).toMatchObject({ recurseDiffers: false });
    expect(differs).toMatchObject({ recurseDiffers: true });
  });

  // Issue 15 #16: the probe counted the size, then cat sent a file grown meanwhile, and the
  // parser choked on the extra bytes ("file probe: unexpected line ..."). A writer here appends
  // to the file and truncates it, without pause, while the probe reads it again and again with
  // queries after it (a desynchronised block would garble those).
  test('a file another process appends to and truncates meanwhile is read whole, never desynchronised', async () => {
    const busy = path.join(tmp.dir, 'busy.log');
    const stable = path.join(tmp.dir, 'stable');
    writeFileSync(busy, '');
    writeFileSync(stable, 'hello\n');
    const writer = spawn(
      'sh',
      [
        '-c',
        'while :; do : > "$1"; i=0; while [ $i -lt 300 ]; do echo "line $i of the log" >> "$1"; i=$((i+1)); done; done',
        'writer',
        busy,
      ],
      {
        stdio: 'ignore',
      },
    );
    try {
      const sizes = new Set<number>();
      const until = Date.now() + 4000;
      let probes = 0;
      while (Date.now() < until || probes < 20) {
        probes++;
        const [log, other, gone] = await probeFiles(conn, [
          { path: busy, content: 'always' },
          { path: stable, content: 'always' },
          { path: path.join(tmp.dir, 'absent') },
        ]);
        const text = (log as { content: Buffer }).content.toString('utf8');
        // Only the log's own text. A read that meets a truncation goes on at its offset in the new
        // content, so one line may be spliced from two (the file has no snapshot to read); more
        // than one, or anything else, would be the probe's framing leaking in.
        const lines = text.split('\n').filter((l, i, all) => !(i === all.length - 1 && l === ''));
        expect(lines.filter((l) => !/^line \d+ of the log$/.test(l)).length).toBeLessThanOrEqual(1);
        expect(lines.every((l) => /^[a-z0-9 ]*$/.test(l))).toBe(true);
        sizes.add(text.length);
        expect(other).toMatchObject({ type: 'file', sha256: SHA_HELLO, content: Buffer.from('hello\n') });
        expect(gone).toEqual({ type: 'absent' });
      }
      expect(sizes.size).toBeGreaterThan(1); // the file did change under the probe
    } finally {
      writer.kill('SIGKILL');
    }
  }, 20000);

  test('a failing probe names the host and the paths', async () => {
    await expect(probeFiles(cannedConnection('', 1), [{ path: '/x' }])).rejects.toThrow(
      'h1: inspecting /x failed (exit status 1):\n  boom',
    );
  });
});
