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

  test('quiet counts the tasks in a row that changed nothing', () => {
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

  describe("a module's shared probe (a loop's items)", () => {
    /** A read of keys through the connection: one command each time, answering key -> 'v:key'. */
    const readKeys = async (keys: string[]) => {
      await conn.exec(`echo ${keys.join(' ')}`);
      return new Map(keys.map((k) => [k, `v:${k}`]));
    };
    const later =
      (...keys: string[]) =>
      async (items: number) =>
        keys.slice(0, items);

    test("a quiet host's read also takes the later items' keys, which then plan without a round trip", async () => {
      reads.quiet = 5;
      expect(await reads.probeShared('undefined', ['a'], later('b', 'c'), readKeys)).toEqual(
        new Map([
          ['a', 'v:a'],
          ['b', 'v:b'],
          ['c', 'v:c'],
        ]),
      );
      expect(await reads.probeShared('undefined', ['c'], later(), readKeys)).toEqual(new Map([['c', 'v:c']]));
      expect(await reads.probeShared('undefined', ['b'], later(), readKeys)).toEqual(new Map([['b', 'v:b']]));
      expect(host.commands).toEqual(['echo a b c']);
    });

    test('it reads as many items ahead as the host has been quiet for, and none after a change', async () => {
      reads.quiet = 1;
      await reads.probeShared('undefined', ['a'], later('b', 'c'), readKeys);
      reads.settled(true);
      await reads.probeShared('undefined', ['c'], later('d'), readKeys);
      expect(host.commands).toEqual(['echo a b', 'echo c']);
    });

    test('anything sent to the host in between, a file probe, another become or a retry reads again', async () => {
      reads.quiet = 5;
      await reads.probeShared('undefined', ['a'], later('b', 'c', 'd', 'e'), readKeys);
      await conn.exec('true');
      await reads.probeShared('undefined', ['b'], later('c', 'd', 'e'), readKeys);
      await reads.probe(conn, 'undefined', [at('a')], nothingAhead);
      await reads.probeShared('undefined', ['c'], later('d', 'e'), readKeys);
      await reads.probeShared('true', ['d'], later(), readKeys);
      reads.drop();
      await reads.probeShared('undefined', ['e'], later(), readKeys);
      expect(host.commands).toEqual([
        'echo a b c d e',
        'true',
        'echo b c d e',
        expect.stringContaining('furrow_type'),
        'echo c d e',
        'echo d',
        'echo e',
      ]);
    });
  });
});
