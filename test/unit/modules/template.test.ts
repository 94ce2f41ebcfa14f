import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { template, type TemplateParams } from '../../../src/modules/template.js';
import { sha256 } from '../../../src/modules/support/content.js';
import { moduleContext, runModule } from '../../support/modules.js';
import { cannedConnection, localConnection, tempDir } from './support/hosts.js';

describe('template', () => {
  const tmp = tempDir('template');
  const conn = localConnection();
  mkdirSync(path.join(tmp.dir, 'templates'), { recursive: true });
  writeFileSync(path.join(tmp.dir, 'templates', 'app.conf.hbs'), 'port={{port}}\nhost={{host}}\n');
  const ctx = (vars: Record<string, unknown>, check = false, c = conn) =>
    moduleContext(c, { check, vars, filesDir: tmp.dir });
  afterAll(async () => {
    await conn.close();
    tmp.cleanup();
  });

  test('renders on the controller and compares by hash in one round trip', async () => {
    const rendered = 'port=80\nhost=h1\n';
    const canned = cannedConnection(`@ file 644 0 0 17 root root\nsha256 ${sha256(rendered)}\n`);
    const plan = await template.plan(ctx({ port: 80, host: 'h1' }, false, canned), {
      src: 'app.conf.hbs',
      dest: '/etc/app.conf',
    });
    expect(plan).toEqual({ action: 'none', reason: '/etc/app.conf is up to date' });
    expect(canned.commands).toHaveLength(1);
    expect(canned.commands[0]).toContain(`'${sha256(rendered)}'`);
  });

  test('a template that cannot be found is an input error naming where it looked', async () => {
    await expect(template.plan(ctx({}), { src: 'nope.hbs', dest: '/x' })).rejects.toThrow(
      `template: src 'nope.hbs' could not be read (${path.join(tmp.dir, 'templates', 'nope.hbs')}: ENOENT)`,
    );
  });

  test(
    'first run writes, re-run does nothing, check mode changes nothing, diff shows the change, ' + 'drift is repaired',
    async () => {
      const dest = path.join(tmp.dir, 'app.conf');
      const params: TemplateParams = { src: 'app.conf.hbs', dest, mode: '0640' };
      const first = await runModule(template, ctx({ port: 80, host: 'h1' }), params);
      expect(first.plan.action).toBe('create');
      expect(readFileSync(dest, 'utf8')).toBe('port=80\nhost=h1\n');
      expect(statSync(dest).mode & 0o7777).toBe(0o640);
      expect((await runModule(template, ctx({ port: 80, host: 'h1' }), params)).plan.action).toBe('none');

      const checked = await runModule(template, ctx({ port: 8080, host: 'h1' }, true), params);
      expect(checked.plan.action).toBe('update');
      expect(checked.plan.diff).toEqual({
        unified: `--- ${dest}\n+++ ${dest}\n@@ -1,2 +1,2 @@\n-port=80\n+port=8080\n host=h1\n`,
      });
      expect(readFileSync(dest, 'utf8')).toBe('port=80\nhost=h1\n');

      writeFileSync(dest, 'edited by hand\n');
      chmodSync(dest, 0o666);
      const repaired = await runModule(template, ctx({ port: 80, host: 'h1' }), params);
      expect(repaired.plan.diff?.values).toEqual([{ key: 'mode', before: '0666', after: '0640' }]);
      expect(readFileSync(dest, 'utf8')).toBe('port=80\nhost=h1\n');
      expect(statSync(dest).mode & 0o7777).toBe(0o640);
    },
  );
});
