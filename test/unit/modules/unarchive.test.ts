import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  decideUnarchive,
  markerPath,
  parseUnarchiveProbe,
  tarFlag,
  unarchive,
  type UnarchiveParams,
} from '../../../src/modules/unarchive.js';
import { moduleContext, runModule } from '../../support/modules.js';
import { cannedConnection, localConnection, tempDir } from './support/hosts.js';

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

describe('unarchive decisions', () => {
  const params: UnarchiveParams = { src: 'app.tar.gz', dest: '/opt/app' };
  const sha = 'ab'.repeat(32);

  test('tar flags by file name; anything else is an input error', () => {
    expect(['a.tar', 'a.tar.gz', 'a.TGZ', 'a.tar.xz', 'a.txz', 'a.tar.bz2'].map(tarFlag)).toEqual([
      '',
      '-z',
      '-z',
      '-J',
      '-J',
      '-j',
    ]);
    expect(() => tarFlag('a.zip')).toThrow("unarchive: 'a.zip' is not a tar archive this module extracts");
  });

  test('probe output parsed', () => {
    expect(parseUnarchiveProbe(`dest dir\nmarker ${sha}\nsrc ${sha}\n`)).toEqual({
      creates: false,
      dest: 'dir',
      marker: sha,
      remoteSha: sha,
    });
    expect(parseUnarchiveProbe('creates yes\ndest absent\n')).toEqual({ creates: true, dest: 'absent' });
  });

  test('creates exists or marker matches: none; no marker: create; other marker: update', () => {
    expect(
      decideUnarchive({ ...params, creates: '/opt/app/bin' }, { creates: true, dest: 'dir' }, { sha256: sha }),
    ).toEqual({
      action: 'none',
      reason: '/opt/app/bin exists',
    });
    expect(decideUnarchive(params, { creates: false, dest: 'dir', marker: sha }, { sha256: sha })).toEqual({
      action: 'none',
      reason: `app.tar.gz (sha256 ${sha.slice(0, 12)}) is already extracted in /opt/app`,
    });
    const fresh = decideUnarchive(
      params,
      { creates: false, dest: 'absent' },
      { sha256: sha, localPath: '/files/app.tar.gz' },
    );
    expect(fresh).toEqual({
      action: 'create',
      reason: 'app.tar.gz was not extracted in /opt/app',
      diff: { values: [{ key: '/opt/app (app.tar.gz)', before: 'not extracted', after: `sha256:${sha}` }] },
      data: {
        localPath: '/files/app.tar.gz',
        dest: '/opt/app',
        sha256: sha,
        marker: '/opt/app/.furrow-unarchive-app.tar.gz.sha256',
        createDest: true,
      },
    });
    expect(
      decideUnarchive(params, { creates: false, dest: 'dir', marker: 'cd'.repeat(32) }, { sha256: sha }).action,
    ).toBe('update');
    expect(() => decideUnarchive(params, { creates: false, dest: 'other' }, { sha256: sha })).toThrow(
      'unarchive: dest /opt/app exists and is not a directory',
    );
  });

  test('a controller src that does not exist is an input error; the probe is one round trip', async () => {
    const conn = cannedConnection('dest dir\n');
    await expect(unarchive.plan(moduleContext(conn, { filesDir: '/nonexistent' }), params)).rejects.toThrow(
      "unarchive: src 'app.tar.gz' was not found (looked for /nonexistent/files/app.tar.gz)",
    );
    const remote = cannedConnection(`dest dir\nsrc ${sha}\n`);
    expect((await unarchive.plan(moduleContext(remote), { ...params, remote_src: true })).action).toBe('create');
    expect(remote.commands).toHaveLength(1);
  });
});

describe('unarchive on a real shell (LocalConnection)', () => {
  const tmp = tempDir('unarchive');
  const conn = localConnection();
  const files = path.join(tmp.dir, 'files');
  const run = (params: UnarchiveParams, check = false) =>
    runModule(unarchive, moduleContext(conn, { check, filesDir: tmp.dir }), params);

  /** Makes files/<name> holding app/VERSION = version, with tar's own compression flag. */
  function makeArchive(name: string, version: string, flag: string): Buffer {
    const src = path.join(tmp.dir, `src-${version}`);
    mkdirSync(path.join(src, 'app'), { recursive: true });
    writeFileSync(path.join(src, 'app', 'VERSION'), `${version}\n`);
    execFileSync('tar', ['-c', ...(flag ? [flag] : []), '-f', path.join(files, name), '-C', src, 'app']);
    return readFileSync(path.join(files, name));
  }

  beforeAll(() => mkdirSync(files, { recursive: true }));
  afterAll(async () => {
    await conn.close();
    tmp.cleanup();
  });

  test(
    'extract, re-run does nothing, check mode with a new archive changes nothing, the new archive ' +
      'is extracted once',
    async () => {
      const dest = path.join(tmp.dir, 'opt');
      const v1 = makeArchive('app.tar.gz', '1.0', '-z');
      const first = await run({ src: 'app.tar.gz', dest });
      expect(first.changed).toBe(true);
      expect(readFileSync(path.join(dest, 'app', 'VERSION'), 'utf8')).toBe('1.0\n');
      expect(readFileSync(markerPath(dest, 'app.tar.gz'), 'utf8')).toBe(`${sha256(v1)}\n`);
      expect(readdirSync(dest).sort()).toEqual(['.furrow-unarchive-app.tar.gz.sha256', 'app']);
      expect((await run({ src: 'app.tar.gz', dest })).plan.action).toBe('none');

      const v2 = makeArchive('app.tar.gz', '2.0', '-z');
      const checked = await run({ src: 'app.tar.gz', dest }, true);
      expect([checked.changed, checked.plan.diff?.values?.[0]?.after]).toEqual([true, `sha256:${sha256(v2)}`]);
      expect(readFileSync(path.join(dest, 'app', 'VERSION'), 'utf8')).toBe('1.0\n');
      expect((await run({ src: 'app.tar.gz', dest })).plan.action).toBe('update');
      expect(readFileSync(path.join(dest, 'app', 'VERSION'), 'utf8')).toBe('2.0\n');
      expect((await run({ src: 'app.tar.gz', dest })).changed).toBe(false);
    },
  );

  test('remote_src .tar.xz with extra_opts; creates guard', async () => {
    makeArchive('tool.tar.xz', '3.0', '-J');
    const dest = path.join(tmp.dir, 'tool');
    const params = {
      src: path.join(files, 'tool.tar.xz'),
      dest,
      remote_src: 'yes',
      extra_opts: ['--strip-components=1'],
    };
    expect((await run(params)).changed).toBe(true);
    expect(readFileSync(path.join(dest, 'VERSION'), 'utf8')).toBe('3.0\n');
    expect((await run(params)).changed).toBe(false);
    const guarded = await run({
      src: 'app.tar.gz',
      dest: path.join(tmp.dir, 'guarded'),
      creates: path.join(dest, 'VERSION'),
    });
    expect(guarded.plan).toEqual({ action: 'none', reason: `${path.join(dest, 'VERSION')} exists` });
    expect(existsSync(path.join(tmp.dir, 'guarded'))).toBe(false);
  });

  test('a broken archive fails with tar output and records no marker', async () => {
    writeFileSync(path.join(files, 'broken.tgz'), 'not an archive');
    const dest = path.join(tmp.dir, 'broken');
    const r = await run({ src: 'broken.tgz', dest });
    expect(r.result?.failed).toBe(true);
    expect(r.result?.msg).toMatch(/unarchive broken\.tgz -> .* failed \(exit 2\):[\s\S]*gzip/);
    expect(readdirSync(dest)).toEqual([]);
  });
});
