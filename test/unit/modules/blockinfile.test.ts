import { readFileSync, statSync, writeFileSync, chmodSync } from 'node:fs';
import path from 'node:path';
import {
  blockEdit,
  blockinfile,
  editBlock,
  type BlockEditParams,
  type BlockinfileParams,
} from '../../../src/modules/blockinfile.js';
import { sha256 } from '../../../src/modules/support/content.js';
import { moduleContext, runModule } from '../../support/modules.js';
import { cannedConnection, localConnection, probeContent, tempDir } from './support/hosts.js';

const B = '# BEGIN FURROW MANAGED BLOCK\n';
const E = '# END FURROW MANAGED BLOCK\n';

/** Ansible's blockinfile rules: text before + params -> text after. */
const editCases: { name: string; before: string; params: BlockEditParams; after: string }[] = [
  { name: 'appends a new block at EOF', before: 'a\n', params: { block: 'x\ny' }, after: `a\n${B}x\ny\n${E}` },
  { name: 'a last line without newline gets one first', before: 'a', params: { block: 'x' }, after: `a\n${B}x\n${E}` },
  { name: 'an empty file', before: '', params: { block: 'x\n' }, after: `${B}x\n${E}` },
  {
    name: 'replaces the block between the markers, in place',
    before: `a\n${B}old\n${E}z\n`,
    params: { block: 'new1\nnew2\n' },
    after: `a\n${B}new1\nnew2\n${E}z\n`,
  },
  { name: 'the same block: no change', before: `a\n${B}x\n${E}`, params: { block: 'x' }, after: `a\n${B}x\n${E}` },
  {
    name: 'state absent removes the block and its markers',
    before: `a\n${B}x\n${E}z\n`,
    params: { block: 'x', state: 'absent' },
    after: 'a\nz\n',
  },
  { name: 'an empty block removes it too', before: `a\n${B}x\n${E}`, params: { block: '' }, after: 'a\n' },
  { name: 'absent with no block: no change', before: 'a\n', params: { state: 'absent' }, after: 'a\n' },
  { name: 'insertbefore BOF', before: 'a\n', params: { block: 'x', insertbefore: 'BOF' }, after: `${B}x\n${E}a\n` },
  {
    name: 'insertafter a regex: after its last match',
    before: '[a]\n[b]\nk\n',
    params: { block: 'x', insertafter: '^\\[' },
    after: `[a]\n[b]\n${B}x\n${E}k\n`,
  },
  {
    name: 'insertbefore a regex',
    before: 'a\nb\n',
    params: { block: 'x', insertbefore: '^b$' },
    after: `a\n${B}x\n${E}b\n`,
  },
  {
    name: 'insert anchors are ignored when the block exists',
    before: `${B}x\n${E}a\n`,
    params: { block: 'y', insertafter: '^a' },
    after: `${B}y\n${E}a\n`,
  },
  {
    name: 'own marker with marker_begin / marker_end',
    before: 'a\n',
    params: { block: 'x', marker: '<!-- {mark} -->', marker_begin: 'start', marker_end: 'stop' },
    after: 'a\n<!-- start -->\nx\n<!-- stop -->\n',
  },
];

describe('blockinfile: editBlock', () => {
  test.each(editCases)('$name', ({ before, params, after }) => {
    expect(editBlock(before, blockEdit(params))).toBe(after);
  });

  test('insertafter and insertbefore exclude each other', () => {
    expect(() => blockEdit({ block: 'x', insertafter: 'a', insertbefore: 'b' })).toThrow(
      'blockinfile: insertafter and insertbefore exclude each other',
    );
  });
});

describe('blockinfile: plan from canned probe output', () => {
  test('one round trip; a new block is a unified diff', async () => {
    const text = 'a\n';
    const conn = cannedConnection(`@ file 644 0 0 2 root root\nsha256 ${sha256(text)}\n${probeContent(text)}`);
    const plan = await blockinfile.plan(moduleContext(conn), { path: '/etc/hosts', block: '10.0.0.1 h1' });
    expect(conn.commands).toHaveLength(1);
    expect(plan.action).toBe('update');
    expect(plan.diff).toEqual({
      unified: `--- /etc/hosts\n+++ /etc/hosts\n@@ -1,1 +1,4 @@\n a\n+${B}+10.0.0.1 h1\n+${E}`,
    });
  });

  test('a missing file fails unless create; absent on a missing file is fine', async () => {
    await expect(
      blockinfile.plan(moduleContext(cannedConnection('@ absent\n')), { path: '/x', block: 'a' }),
    ).rejects.toThrow('h1: blockinfile: /x does not exist (give create: true to create it)');
    expect(
      (await blockinfile.plan(moduleContext(cannedConnection('@ absent\n')), { path: '/x', block: 'a', create: true }))
        .action,
    ).toBe('create');
    expect(
      await blockinfile.plan(moduleContext(cannedConnection('@ absent\n')), { path: '/x', state: 'absent' }),
    ).toEqual({
      action: 'none',
      reason: '/x does not exist: no block to remove',
    });
  });
});

describe('blockinfile on a real shell (LocalConnection)', () => {
  const tmp = tempDir('blockinfile');
  const conn = localConnection();
  const run = (params: BlockinfileParams, check = false) =>
    runModule(blockinfile, moduleContext(conn, { check }), params);
  afterAll(async () => {
    await conn.close();
    tmp.cleanup();
  });

  test(
    'insert, re-run does nothing, check mode changes nothing, an edited block is ' + 'repaired, then removed',
    async () => {
      const f = path.join(tmp.dir, 'hosts');
      writeFileSync(f, '127.0.0.1 localhost\n');
      chmodSync(f, 0o604);
      const params = { path: f, block: '10.0.0.1 h1\n10.0.0.2 h2\n' };
      expect((await run(params, true)).plan.action).toBe('update');
      expect(readFileSync(f, 'utf8')).toBe('127.0.0.1 localhost\n');
      expect((await run(params)).changed).toBe(true);
      expect(readFileSync(f, 'utf8')).toBe(`127.0.0.1 localhost\n${B}10.0.0.1 h1\n10.0.0.2 h2\n${E}`);
      expect(statSync(f).mode & 0o7777).toBe(0o604);
      expect((await run(params)).plan.action).toBe('none');
      writeFileSync(f, `127.0.0.1 localhost\n${B}10.0.0.9 evil\n${E}`);
      const repaired = await run(params);
      expect(repaired.plan.diff?.unified).toBe(
        `--- ${f}\n+++ ${f}\n@@ -1,4 +1,5 @@\n ` +
          `127.0.0.1 localhost\n ${B}-10.0.0.9 evil\n+10.0.0.1 h1\n+10.0.0.2 h2\n ${E}`,
      );
      expect(readFileSync(f, 'utf8')).toBe(`127.0.0.1 localhost\n${B}10.0.0.1 h1\n10.0.0.2 h2\n${E}`);
      expect((await run({ path: f, state: 'absent' })).changed).toBe(true);
      expect(readFileSync(f, 'utf8')).toBe('127.0.0.1 localhost\n');
      expect((await run({ path: f, state: 'absent' })).plan.action).toBe('none');
    },
  );
});
