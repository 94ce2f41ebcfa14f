import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readlinkSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { file, type FileParams } from '../../../src/modules/file.js';
import type { Plan } from '../../../src/engine/module.js';
import { moduleContext, runModule } from '../../support/modules.js';
import { cannedConnection, localConnection, tempDir } from './support/hosts.js';

const ABSENT = '@ absent\n';
const DIR_755 = '@ directory 755 0 0 4096 root root\n';
const FILE_644 = `@ file 644 0 0 1 root root\nsha256 ${'b'.repeat(64)}\n`;
const LINK = (target: string) =>
  `@ link 777 0 0 ${target.length} root root\ntarget ${Buffer.byteLength(target)}\n${target}\n`;

interface Case {
  name: string;
  params: FileParams;
  /** Probe output: the path itself, the path through links (and the link src, for links). */
  probe: string;
  expected: Partial<Plan>;
}

const cases: Case[] = [
  {
    name: 'directory: absent -> mkdir -p -m, owner in the same command',
    params: { path: '/opt/x', state: 'directory', mode: '0750', owner: 'daemon' },
    probe: ABSENT + ABSENT,
    expected: {
      action: 'create',
      reason: '/opt/x does not exist',
      diff: {
        values: [
          { key: 'state', before: 'absent', after: 'directory' },
          { key: 'mode', before: null, after: '0750' },
          { key: 'owner', before: null, after: 'daemon' },
        ],
      },
      data: { command: "mkdir -p -m '0750' -- '/opt/x' && chown 'daemon' -- '/opt/x'" },
    },
  },
  {
    name: 'directory: as wanted',
    params: { path: '/opt/x', state: 'directory', mode: 755, group: 'root' },
    probe: DIR_755 + DIR_755,
    expected: { action: 'none', reason: '/opt/x is a directory as wanted' },
  },
  {
    name: 'directory: other mode (symbolic) and group',
    params: { path: '/opt/x', state: 'directory', mode: 'g+w,o-rx', group: 'staff' },
    probe: DIR_755 + DIR_755,
    expected: {
      action: 'update',
      reason: 'mode of /opt/x is 0755, wants 0770; group of /opt/x is root, wants staff',
      data: { command: "chmod '0770' -- '/opt/x' && chgrp 'staff' -- '/opt/x'" },
    },
  },
  {
    name: 'directory with recurse: entries below differ',
    params: { path: '/opt/x', recurse: true, owner: 'root' },
    probe: `${DIR_755 + DIR_755}recurse 1\n`,
    expected: {
      action: 'update',
      reason: 'entries below /opt/x differ in mode, owner or group',
      data: { command: "chown -R 'root' -- '/opt/x'" },
    },
  },
  {
    name: 'absent: a directory is removed',
    params: { path: '/opt/x', state: 'absent' },
    probe: DIR_755 + DIR_755,
    expected: {
      action: 'delete',
      reason: '/opt/x exists (directory)',
      diff: { values: [{ key: 'state', before: 'directory', after: 'absent' }] },
      data: { command: "rm -rf -- '/opt/x'" },
    },
  },
  {
    name: 'absent: already',
    params: { path: '/opt/x', state: 'absent' },
    probe: ABSENT + ABSENT,
    expected: { action: 'none', reason: '/opt/x is absent' },
  },
  {
    name: 'touch: a missing file is created',
    params: { path: '/x', state: 'touch', mode: 'u=rw,go=' },
    probe: ABSENT + ABSENT,
    expected: { action: 'create', data: { command: "touch -- '/x' && chmod '0600' -- '/x'" } },
  },
  {
    name: 'touch: an existing file keeps its times (re-runs change nothing)',
    params: { path: '/x', state: 'touch' },
    probe: FILE_644 + FILE_644,
    expected: { action: 'none', reason: '/x is a file as wanted' },
  },
  {
    name: 'file (through a link): attributes of the target',
    params: { path: '/x', mode: '0600' },
    probe: LINK('/y') + FILE_644,
    expected: { action: 'update', reason: 'mode of /x is 0644, wants 0600', data: { command: "chmod '0600' -- '/x'" } },
  },
  {
    name: 'link: already pointing at src',
    params: { path: '/l', state: 'link', src: '/t' },
    probe: LINK('/t') + FILE_644 + FILE_644,
    expected: { action: 'none', reason: '/l links to /t' },
  },
  {
    name: 'link: created beside and renamed over, so the path is never missing',
    params: { path: '/l', src: '/t', owner: 'daemon' },
    probe: ABSENT + ABSENT + FILE_644,
    expected: {
      action: 'create',
      reason: '/l does not exist',
      diff: { values: [{ key: 'state', before: 'absent', after: 'link to /t' }] },
    },
  },
  {
    name: 'link: another target is replaced',
    params: { path: '/l', state: 'link', src: '/t' },
    probe: LINK('/old') + ABSENT + FILE_644,
    expected: {
      action: 'replace',
      reason: '/l is link to /old',
      diff: { values: [{ key: 'state', before: 'link to /old', after: 'link to /t' }] },
    },
  },
];

describe('file: plan from canned probe output', () => {
  test.each(cases)('$name', async ({ params, probe, expected }) => {
    const conn = cannedConnection(probe);
    const plan = await file.plan(moduleContext(conn), params);
    expect(plan).toMatchObject(expected);
    expect(conn.commands).toHaveLength(1);
  });

  test('the link command: ln -s to a temp name, mv -T over, chown -h', async () => {
    const plan = await file.plan(moduleContext(cannedConnection(ABSENT + ABSENT + FILE_644)), {
      path: '/d/l',
      src: '/t',
      owner: 'daemon',
    });
    const tmp = plan.data!.command.match(/'\/d\/\.l\.furrow\.[0-9a-f]{12}'/)?.[0];
    expect(plan.data?.command).toBe(
      `ln -s -- '/t' ${tmp} && { mv -f -T -- ${tmp} '/d/l' || { rm -f -- ${tmp}; exit 1; }; } && ` +
        "chown -h 'daemon' -- '/d/l'",
    );
  });

  test.each([
    [
      { path: '/x', state: 'file' },
      ABSENT + ABSENT,
      'h1: file: /x is absent, cannot continue (state: touch creates a file)',
    ],
    [{ path: '/x', state: 'directory' }, FILE_644 + FILE_644, 'h1: file: /x exists and is a file, not a directory'],
    [
      { path: '/x', state: 'link', src: '/t' },
      FILE_644 + FILE_644 + FILE_644,
      'h1: file: /x is a file: refusing to replace it with a link (give force: true)',
    ],
    [
      { path: '/x', state: 'link', src: '/t' },
      ABSENT + ABSENT + ABSENT,
      'h1: file: src /t does not exist (give force: true to link to it anyway)',
    ],
    [{ path: '/x', state: 'link' }, ABSENT + ABSENT, 'h1: file: state: link needs src (what /x should point to)'],
  ] as [FileParams, string, string][])('%j fails clearly', async (params, probe, message) => {
    await expect(file.plan(moduleContext(cannedConnection(probe)), params)).rejects.toThrow(message);
  });

  test.each([
    [{ path: '/x', recurse: true, mode: 'u+x' }, "file: recurse needs an octal mode, not 'u+x'"],
    [{ path: '/x', recurse: true, state: 'file' }, 'file: recurse works only with state: directory'],
    [{ path: '/x', src: '/y', state: 'file' }, 'file: src is only for state: link'],
  ] as [FileParams, string][])('bad params %j', async (params, message) => {
    await expect(file.plan(moduleContext(cannedConnection(ABSENT + ABSENT)), params)).rejects.toThrow(message);
  });
});

describe('file on a real shell (LocalConnection)', () => {
  const tmp = tempDir('file');
  const conn = localConnection();
  const run = (params: FileParams, check = false) => runModule(file, moduleContext(conn, { check }), params);
  afterAll(async () => {
    await conn.close();
    tmp.cleanup();
  });

  test('directory: create, re-run, check mode, drift repaired', async () => {
    const d = path.join(tmp.dir, 'a', 'b');
    const params: FileParams = { path: d, state: 'directory', mode: '0750', owner: 'daemon', group: 'daemon' };
    expect((await run(params, true)).plan.action).toBe('create');
    expect(existsSync(d)).toBe(false);
    expect((await run(params)).changed).toBe(true);
    expect(statSync(d).mode & 0o7777).toBe(0o750);
    expect(statSync(d).uid).toBe(1);
    expect(statSync(d).gid).toBe(1);
    expect((await run(params)).plan.action).toBe('none');
    chmodSync(d, 0o700);
    expect((await run(params)).plan.diff).toEqual({ values: [{ key: 'mode', before: '0700', after: '0750' }] });
    expect(statSync(d).mode & 0o7777).toBe(0o750);
  });

  test('recurse sets owner and mode below, then is idempotent', async () => {
    const d = path.join(tmp.dir, 'tree');
    mkdirSync(path.join(d, 'sub'), { recursive: true });
    writeFileSync(path.join(d, 'sub', 'f'), 'x');
    symlinkSync('sub/f', path.join(d, 'link'));
    const params: FileParams = { path: d, state: 'directory', recurse: true, mode: '0750', owner: 'daemon' };
    expect((await run(params)).changed).toBe(true);
    expect(statSync(path.join(d, 'sub', 'f')).mode & 0o7777).toBe(0o750);
    expect(statSync(path.join(d, 'sub', 'f')).uid).toBe(1);
    expect(lstatSync(path.join(d, 'link')).uid).toBe(1);
    expect((await run(params)).plan.action).toBe('none');
  });

  test('link, touch and absent', async () => {
    const target = path.join(tmp.dir, 'target');
    writeFileSync(target, 'x');
    const l = path.join(tmp.dir, 'l');
    expect((await run({ path: l, state: 'link', src: target })).changed).toBe(true);
    expect(readlinkSync(l)).toBe(target);
    expect((await run({ path: l, state: 'link', src: target })).plan.action).toBe('none');
    expect((await run({ path: l, state: 'link', src: 'target' })).plan.action).toBe('replace');
    expect(readlinkSync(l)).toBe('target');

    const t = path.join(tmp.dir, 'touched');
    expect((await run({ path: t, state: 'touch', mode: '0600' })).changed).toBe(true);
    expect(statSync(t).mode & 0o7777).toBe(0o600);
    expect((await run({ path: t, state: 'touch', mode: '0600' })).plan.action).toBe('none');

    expect((await run({ path: t, state: 'absent' }, true)).plan.action).toBe('delete');
    expect(existsSync(t)).toBe(true);
    expect((await run({ path: t, state: 'absent' })).changed).toBe(true);
    expect(existsSync(t)).toBe(false);
    expect((await run({ path: t, state: 'absent' })).plan.action).toBe('none');
  });
});
