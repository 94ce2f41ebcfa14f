import { chmodSync, existsSync, lstatSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  editLines,
  lineEdit,
  lineinfile,
  type LineEditParams,
  type LineinfileParams,
} from '../../../src/modules/lineinfile.js';
import { sha256 } from '../../../src/modules/support/content.js';
import { moduleContext, runModule } from '../../support/modules.js';
import { cannedConnection, localConnection, probeContent, tempDir } from './support/hosts.js';

/** Ansible's lineinfile rules: text before + params -> text after. */
const editCases: { name: string; before: string; params: LineEditParams; after: string }[] = [
  { name: 'appends a missing line', before: 'a\nb\n', params: { line: 'c' }, after: 'a\nb\nc\n' },
  { name: 'appends after a last line without newline', before: 'a', params: { line: 'c' }, after: 'a\nc\n' },
  { name: 'an existing identical line: no change', before: 'a\nc\nb\n', params: { line: 'c' }, after: 'a\nc\nb\n' },
  {
    name: 'regexp replaces the last matching line',
    before: 'x=1\ny\nx=2\n',
    params: { line: 'x=3', regexp: '^x=' },
    after: 'x=1\ny\nx=3\n',
  },
  {
    name: 'firstmatch replaces the first',
    before: 'x=1\ny\nx=2\n',
    params: { line: 'x=3', regexp: '^x=', firstmatch: true },
    after: 'x=3\ny\nx=2\n',
  },
  {
    name: 'regexp matching nothing, identical line present: no change',
    before: 'x = 1\n',
    params: { line: 'x = 1', regexp: '^x=' },
    after: 'x = 1\n',
  },
  { name: 'regexp matching nothing: append', before: 'a\n', params: { line: 'x=1', regexp: '^x=' }, after: 'a\nx=1\n' },
  {
    name: '$ matches before the line ending, as in Python',
    before: 'PermitRootLogin yes\n',
    params: { line: 'PermitRootLogin no', regexp: 'yes$' },
    after: 'PermitRootLogin no\n',
  },
  {
    name: 'insertafter a regex: after its last match',
    before: '[a]\nk=1\n[b]\n',
    params: { line: 'new=1', insertafter: '^\\[a\\]' },
    after: '[a]\nnew=1\nk=1\n[b]\n',
  },
  { name: 'insertbefore a regex', before: 'a\nb\n', params: { line: 'new', insertbefore: '^b' }, after: 'a\nnew\nb\n' },
  {
    name: 'insertbefore BOF',
    before: 'a\n',
    params: { line: '#!/bin/sh', insertbefore: 'BOF' },
    after: '#!/bin/sh\na\n',
  },
  {
    name: 'insertafter a regex that matches nothing: EOF',
    before: 'a\n',
    params: { line: 'new', insertafter: '^zzz' },
    after: 'a\nnew\n',
  },
  {
    name: 'insertafter: the line already right there is not added twice',
    before: 'a\nnew\n',
    params: { line: 'new', regexp: '^nomatch', insertafter: '^a' },
    after: 'a\nnew\n',
  },
  {
    name: 'backrefs expand groups',
    before: 'GRUB="quiet"\n',
    params: { line: 'GRUB="\\1 splash"', regexp: '^GRUB="(.*)"$', backrefs: true },
    after: 'GRUB="quiet splash"\n',
  },
  {
    name: 'backrefs with a named group (Python syntax)',
    before: 'port 22\n',
    params: { line: 'port \\g<n>0', regexp: '^port (?P<n>\\d+)$', backrefs: true },
    after: 'port 220\n',
  },
  {
    name: 'backrefs with no match: nothing added',
    before: 'a\n',
    params: { line: 'x\\1', regexp: '^(y)', backrefs: true },
    after: 'a\n',
  },
  {
    name: 'search_string replaces a literal match',
    before: 'a.b=1\naxb=2\n',
    params: { line: 'a.b=9', search_string: 'a.b=' },
    after: 'a.b=9\naxb=2\n',
  },
  { name: 'an empty file', before: '', params: { line: 'a' }, after: 'a\n' },
  {
    name: 'absent by regexp removes every match',
    before: 'x=1\ny\nx=2\n',
    params: { regexp: '^x=', state: 'absent' },
    after: 'y\n',
  },
  { name: 'absent by line', before: 'a\nb\na\n', params: { line: 'a', state: 'absent' }, after: 'b\n' },
  { name: 'absent, nothing matches: no change', before: 'a\n', params: { line: 'z', state: 'absent' }, after: 'a\n' },
  { name: 'CRLF lines compare without their ending', before: 'a\r\nb\r\n', params: { line: 'b' }, after: 'a\r\nb\n' },
];

describe('lineinfile: editLines', () => {
  test.each(editCases)('$name', ({ before, params, after }) => {
    expect(editLines(before, lineEdit(params))).toBe(after);
  });

  test.each([
    [{ regexp: 'x' }, "lineinfile: 'line' is required with state: present"],
    [{ line: 'a', backrefs: true }, "lineinfile: 'regexp' is required with backrefs"],
    [{ state: 'absent' }, 'lineinfile: state: absent needs one of line, regexp or search_string'],
    [{ line: 'a', insertafter: 'x', insertbefore: 'y' }, 'lineinfile: insertafter and insertbefore exclude each other'],
    [{ line: 'a', regexp: '(' }, 'lineinfile: regexp "(" is not a valid regular expression'],
  ] as [LineinfileParams, string][])('bad params %j', (params, message) => {
    expect(() => lineEdit(params)).toThrow(message);
  });
});

describe('lineinfile: plan from canned probe output', () => {
  const text = 'a=1\n';
  const probe = `@ file 644 0 0 4 root root\nsha256 ${sha256(text)}\n${probeContent(text)}`;

  test('the stat and the content come back in one round trip; an edit gives a unified diff', async () => {
    const conn = cannedConnection(probe);
    const plan = await lineinfile.plan(moduleContext(conn), { path: '/etc/x', regexp: '^a=', line: 'a=2' });
    expect(conn.commands).toHaveLength(1);
    expect(plan).toMatchObject({
      action: 'update',
      reason: `content of /etc/x differs (sha256 ${sha256(text).slice(0, 12)} -> ${sha256('a=2\n').slice(0, 12)})`,
    });
    expect(plan.diff).toEqual({ unified: '--- /etc/x\n+++ /etc/x\n@@ -1,1 +1,1 @@\n-a=1\n+a=2\n' });
  });

  test('the line is there: none', async () => {
    const plan = await lineinfile.plan(moduleContext(cannedConnection(probe)), { dest: '/etc/x', line: 'a=1' });
    expect(plan).toEqual({ action: 'none', reason: '/etc/x is up to date' });
  });

  test('a missing file: an error naming host and fix, unless create', async () => {
    await expect(
      lineinfile.plan(moduleContext(cannedConnection('@ absent\n')), { path: '/etc/x', line: 'a' }),
    ).rejects.toThrow('h1: lineinfile: /etc/x does not exist (give create: true to create it)');
    const plan = await lineinfile.plan(moduleContext(cannedConnection('@ absent\n')), {
      path: '/etc/x',
      line: 'a',
      create: 'yes',
      mode: '0600',
    });
    expect(plan.action).toBe('create');
    expect(plan.diff).toEqual({
      unified: '--- /etc/x\n+++ /etc/x\n@@ -0,0 +1,1 @@\n+a\n',
      values: [
        { key: 'state', before: 'absent', after: 'file' },
        { key: 'mode', before: null, after: '0600' },
      ],
    });
    expect(
      await lineinfile.plan(moduleContext(cannedConnection('@ absent\n')), {
        path: '/etc/x',
        line: 'a',
        state: 'absent',
      }),
    ).toEqual({ action: 'none', reason: '/etc/x does not exist: no line to remove' });
  });
});

describe('lineinfile on a real shell (LocalConnection)', () => {
  const tmp = tempDir('lineinfile');
  const conn = localConnection();
  const run = (params: LineinfileParams, check = false) =>
    runModule(lineinfile, moduleContext(conn, { check }), params);
  afterAll(async () => {
    await conn.close();
    tmp.cleanup();
  });

  test('edit, re-run does nothing, check mode changes nothing, drift is repaired, mode and owner kept', async () => {
    const f = path.join(tmp.dir, 'sshd_config');
    writeFileSync(f, 'Port 22\nPermitRootLogin yes\n');
    chmodSync(f, 0o600);
    const params = { path: f, regexp: '^PermitRootLogin', line: 'PermitRootLogin no' };
    expect((await run(params, true)).plan.action).toBe('update');
    expect(readFileSync(f, 'utf8')).toBe('Port 22\nPermitRootLogin yes\n');
    const first = await run(params);
    expect(first.changed).toBe(true);
    expect(first.plan.diff?.unified).toBe(
      `--- ${f}\n+++ ${f}\n@@ -1,2 +1,2 @@\n Port 22\n-PermitRootLogin yes\n+PermitRootLogin no\n`,
    );
    expect(readFileSync(f, 'utf8')).toBe('Port 22\nPermitRootLogin no\n');
    expect(statSync(f).mode & 0o7777).toBe(0o600);
    expect((await run(params)).plan.action).toBe('none');
    writeFileSync(f, 'Port 22\nPermitRootLogin yes\n');
    expect((await run(params)).changed).toBe(true);
    expect(readFileSync(f, 'utf8')).toBe('Port 22\nPermitRootLogin no\n');
  });

  test('a link is edited through: the file it points to changes, the link stays', async () => {
    const real = path.join(tmp.dir, 'stub-resolv.conf');
    const link = path.join(tmp.dir, 'resolv.conf');
    writeFileSync(real, 'nameserver 127.0.0.53\n');
    symlinkSync(real, link);
    const first = await run({ path: link, line: 'options edns0' });
    expect(first.plan.reason).toBe(
      `content of ${real} differs (sha256 ${sha256('nameserver 127.0.0.53\n').slice(0, 12)} -> ` +
        `${sha256('nameserver 127.0.0.53\noptions edns0\n').slice(0, 12)})`,
    );
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(readFileSync(real, 'utf8')).toBe('nameserver 127.0.0.53\noptions edns0\n');
    expect((await run({ path: link, line: 'options edns0' })).plan.action).toBe('none');
  });

  test('create makes the file with its mode', async () => {
    const f = path.join(tmp.dir, 'new.conf');
    expect((await run({ path: f, line: 'a', create: true, mode: '0640' }, true)).plan.action).toBe('create');
    expect(existsSync(f)).toBe(false);
    await run({ path: f, line: 'a', create: true, mode: '0640' });
    expect(readFileSync(f, 'utf8')).toBe('a\n');
    expect(statSync(f).mode & 0o7777).toBe(0o640);
    expect((await run({ path: f, line: 'a', create: true, mode: '0640' })).plan.action).toBe('none');
  });
});
