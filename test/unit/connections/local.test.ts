import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { LocalConnection } from '../../../src/engine/connections/local.js';
import { connectionSpecFromVars } from '../../../src/engine/connections/spec.js';
import { TransferError } from '../../../src/engine/connections/transfer.js';

let dir: string;
let conn: LocalConnection;

beforeAll(async () => {
  conn = new LocalConnection(
    connectionSpecFromVars(
      'localhost',
      {},
      { knownHostsFile: '/nonexistent/kh', strictHostKeys: false, sshConfigFile: false },
    ),
  );
  await conn.open();
});
afterAll(() => conn.close());
beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'furrow-local-'))));
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const leftovers = (): string[] => readdirSync(dir).filter((f) => f.includes('.furrow.'));

describe('LocalConnection.exec', () => {
  it('runs sh -c and returns code, stdout and stderr as Buffers', async () => {
    const r = await conn.exec(`echo out; echo err >&2; exit 4`);
    expect(r).toEqual({ code: 4, stdout: Buffer.from('out\n'), stderr: Buffer.from('err\n'), timedOut: false });
  });

  it('runs as the controller user', async () => {
    expect((await conn.exec('id -un')).stdout.toString().trim()).toBe(userInfo().username);
  });

  it('feeds stdin from a string, a Buffer or a stream', async () => {
    expect((await conn.exec('cat', { stdin: 'text' })).stdout.toString()).toBe('text');
    expect((await conn.exec('wc -c', { stdin: Buffer.alloc(3_000_000) })).stdout.toString().trim()).toBe('3000000');
    expect((await conn.exec('cat', { stdin: Readable.from(['a', 'b']) })).stdout.toString()).toBe('ab');
  });

  it('collects a 50 MB stdout whole', async () => {
    const r = await conn.exec('head -c 50000000 /dev/zero | tr "\\0" x');
    expect(r.stdout.length).toBe(50_000_000);
    expect(r.stdout.subarray(-1).toString()).toBe('x');
  });

  it('kills the command and everything it started on timeout', async () => {
    const marker = join(dir, 'survivor');
    const started = Date.now();
    const r = await conn.exec(`(sleep 2; touch ${marker}) & echo started; sleep 30`, { timeoutMs: 300 });
    expect(Date.now() - started).toBeLessThan(2000);
    expect(r).toMatchObject({ code: null, signal: 'SIGKILL', timedOut: true });
    expect(r.stdout.toString()).toBe('started\n');
    await new Promise((res) => setTimeout(res, 2500));
    expect(() => statSync(marker)).toThrow();
  });

  it('runs many commands at once', async () => {
    const results = await Promise.all(Array.from({ length: 40 }, (_, i) => conn.exec(`echo ${i}`)));
    expect(results.map((r) => Number(r.stdout.toString()))).toEqual(Array.from({ length: 40 }, (_, i) => i));
  });
});

describe('LocalConnection.put', () => {
  it('writes content atomically with the mode and owner asked for', async () => {
    const dest = join(dir, 'conf');
    await conn.put(
      dest,
      { content: 'a=1\n' },
      { mode: '0640', owner: userInfo().username, group: String(userInfo().gid) },
    );
    expect(readFileSync(dest, 'utf8')).toBe('a=1\n');
    expect(statSync(dest).mode & 0o7777).toBe(0o640);
    await conn.put(dest, { content: Buffer.from('b=2\n') }, { mode: 0o600 });
    expect(readFileSync(dest, 'utf8')).toBe('b=2\n');
    expect(statSync(dest).mode & 0o7777).toBe(0o600);
    expect(leftovers()).toEqual([]);
  });

  it(
    'content always goes on standard input, never in the command; it lands byte for byte ' + 'with the exact mode',
    async () => {
      class Recording extends LocalConnection {
        readonly streamed: boolean[] = [];
        override exec(command: string, opts: Parameters<LocalConnection['exec']>[1] = {}) {
          this.streamed.push(opts.stdin !== undefined && !command.includes('line 2') && !command.includes('mark'));
          return super.exec(command, opts);
        }
      }
      const rec = new Recording(conn.spec);
      const cases: Array<[string, string | Buffer, string | number, number, boolean]> = [
        ['quotes', `it's "x" \\n %s $(id) \`id\`\n\tline 2\nno newline at the end`, '0640', 0o640, false],
        ['bom', '\ufeffwith a byte order mark\n', '0600', 0o600, false],
        ['exec', '#!/bin/sh\necho hi\n', '0755', 0o755, false],
        ['symbolic', 'a\n', 'u=rw,go=r', 0o644, false],
        ['read-only', 'r\n', 0o444, 0o444, false],
        ['nul', Buffer.from([0x61, 0, 0x62]), '0644', 0o644, true],
        ['latin1', Buffer.from([0x63, 0xe9, 0x0a]), '0644', 0o644, true],
        ['large', 'y'.repeat(20_000), '0644', 0o644, true],
      ];
      for (const [name, content, mode, bits] of cases) {
        const dest = join(dir, name);
        await rec.put(dest, { content }, { mode });
        expect([
          name,
          readFileSync(dest).equals(Buffer.isBuffer(content) ? content : Buffer.from(content, 'utf8')),
          statSync(dest).mode & 0o7777,
        ]).toEqual([name, true, bits]);
      }
      expect(rec.streamed).toEqual(cases.map(() => true));
      expect(leftovers()).toEqual([]);
    },
  );

  it('defaults to 0644 and handles names that need quoting', async () => {
    const dest = join(dir, `it's a "file" $(x)`);
    await conn.put(dest, { content: 'x' });
    expect(readFileSync(dest, 'utf8')).toBe('x');
    expect(statSync(dest).mode & 0o777).toBe(0o644);
  });

  it('streams a 20 MB local file', async () => {
    const src = join(dir, 'big.src');
    writeFileSync(src, Buffer.alloc(20_000_000, 7));
    await conn.put(join(dir, 'big'), { path: src });
    expect(statSync(join(dir, 'big')).size).toBe(20_000_000);
  });

  it('puts a stream of unknown length, or of a declared one', async () => {
    await conn.put(join(dir, 's1'), { stream: Readable.from([Buffer.from('ab'), Buffer.from('cd')]) });
    expect(readFileSync(join(dir, 's1'), 'utf8')).toBe('abcd');
    await conn.put(join(dir, 's2'), { stream: Readable.from([Buffer.from('xyz')]), size: 3 });
    expect(readFileSync(join(dir, 's2'), 'utf8')).toBe('xyz');
    expect(leftovers()).toEqual([]);
  });

  it('never installs a truncated file and leaves no temp file', async () => {
    const dest = join(dir, 'short');
    writeFileSync(dest, 'old');
    const put = conn.put(dest, { stream: Readable.from([Buffer.from('abc')]), size: 10 });
    await expect(put).rejects.toThrow(TransferError);
    await expect(put).rejects.toThrow(/received 3 of 10 bytes/);
    expect(readFileSync(dest, 'utf8')).toBe('old');
    expect(leftovers()).toEqual([]);
  });

  it('aborts when the source stream fails midway: old file kept, no temp file', async () => {
    const dest = join(dir, 'broken');
    writeFileSync(dest, 'old');
    const source = new Readable({ read() {} });
    source.push(Buffer.alloc(1000));
    setTimeout(() => source.destroy(new Error('source broke')), 100);
    await expect(conn.put(dest, { stream: source })).rejects.toThrow('source broke');
    expect(readFileSync(dest, 'utf8')).toBe('old');
    expect(leftovers()).toEqual([]);
  });

  it('fails naming host and path when the folder is missing or dest is a directory', async () => {
    await expect(conn.put(join(dir, 'no', 'such', 'file'), { content: 'x' })).rejects.toThrow(
      /^localhost: put .*no\/such\/file failed \(exit status 1\)/,
    );
    mkdirSync(join(dir, 'adir'));
    await expect(conn.put(join(dir, 'adir'), { content: 'x' })).rejects.toThrow(/is a directory/);
    expect(leftovers()).toEqual([]);
  });

  it('reports a missing local source file before touching the host', async () => {
    await expect(conn.put(join(dir, 'x'), { path: join(dir, 'missing') })).rejects.toThrow(/ENOENT/);
  });
});

describe('LocalConnection.get', () => {
  it('copies a file through a temp file into place, creating the folder', async () => {
    writeFileSync(join(dir, 'remote'), Buffer.alloc(5_000_000, 1));
    const local = join(dir, 'fetched', 'copy');
    await conn.get(join(dir, 'remote'), local);
    expect(statSync(local).size).toBe(5_000_000);
    expect(readdirSync(join(dir, 'fetched'))).toEqual(['copy']);
  });

  it('fails naming host and path, leaving nothing behind', async () => {
    await expect(conn.get(join(dir, 'absent'), join(dir, 'out'))).rejects.toThrow(/^localhost: get .*absent failed/);
    expect(readdirSync(dir)).toEqual([]);
  });
});
