import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fetch, fetchPath, type FetchParams } from '../../../src/modules/fetch.js';
import { sha256 } from '../../../src/modules/support/content.js';
import { moduleContext, runModule } from '../../support/modules.js';
import { cannedConnection, localConnection, tempDir } from './support/hosts.js';

describe('fetch: where files land', () => {
  test.each([
    ['h1', '/etc/hosts', '/backup', false, '/backup/h1/etc/hosts'],
    ['h1', '/etc/hosts', '/backup/', true, '/backup/hosts'],
    ['h1', '/etc/hosts', '/backup/h1-hosts', true, '/backup/h1-hosts'],
  ])('%s:%s dest=%s flat=%s -> %s', (host, src, dest, flat, expected) => {
    expect(fetchPath(host, src, dest, flat)).toBe(expected);
  });
});

describe('fetch: plan from canned probe output', () => {
  const tmp = tempDir('fetch-plan');
  afterAll(() => tmp.cleanup());

  test('the local hash goes to the host: equal means none, and nothing travels', async () => {
    const local = path.join(tmp.dir, 'copy');
    writeFileSync(local, 'same\n');
    const canned = cannedConnection(`@ file 644 0 0 5 root root\nsha256 ${sha256('same\n')}\n`);
    const plan = await fetch.plan(moduleContext(canned), { src: '/etc/x', dest: local, flat: true });
    expect(plan).toEqual({ action: 'none', reason: `${local} matches /etc/x` });
    expect(canned.commands).toHaveLength(1);
    expect(canned.commands[0]).toContain(`'${sha256('same\n')}'`);
  });

  test.each([
    [{ src: '/etc/x', dest: '/tmp/d' }, '@ absent\n', 'h1: fetch: /etc/x does not exist on the host'],
    [
      { src: '/etc', dest: '/tmp/d' },
      '@ directory 755 0 0 0 root root\n',
      'h1: fetch: /etc is a directory, not a file',
    ],
    [
      { src: '/etc/shadow', dest: '/tmp/d' },
      '@ file 640 0 42 9 root shadow\nsha256 \n',
      'h1: fetch: /etc/shadow could not be read',
    ],
  ] as [FetchParams, string, string][])('%j fails clearly', async (params, probe, message) => {
    await expect(fetch.plan(moduleContext(cannedConnection(probe)), params)).rejects.toThrow(message);
  });

  test('fail_on_missing: false makes a missing src a no-op', async () => {
    expect(
      await fetch.plan(moduleContext(cannedConnection('@ absent\n')), {
        src: '/x',
        dest: '/tmp/d',
        fail_on_missing: false,
      }),
    ).toEqual({
      action: 'none',
      reason: '/x does not exist on the host (fail_on_missing: false)',
    });
  });
});

describe('fetch on a real shell (LocalConnection)', () => {
  const tmp = tempDir('fetch');
  const conn = localConnection();
  const run = (params: FetchParams, check = false) => runModule(fetch, moduleContext(conn, { check }), params);
  afterAll(async () => {
    await conn.close();
    tmp.cleanup();
  });

  test(
    'first run fetches to dest/<host>/<src>, re-run does nothing, check mode fetches nothing, a ' + 'change is a diff',
    async () => {
      const src = path.join(tmp.dir, 'remote.conf');
      writeFileSync(src, 'a\n');
      const dest = path.join(tmp.dir, 'fetched');
      const local = path.join(dest, 'localhost', src);
      expect((await run({ src, dest }, true)).plan.action).toBe('create');
      expect(existsSync(local)).toBe(false);
      const first = await run({ src, dest });
      expect(first.result?.output).toEqual({ dest: local, checksum: sha256('a\n') });
      expect(readFileSync(local, 'utf8')).toBe('a\n');
      expect((await run({ src, dest })).plan.action).toBe('none');
      writeFileSync(src, 'a\nb\n');
      const changed = await run({ src, dest });
      expect(changed.plan.diff).toEqual({ unified: `--- ${local}\n+++ ${local}\n@@ -1,1 +1,2 @@\n a\n+b\n` });
      expect(readFileSync(local, 'utf8')).toBe('a\nb\n');
    },
  );
});
