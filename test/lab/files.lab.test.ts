import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Connection } from '../../src/engine/connections/types.js';
import { loadInventory } from '../../src/engine/inventory/index.js';
import type { Module } from '../../src/engine/module.js';
import { blockinfile } from '../../src/modules/blockinfile.js';
import { copy } from '../../src/modules/copy.js';
import { fetch } from '../../src/modules/fetch.js';
import { file } from '../../src/modules/file.js';
import { lineinfile } from '../../src/modules/lineinfile.js';
import { template } from '../../src/modules/template.js';
import { moduleContext, runModule } from '../support/modules.js';
import { describeLab, expectExit, furrow, labHostConnection, labTestName } from './support.js';

const NAME = labTestName('t-files');
const ROOT = '/srv/furrow-files-lab';
const sha = (text: string) => createHash('sha256').update(text).digest('hex');

describeLab('file modules on a real lab host', () => {
  const cwd = mkdtempSync(path.join(os.tmpdir(), 'furrow-files-lab-'));
  const inventory = path.join(cwd, '.furrow', `lab-${NAME}`, 'inventory.yml');
  const opened: Connection[] = [];
  let conn: Connection;

  async function connect(vars: Record<string, unknown> = {}): Promise<Connection> {
    const inv = await loadInventory(inventory);
    const c = labHostConnection(inv, 'h1', cwd, vars);
    await c.open();
    opened.push(c);
    return c;
  }

  /** What a user would type on the host to check. */
  async function onHost(command: string): Promise<string> {
    const r = await conn.exec(command);
    if (r.code !== 0) throw new Error(`${command}: exit ${r.code}: ${r.stderr.toString()}`);
    return r.stdout.toString().trim();
  }

  const run = <P>(
    mod: Module<P, unknown>,
    params: P,
    opts: { check?: boolean; noLog?: boolean; vars?: Record<string, unknown>; c?: Connection } = {},
  ) =>
    runModule(
      mod,
      moduleContext(opts.c ?? conn, { check: !!opts.check, noLog: !!opts.noLog, vars: opts.vars ?? {}, filesDir: cwd }),
      params,
    );

  beforeAll(async () => {
    expectExit(await furrow(['lab', 'up', '--hosts', '1', '--name', NAME], { cwd }), 0);
    conn = await connect();
    await onHost(`rm -rf ${ROOT} && mkdir -p ${ROOT}`);
  }, 600_000);

  afterAll(async () => {
    for (const c of opened) await c.close();
    await furrow(['lab', 'down', '--name', NAME], { cwd });
    rmSync(cwd, { recursive: true, force: true });
  });

  test('file: directory with mode and owner, re-run, check mode, link, absent', async () => {
    const dir = `${ROOT}/conf.d`;
    const params = { path: dir, state: 'directory' as const, mode: '0750', owner: 'furrow', group: 'furrow' };
    expect((await run(file, params)).changed).toBe(true);
    expect(await onHost(`stat -c '%F %a %U %G' ${dir}`)).toBe('directory 750 furrow furrow');
    expect((await run(file, params)).plan.action).toBe('none');
    const checked = await run(file, { ...params, mode: '0700' }, { check: true });
    expect(checked.plan.diff).toEqual({ values: [{ key: 'mode', before: '0750', after: '0700' }] });
    expect(await onHost(`stat -c '%a' ${dir}`)).toBe('750');

    expect((await run(file, { path: `${ROOT}/current`, state: 'link' as const, src: dir })).changed).toBe(true);
    expect(await onHost(`readlink ${ROOT}/current`)).toBe(dir);
    expect((await run(file, { path: `${ROOT}/current`, state: 'link' as const, src: dir })).plan.action).toBe('none');
    expect((await run(file, { path: `${ROOT}/current`, state: 'absent' as const })).changed).toBe(true);
    expect(await onHost(`test -e ${ROOT}/current && echo yes || echo no`)).toBe('no');
  });

  test('copy: content and src, re-run, check mode, diff', async () => {
    const dest = `${ROOT}/app.env`;
    const params = { dest, content: 'TOKEN=abc\n', mode: '0640', owner: 'furrow', group: 'root' };
    const first = await run(copy, params);
    expect(first.plan.action).toBe('create');
    expect(await onHost(`sha256sum ${dest} | cut -c1-64`)).toBe(sha('TOKEN=abc\n'));
    expect(await onHost(`stat -c '%a %U %G' ${dest}`)).toBe('640 furrow root');
    expect((await run(copy, params)).plan.action).toBe('none');
    const checked = await run(copy, { ...params, content: 'TOKEN=xyz\n' }, { check: true });
    expect(checked.plan.action).toBe('update');
    expect(checked.plan.diff?.unified).toContain('-TOKEN=abc\n+TOKEN=xyz');
    // A no_log task's inline content is neither read back nor shown.
    const hidden = await run(copy, { ...params, content: 'TOKEN=xyz\n' }, { check: true, noLog: true });
    expect(hidden.plan.action).toBe('update');
    expect(JSON.stringify(hidden.plan.diff)).not.toMatch(/xyz|abc/);
    expect(await onHost(`cat ${dest}`)).toBe('TOKEN=abc');

    mkdirSync(path.join(cwd, 'files'), { recursive: true });
    writeFileSync(path.join(cwd, 'files', 'motd'), 'welcome\n');
    const motd = `${ROOT}/motd`;
    expect((await run(copy, { dest: motd, src: 'motd' })).changed).toBe(true);
    expect(await onHost(`cat ${motd}`)).toBe('welcome');
    expect((await run(copy, { dest: motd, src: 'motd' })).plan.action).toBe('none');
    writeFileSync(path.join(cwd, 'files', 'motd'), 'welcome\nbe nice\n');
    const diff = await run(copy, { dest: motd, src: 'motd' }, { check: true });
    expect(diff.plan.diff).toEqual({ unified: `--- ${motd}\n+++ ${motd}\n@@ -1,1 +1,2 @@\n welcome\n+be nice\n` });
    expect(await onHost(`cat ${motd}`)).toBe('welcome');
  });

  test('template: rendered with vars, re-run, check mode, diff', async () => {
    mkdirSync(path.join(cwd, 'templates'), { recursive: true });
    writeFileSync(path.join(cwd, 'templates', 'chrony.conf.hbs'), 'server {{server}} iburst\n');
    const dest = `${ROOT}/chrony.conf`;
    const params = { src: 'chrony.conf.hbs', dest, mode: '0644' };
    expect((await run(template, params, { vars: { server: '10.0.0.1' } })).changed).toBe(true);
    expect(await onHost(`sha256sum ${dest} | cut -c1-64`)).toBe(sha('server 10.0.0.1 iburst\n'));
    expect((await run(template, params, { vars: { server: '10.0.0.1' } })).plan.action).toBe('none');
    const checked = await run(template, params, { check: true, vars: { server: '10.0.0.2' } });
    expect(checked.plan.diff).toEqual({
      unified: `--- ${dest}\n+++ ${dest}\n@@ -1,1 +1,1 @@\n-server 10.0.0.1 iburst\n+server 10.0.0.2 iburst\n`,
    });
    expect(await onHost(`cat ${dest}`)).toBe('server 10.0.0.1 iburst');
  });

  test('lineinfile: replace by regexp keeps mode and owner, re-run, check mode, diff', async () => {
    const f = `${ROOT}/sshd_config`;
    await onHost(`printf 'Port 22\\nPermitRootLogin yes\\n' > ${f} && chmod 600 ${f} && chown furrow ${f}`);
    const params = { path: f, regexp: '^PermitRootLogin', line: 'PermitRootLogin prohibit-password' };
    expect((await run(lineinfile, params)).changed).toBe(true);
    expect(await onHost(`cat ${f}`)).toBe('Port 22\nPermitRootLogin prohibit-password');
    expect(await onHost(`stat -c '%a %U' ${f}`)).toBe('600 furrow');
    expect((await run(lineinfile, params)).plan.action).toBe('none');
    const checked = await run(lineinfile, { path: f, line: 'UseDNS no' }, { check: true });
    expect(checked.plan.diff).toEqual({
      unified: `--- ${f}\n+++ ${f}\n@@ -1,2 +1,3 @@\n Port 22\n PermitRootLogin prohibit-password\n+UseDNS no\n`,
    });
    expect(await onHost(`cat ${f}`)).toBe('Port 22\nPermitRootLogin prohibit-password');
  });

  test('blockinfile: create with a block, re-run, check mode, diff', async () => {
    const f = `${ROOT}/hosts`;
    const params = { path: f, block: '10.0.0.1 h1\n10.0.0.2 h2', create: true, mode: '0644' };
    expect((await run(blockinfile, params)).changed).toBe(true);
    expect(await onHost(`cat ${f}`)).toBe(
      '# BEGIN FURROW MANAGED BLOCK\n10.0.0.1 h1\n10.0.0.2 h2\n# END FURROW MANAGED BLOCK',
    );
    expect(await onHost(`stat -c '%a' ${f}`)).toBe('644');
    expect((await run(blockinfile, params)).plan.action).toBe('none');
    const checked = await run(blockinfile, { ...params, block: '10.0.0.1 h1' }, { check: true });
    expect(checked.plan.diff).toEqual({
      unified:
        `--- ${f}\n+++ ${f}\n@@ -1,4 +1,3 @@\n # BEGIN FURROW MANAGED BLOCK\n 10.0.0.1 h1\n-10.0.0.2 h2\n # ` +
        `END FURROW MANAGED BLOCK\n`,
    });
    expect(await onHost(`grep -c h2 ${f}`)).toBe('1');
  });

  test('fetch: to dest/<host>/<src>, re-run, check mode, diff', async () => {
    const src = `${ROOT}/report.txt`;
    await onHost(`echo one > ${src}`);
    const dest = path.join(cwd, 'fetched');
    const local = path.join(dest, 'h1', src);
    expect((await run(fetch, { src, dest })).changed).toBe(true);
    expect(readFileSync(local, 'utf8')).toBe('one\n');
    expect((await run(fetch, { src, dest })).plan.action).toBe('none');
    await onHost(`echo two >> ${src}`);
    const checked = await run(fetch, { src, dest }, { check: true });
    expect(checked.plan.diff).toEqual({ unified: `--- ${local}\n+++ ${local}\n@@ -1,1 +1,2 @@\n one\n+two\n` });
    expect(readFileSync(local, 'utf8')).toBe('one\n');
    expect(existsSync(path.join(dest, 'h1'))).toBe(true);
  });

  test('through sudo (become) as a non-root user: root-owned file, then no change', async () => {
    const sudo = await connect({ ansible_user: 'furrow', ansible_become: true });
    const dest = `${ROOT}/become.conf`;
    const params = { dest, content: 'secret=1\n', mode: '0600', owner: 'root' };
    expect((await run(copy, params, { c: sudo })).changed).toBe(true);
    expect(await onHost(`stat -c '%a %U' ${dest}`)).toBe('600 root');
    expect((await run(copy, params, { c: sudo })).plan.action).toBe('none');
    expect((await run(lineinfile, { path: dest, line: 'more=2' }, { c: sudo })).changed).toBe(true);
    expect(await onHost(`cat ${dest}`)).toBe('secret=1\nmore=2');
    expect(await onHost(`stat -c '%a %U' ${dest}`)).toBe('600 root');
  });
});
