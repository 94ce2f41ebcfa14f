import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Connection, ExecOptions } from '../../../src/engine/connections/types.js';
import type { FileQuery } from '../../../src/engine/facts/files.js';
import { HostReads } from '../../../src/engine/run/read-ahead.js';
import { localConnection, tempDir } from '../modules/support/hosts.js';

/** The controller as a host, counting the commands that reach it; `arrived` sees each as it comes. */
function countingHost(): { conn: Connection; commands: string[]; arrived: (command: string) => void } {
  const local = localConnection();
  const host = {
    commands: [] as string[],
    arrived: (_command: string): void => undefined,
    conn: {
      spec: local.spec,
      open: () => local.open(),
      close: () => local.close(),
      exec: (command: string, opts?: ExecOptions) => {
        host.commands.push(command);
        host.arrived(command);
        return local.exec(command, opts);
      },
      put: (dest, source, opts) => local.put(dest, source, opts),
      get: (src, localPath, opts) => local.get(src, localPath, opts),
    } as Connection,
  };
  return host;
}

/** An `ahead` that answers these queries and remembers how many tasks it was asked for. */
function aheadOf(...queries: FileQuery[]): ((tasks: number) => Promise<FileQuery[]>) & { asked: number[] } {
  const asked: number[] = [];
  const ask = async (tasks: number) => {
    asked.push(tasks);
    return queries;
  };
  return Object.assign(ask, { asked });
}

describe('read-ahead of file probes', () => {
  const tmp = tempDir('read-ahead');
  const at = (name: string): FileQuery => ({ path: path.join(tmp.dir, name) });
  const nothingAhead = async (): Promise<FileQuery[]> => [];
  let host: ReturnType<typeof countingHost>;
  let reads: HostReads;
  let conn: Connection;
  let clock: number;

  beforeEach(() => {
    host = countingHost();
    clock = 1_000_000;
    reads = new HostReads(() => clock);
    conn = reads.track(host.conn);
  });
  afterAll(() => tmp.cleanup());

  test("a quiet host's probe also reads what its next tasks will ask, which then costs no round trip", async () => {
    writeFileSync(path.join(tmp.dir, 'b'), 'b\n');
    reads.quiet = 3;
    const ahead = aheadOf(at('b'), at('c'));
    expect(await reads.probe(conn, 'undefined', [at('a')], ahead)).toEqual([{ type: 'absent' }]);
    expect(ahead.asked).toEqual([3]);
    expect(await reads.probe(conn, 'undefined', [at('b')], nothingAhead)).toEqual([
      expect.objectContaining({ type: 'file', size: 2 }),
    ]);
    expect(await reads.probe(conn, 'undefined', [at('c'), at('a')], nothingAhead)).toEqual([
      { type: 'absent' },
      { type: 'absent' },
    ]);
    expect(host.commands).toHaveLength(1);
  });

  test('a host whose last task changed it reads only what is asked', async () => {
    reads.settled(true);
    const ahead = aheadOf(at('b'));
    await reads.probe(conn, 'undefined', [at('a')], ahead);
    expect(ahead.asked).toEqual([]);
    await reads.probe(conn, 'undefined', [at('a')], nothingAhead);
    expect(host.commands).toHaveLength(2);
  });

  test('quiet counts the tasks in a row that applied nothing', () => {
    reads.settled(false);
    reads.settled(false);
    expect(reads.quiet).toBe(2);
    reads.settled(true);
    expect(reads.quiet).toBe(0);
  });

  test('anything else sent to the host drops what was read ahead: the next probe sees the change', async () => {
    reads.quiet = 1;
    await reads.probe(conn, 'undefined', [at('a')], async () => [at('d')]);
    await conn.exec(`touch ${path.join(tmp.dir, 'd')}`);
    expect(await reads.probe(conn, 'undefined', [at('d')], nothingAhead)).toEqual([
      expect.objectContaining({ type: 'file' }),
    ]);
    expect(host.commands).toHaveLength(3);
  });

  test(
    'a command that reaches the host while the read-ahead probe runs keeps its answers ' + 'from being used',
    async () => {
      reads.quiet = 1;
      let other: Promise<unknown> | undefined;
      host.arrived = (command) => {
        if (command !== 'true') other ??= conn.exec('true');
      };
      await reads.probe(conn, 'undefined', [at('a')], async () => [at('e')]);
      await other;
      host.arrived = () => undefined;
      await reads.probe(conn, 'undefined', [at('e')], nothingAhead);
      expect(host.commands).toEqual([
        expect.stringContaining('furrow_type'),
        'true',
        expect.stringContaining('furrow_type'),
      ]);
    },
  );

  test('a probe with another become, a retry, or one after two seconds reads the host again', async () => {
    reads.quiet = 1;
    await reads.probe(conn, 'undefined', [at('a')], async () => [at('f'), at('g'), at('h')]);
    await reads.probe(conn, 'true', [at('f')], nothingAhead);
    expect(host.commands).toHaveLength(2);

    await reads.probe(conn, 'undefined', [at('a')], async () => [at('g')]);
    reads.drop();
    await reads.probe(conn, 'undefined', [at('g')], nothingAhead);
    expect(host.commands).toHaveLength(4);

    await reads.probe(conn, 'undefined', [at('a')], async () => [at('h')]);
    clock += 2500;
    await reads.probe(conn, 'undefined', [at('h')], nothingAhead);
    expect(host.commands).toHaveLength(6);
  });
});
