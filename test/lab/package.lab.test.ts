import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Connection } from '../../src/engine/connections/types.js';
import { hostVars, loadInventory } from '../../src/engine/inventory/index.js';
import type { Module } from '../../src/engine/module.js';
import { getUrl } from '../../src/modules/get_url.js';
import { packageModule, policyRcDSetup } from '../../src/modules/package.js';
import { unarchive } from '../../src/modules/unarchive.js';
import { aptSourcesLine, buildDebRepo, serveRepo, type DebRepo, type RepoServer } from '../../src/repo/index.js';
import { moduleContext, runModule } from '../support/modules.js';
import { describeLab, expectExit, furrow, labHostConnection, labTestName } from './support.js';

const NAME = labTestName('t-package');
const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

/**
 * The offline path end to end: the controller builds a repository from its own apt, serves it on
 * the lab bridge, and a lab host (which has no route out and no other apt source) installs and
 * removes real packages from it with the package module.
 */
describeLab('package, get_url and unarchive on a lab host, from the repository the controller serves', () => {
  const cwd = mkdtempSync(path.join(os.tmpdir(), 'furrow-package-lab-'));
  const inventory = path.join(cwd, '.furrow', `lab-${NAME}`, 'inventory.yml');
  let repo: DebRepo;
  let server: RepoServer | undefined;
  let conn: Connection | undefined;

  async function onHost(command: string): Promise<string> {
    const r = await conn!.exec(command);
    if (r.code !== 0) throw new Error(`${command}: exit ${r.code}: ${r.stdout.toString()}${r.stderr.toString()}`);
    return r.stdout.toString().trim();
  }

  const run = <P>(mod: Module<P, unknown>, params: P, check = false) =>
    runModule(mod, moduleContext(conn!, { check, filesDir: cwd }), params);

  beforeAll(async () => {
    const [up, built] = await Promise.all([
      furrow(['lab', 'up', '--hosts', '1', '--name', NAME], { cwd }),
      buildDebRepo({ packages: ['tree', 'jq', 'wget', 'nginx'], dir: path.join(cwd, 'repo') }),
    ]);
    expectExit(up, 0);
    repo = built;
    const inv = await loadInventory(inventory);
    server = await serveRepo(repo.dir, { host: String(hostVars(inv, 'h1').furrow_lab_gateway) });
    conn = labHostConnection(inv, 'h1', cwd);
    await conn.open();
    await conn.put('/etc/apt/sources.list.d/furrow.list', { content: aptSourcesLine(server.url) });
  }, 900_000);

  afterAll(async () => {
    await conn?.close();
    await server?.close();
    await furrow(['lab', 'down', '--name', NAME], { cwd });
    rmSync(cwd, { recursive: true, force: true });
  });

  const version = (name: string) => repo.debs.find((d) => d.package === name)!.version;

  test('install tree and jq: jq pulls libjq1 and libonig5 from the repository; the second run ' +
    'changes nothing', async () => {
    expect(await onHost('cat /etc/apt/sources.list.d/*; ls /etc/apt/sources.list 2>/dev/null || true')).toBe(
      aptSourcesLine(server!.url).trim(),
    );
    const params = { name: ['tree', 'jq'], update_cache: true };
    const first = await run(packageModule, params);
    expect(first.result?.failed).toBeUndefined();
    expect([first.changed, first.plan.action]).toEqual([true, 'create']);
    expect(first.plan.reason).toMatch(/^update the apt cache \((never updated|\d+ s old)\); install tree jq$/);
    expect(first.result?.output?.versions).toEqual({ tree: version('tree'), jq: version('jq') });
    expect(await onHost('tree --version')).toMatch(/^tree v\d/);
    expect(await onHost(`echo '{"a":[1,2]}' | jq -c .a`)).toBe('[1,2]');
    const status = await onHost(`dpkg-query -W -f='\${Package} \${Status} \${Version}\\n' tree jq libjq1 libonig5`);
    expect(status.split('\n').sort()).toEqual(
      ['jq', 'libjq1', 'libonig5', 'tree'].map((n) => `${n} install ok installed ${version(n)}`),
    );
    expect(await onHost('apt-cache policy tree')).toContain(`500 ${server!.url.replace(/\/$/, '')} ./ Packages`);

    const started = Date.now();
    const again = await run(packageModule, params);
    expect([again.changed, again.plan.reason]).toEqual([false, `apt: tree ${version('tree')}, jq ${version('jq')}`]);
    expect(Date.now() - started).toBeLessThan(5000);
  }, 300_000);

  test('check mode on removal changes nothing; removal shows versions, removes, and then changes nothing', async () => {
    const checked = await run(packageModule, { name: 'tree', state: 'absent' as const }, true);
    expect([checked.changed, checked.plan.action, checked.plan.diff]).toEqual([
      true,
      'delete',
      { values: [{ key: 'tree', before: version('tree'), after: 'absent' }] },
    ]);
    expect(await onHost(`dpkg-query -W -f='\${Status}' tree`)).toBe('install ok installed');

    const removed = await run(packageModule, { name: 'tree', state: 'absent' as const });
    expect([removed.changed, removed.result?.output?.versions]).toEqual([true, { tree: 'absent' }]);
    expect(await onHost('command -v tree || echo gone')).toBe('gone');
    expect((await run(packageModule, { name: 'tree', state: 'absent' as const })).changed).toBe(false);

    // With the cache known, an install shows which version it will bring.
    const back = await run(packageModule, { name: 'tree', state: 'latest' as const });
    expect([back.changed, back.plan.diff]).toEqual([
      true,
      { values: [{ key: 'tree', before: 'absent', after: version('tree') }] },
    ]);
    expect((await run(packageModule, { name: 'tree', state: 'latest' as const })).changed).toBe(false);
  }, 300_000);

  test('a host cut off during an install leaves dpkg interrupted: apt refuses, the next install finishes ' +
    "dpkg's work first, then installs", async () => {
    expect((await run(packageModule, { name: 'tree', state: 'absent' as const })).result?.failed).toBeUndefined();
    // What dpkg leaves when the host goes down mid-install: its journal in the updates folder (here a
    // status entry of a package that is installed, so finishing it changes nothing else).
    await onHost(
      "awk -v RS= '/^Package: jq\\n/' /var/lib/dpkg/status > /var/lib/dpkg/updates/0000 && " +
        'test -s /var/lib/dpkg/updates/0000',
    );
    const refused = await conn!.exec('DEBIAN_FRONTEND=noninteractive apt-get install -y -q tree 2>&1');
    expect(refused.code).not.toBe(0);
    expect(refused.stdout.toString()).toContain("dpkg was interrupted, you must manually run 'dpkg --configure -a'");

    const installed = await run(packageModule, { name: 'tree' });
    expect(installed.result?.failed).toBeUndefined();
    expect(installed.changed).toBe(true);
    expect(await onHost('ls -A /var/lib/dpkg/updates | wc -l')).toBe('0');
    expect(await onHost(`dpkg-query -W -f='\${Status}' tree jq`)).toBe('install ok installedinstall ok installed');
    expect((await run(packageModule, { name: 'tree' })).changed).toBe(false);
  }, 300_000);

  test("policy_rc_d 101: nginx installs enabled but never started, the operator's policy-rc.d is put back; a " +
    'file a killed run left is put back by the next apt transaction; without it the install starts nginx', async () => {
    const OPERATORS = "#!/bin/sh\n# the operator's own: allow everything\nexit 0\n";
    const operators = () => onHost('sha256sum < /usr/sbin/policy-rc.d; ls /usr/sbin | grep -c "^policy-rc.d"');
    await conn!.put('/usr/sbin/policy-rc.d', { content: OPERATORS }, { mode: '0755' });
    const installed = await run(packageModule, { name: 'nginx', policy_rc_d: 101 });
    expect(installed.result?.failed).toBeUndefined();
    expect(installed.changed).toBe(true);
    // Enabled at boot as the package does, but not activated once since the host booted.
    const show = (p: string) => `systemctl show -p ${p} --value nginx`;
    const unit = `systemctl is-enabled nginx; ${show('ActiveState')}; ${show('InactiveExitTimestampMonotonic')}`;
    expect(await onHost(unit)).toBe('enabled\ninactive\n0');
    expect(await operators()).toBe(`${sha256(OPERATORS)}  -\n1`);

    // A run killed outright (SIGKILL, a crash) between its setup and its end leaves Furrow's file.
    await onHost(`furrow_policy_restore() { :; }\n${policyRcDSetup(101)}\ntrap - EXIT HUP INT TERM`);
    expect(await onHost('/usr/sbin/policy-rc.d nginx start; echo $?')).toBe('101');
    expect((await run(packageModule, { name: 'tree', state: 'absent' as const })).changed).toBe(true);
    expect(await operators()).toBe(`${sha256(OPERATORS)}  -\n1`);

    // Without policy_rc_d (and the operator's allowing it), the same install starts nginx.
    expect((await run(packageModule, { name: 'nginx', state: 'absent' as const, purge: true })).changed).toBe(true);
    expect((await run(packageModule, { name: 'nginx' })).changed).toBe(true);
    expect(await onHost('systemctl is-active nginx')).toBe('active');
    expect((await run(packageModule, { name: 'nginx', state: 'absent' as const, purge: true })).changed).toBe(true);
    await onHost('rm -f /usr/sbin/policy-rc.d');
  }, 300_000);

  test('get_url over the lab bridge with wget from the repository: download, skip when ' +
    'matching, check mode', async () => {
    expect((await run(packageModule, { name: 'wget' })).changed).toBe(true);
    const packages = readFileSync(path.join(repo.dir, 'Packages'));
    const params = {
      url: `${server!.url}Packages`,
      dest: '/srv/Packages',
      checksum: `sha256:${sha256(packages)}`,
      mode: '0640',
    };
    const first = await run(getUrl, params);
    expect([first.changed, first.plan.action, first.result?.output?.checksum_dest]).toEqual([
      true,
      'create',
      `sha256:${sha256(packages)}`,
    ]);
    expect(await onHost('stat -c %a /srv/Packages && sha256sum /srv/Packages | cut -c1-64')).toBe(
      `640\n${sha256(packages)}`,
    );
    expect((await run(getUrl, params)).changed).toBe(false);
    await onHost('echo drift > /srv/Packages');
    const checked = await run(getUrl, params, true);
    expect([checked.changed, checked.plan.diff?.values?.[0]?.before]).toEqual([true, `sha256:${sha256('drift\n')}`]);
    expect(await onHost('cat /srv/Packages')).toBe('drift');
    expect((await run(getUrl, params)).changed).toBe(true);
    expect((await run(getUrl, params)).changed).toBe(false);
  }, 300_000);

  test('unarchive a controller archive: extract, re-run nothing, check mode on a new archive, ' +
    'then extract it', async () => {
    const make = (v: string) => {
      const src = path.join(cwd, `app-${v}`);
      mkdirSync(path.join(src, 'app'), { recursive: true });
      writeFileSync(path.join(src, 'app', 'VERSION'), `${v}\n`);
      mkdirSync(path.join(cwd, 'files'), { recursive: true });
      execFileSync('tar', ['-czf', path.join(cwd, 'files', 'app.tar.gz'), '-C', src, 'app']);
      return sha256(readFileSync(path.join(cwd, 'files', 'app.tar.gz')));
    };
    const v1 = make('1');
    const params = { src: 'app.tar.gz', dest: '/opt/furrow-app' };
    expect((await run(unarchive, params)).changed).toBe(true);
    expect(await onHost('cat /opt/furrow-app/app/VERSION /opt/furrow-app/.furrow-unarchive-app.tar.gz.sha256')).toBe(
      `1\n${v1}`,
    );
    expect((await run(unarchive, params)).changed).toBe(false);
    const v2 = make('2');
    const checked = await run(unarchive, params, true);
    expect([checked.changed, checked.plan.diff]).toEqual([
      true,
      { values: [{ key: '/opt/furrow-app (app.tar.gz)', before: `sha256:${v1}`, after: `sha256:${v2}` }] },
    ]);
    expect(await onHost('cat /opt/furrow-app/app/VERSION')).toBe('1');
    expect((await run(unarchive, params)).changed).toBe(true);
    expect(await onHost('cat /opt/furrow-app/app/VERSION; ls -A /opt/furrow-app')).toBe(
      '2\n.furrow-unarchive-app.tar.gz.sha256\napp',
    );
    expect((await run(unarchive, params)).changed).toBe(false);
  }, 120_000);
});
