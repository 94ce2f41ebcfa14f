import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Connection, ExecResult } from '../../../src/engine/connections/types.js';
import {
  packageProbeCommand,
  parseAptPolicy,
  parseCacheAge,
  parseDpkgQuery,
  parsePackageProbe,
  parseRpmQuery,
  parseRpmUpgrades,
  type PackageProbe,
} from '../../../src/modules/probes/packages.js';
import {
  decidePackages,
  dnfModule,
  DPKG_RECOVER,
  packageCommands,
  packageModule,
  packageNames,
  type PackageParams,
  policyRcDRestore,
  policyRcDSetup,
} from '../../../src/modules/package.js';
import { moduleContext, runModule } from '../../support/modules.js';

const DPKG_OUT = [
  'dpkg-query: no packages found matching jq',
  'tree:amd64\tinstall ok installed\t2.1.0-1',
  'libfoo:amd64\tdeinstall ok config-files\t1.0-1',
  'half:all\tinstall reinstreq half-installed\t0.9',
  'libc6:amd64\tinstall ok installed\t2.36-9',
  '',
].join('\n');

const POLICY_OUT = `tree:
  Installed: 2.1.0-1
  Candidate: 2.1.0-1
  Version table:
 *** 2.1.0-1 500
        500 http://10.213.7.1:40000 ./ Packages
        100 /var/lib/dpkg/status
jq:
  Installed: (none)
  Candidate: 1.6-2.1+deb12u3
  Version table:
     1.6-2.1+deb12u3 500
        500 http://10.213.7.1:40000 ./ Packages
debconf-2.0:
  Installed: (none)
  Candidate: (none)
  Version table:
`;

describe('package probes: parsers on canned output', () => {
  test('dpkg-query: installed, missing (error line), config-files only and half-installed', () => {
    const got = parseDpkgQuery(DPKG_OUT, ['tree', 'jq', 'libfoo', 'half', 'libc6:amd64']);
    expect([got.get('tree'), got.get('jq'), got.get('libfoo'), got.get('half'), got.get('libc6:amd64')]).toEqual([
      { version: '2.1.0-1' },
      {},
      {},
      {},
      { version: '2.36-9' },
    ]);
  });

  test('apt-cache policy: installed and candidate per package, (none) as undefined', () => {
    const got = parseAptPolicy(POLICY_OUT);
    expect(Object.fromEntries(got)).toEqual({
      tree: { installed: '2.1.0-1', candidate: '2.1.0-1' },
      jq: { installed: undefined, candidate: '1.6-2.1+deb12u3' },
      'debconf-2.0': { installed: undefined, candidate: undefined },
    });
  });

  test('rpm -q: versions, and "is not installed" lines leave the package absent', () => {
    const got = parseRpmQuery('tree\t1.8.0-10.el9\npackage jq is not installed\n', ['tree', 'jq']);
    expect(Object.fromEntries(got)).toEqual({ tree: { version: '1.8.0-10.el9' }, jq: {} });
  });

  test('dnf list --upgrades / yum list updates: name without arch, version without epoch, headers ignored', () => {
    const dnf = parseRpmUpgrades('Available Upgrades\ntree.x86_64                1.8.0-11.el9              baseos\n');
    expect(Object.fromEntries(dnf)).toEqual({ tree: { candidate: '1.8.0-11.el9' } });
    const yum = parseRpmUpgrades(
      'Updated Packages\nopenssl.x86_64   1:1.0.2k-26.el7_9   updates\npython3-libs.noarch 3.6.8-21.el7 updates\n',
    );
    expect(Object.fromEntries(yum)).toEqual({
      openssl: { candidate: '1.0.2k-26.el7_9' },
      'python3-libs': { candidate: '3.6.8-21.el7' },
    });
  });

  test('cache age: now minus the newest of the stamp and the lists folder; unknown without either', () => {
    expect(parseCacheAge('1700000100\n1700000000\n1700000040\n')).toBe(60);
    expect(parseCacheAge('1700000100\n')).toBeUndefined();
  });

  test('one probe script: sections per manager parsed back', () => {
    const out = [
      '### manager apt',
      '### dpkg',
      DPKG_OUT,
      '### policy',
      POLICY_OUT,
      '### cache',
      '1700000100',
      '1700000000',
      '',
    ].join('\n');
    const probe = parsePackageProbe(out, ['tree', 'jq']);
    expect(probe.manager).toBe('apt');
    expect(probe.installed.get('tree')).toEqual({ version: '2.1.0-1' });
    expect(probe.installed.get('jq')).toEqual({});
    expect(probe.candidates.get('jq')?.candidate).toBe('1.6-2.1+deb12u3');
    expect(probe.cacheAgeSeconds).toBe(100);
    expect(parsePackageProbe('### manager none\n', ['x']).manager).toBe('none');
  });

  test('the probe script quotes names and asks dnf for upgrades only for state latest', () => {
    const cmd = packageProbeCommand(['tree', 'jq'], { manager: 'dnf', upgrades: true });
    expect(cmd).toContain(`rpm -q --qf '%{NAME}\\t%{VERSION}-%{RELEASE}\\n' 'tree' 'jq' 2>&1`);
    expect(cmd).toContain(`dnf -q list --upgrades 'tree' 'jq'`);
    expect(cmd).not.toContain('apt-cache');
    const auto = packageProbeCommand(['tree']);
    expect(auto).toContain(`dpkg-query -W -f='\${Package}:\${Architecture}\\t\${Status}\\t\${Version}\\n' 'tree' 2>&1`);
    expect(auto.indexOf('apt-get')).toBeLessThan(auto.indexOf('command -v dnf'));
  });

  test("'if-missing' asks apt-cache and the cache's age only when a name is not installed (run by sh)", () => {
    // A fake dpkg-query answers from DPKG_LINES; a fake apt-cache logs that it ran.
    const bin = mkdtempSync(path.join(os.tmpdir(), 'furrow-apt-'));
    const script = (name: string, body: string) =>
      writeFileSync(path.join(bin, name), `#!/bin/sh\n${body}\n`, { mode: 0o755 });
    script('dpkg-query', 'printf "%b" "$DPKG_LINES"; [ -z "$DPKG_MISSING" ] || { echo "$DPKG_MISSING" >&2; exit 1; }');
    script('apt-cache', 'echo "$@" >> "$APT_LOG"; printf "%s:\\n  Candidate: 9\\n" "$2"');
    script('apt-get', 'exit 0');
    const probe = (lines: string[], missing = '') => {
      const log = path.join(bin, 'apt.log');
      rmSync(log, { force: true });
      const r = spawnSync('sh', ['-c', packageProbeCommand(['a', 'b'], { apt: 'if-missing' })], {
        env: { PATH: `${bin}:/usr/bin:/bin`, DPKG_LINES: lines.join(''), DPKG_MISSING: missing, APT_LOG: log },
      });
      return { out: parsePackageProbe(r.stdout.toString(), ['a', 'b']), apt: existsSync(log) };
    };
    try {
      const installed = ['a:amd64\\tinstall ok installed\\t1\\n', 'b:amd64\\thold ok installed\\t2\\n'];
      const all = probe(installed);
      expect(all.apt).toBe(false);
      expect(all.out.installed.get('b')).toEqual({ version: '2' });
      expect(all.out.cacheAgeSeconds).toBeUndefined();
      const removed = probe([installed[0]!, 'b:amd64\\tdeinstall ok config-files\\t2\\n']);
      expect(removed.apt).toBe(true);
      expect(removed.out.candidates.get('a')?.candidate).toBe('9');
      const unknown = probe([installed[0]!], 'dpkg-query: no packages found matching b');
      expect(unknown.apt).toBe(true);
      expect(unknown.out.installed.get('b')).toEqual({});
    } finally {
      rmSync(bin, { recursive: true, force: true });
    }
  });
});

function aptProbe(
  installed: Record<string, string>,
  candidates: Record<string, string | undefined>,
  age?: number,
): PackageProbe & { manager: 'apt' } {
  return {
    manager: 'apt',
    installed: new Map(Object.entries(installed).map(([n, v]) => [n, { version: v }])),
    candidates: new Map(Object.entries(candidates).map(([n, c]) => [n, { candidate: c }])),
    ...(age !== undefined ? { cacheAgeSeconds: age } : {}),
  };
}

describe('package decisions', () => {
  const params = (p: Partial<PackageParams>): PackageParams => ({ name: ['tree', 'jq'], ...p });

  test('names: a list, or comma-separated, without repeats; a version pin or bad name is an input error', () => {
    expect(packageNames({ name: ['tree', 'jq', 'tree'] })).toEqual(['tree', 'jq']);
    expect(packageNames({ name: 'tree, jq,libc6:amd64' })).toEqual(['tree', 'jq', 'libc6:amd64']);
    expect(() => packageNames({ name: 'jq=1.6' })).toThrow("package: 'jq=1.6' is not a package name");
    expect(() => packageNames({ name: ['ok', '-rf'] })).toThrow("package: '-rf' is not a package name");
  });

  test('present: only the missing ones are installed, in one list', () => {
    const d = decidePackages(params({}), aptProbe({ tree: '2.1.0-1' }, { tree: '2.1.0-1', jq: '1.6' }));
    expect(d).toEqual({ manager: 'apt', install: ['jq'], upgrade: [], remove: [], updateCache: false });
  });

  test('present and all installed: nothing, and no cache update even with update_cache', () => {
    const d = decidePackages(params({ update_cache: true }), aptProbe({ tree: '2.1.0-1', jq: '1.6' }, {}, 99999));
    expect(d).toEqual({ manager: 'apt', install: [], upgrade: [], remove: [], updateCache: false });
  });

  test('update_cache without cache_valid_time: only when a package to install is unknown to apt', () => {
    expect(
      decidePackages(params({ update_cache: true }), aptProbe({}, { tree: '2.1.0-1', jq: '1.6' })).updateCache,
    ).toBe(false);
    expect(decidePackages(params({ update_cache: 'yes' }), aptProbe({}, { tree: '2.1.0-1' })).updateCache).toBe(true);
    expect(decidePackages(params({}), aptProbe({}, { tree: '2.1.0-1' })).updateCache).toBe(false);
  });

  test('cache_valid_time: refresh when older (or never refreshed), not when fresh', () => {
    const all = { tree: '2.1.0-1', jq: '1.6' };
    expect(
      decidePackages(params({ update_cache: true, cache_valid_time: 3600 }), aptProbe(all, all, 7200)).updateCache,
    ).toBe(true);
    expect(
      decidePackages(params({ update_cache: true, cache_valid_time: 3600 }), aptProbe(all, all, 60)).updateCache,
    ).toBe(false);
    expect(decidePackages(params({ update_cache: true, cache_valid_time: 3600 }), aptProbe(all, all)).updateCache).toBe(
      true,
    );
  });

  test('latest: upgrade when the candidate differs, install when missing', () => {
    const d = decidePackages(params({ state: 'latest' }), aptProbe({ tree: '2.0-1' }, { tree: '2.1.0-1', jq: '1.6' }));
    expect(d).toEqual({ manager: 'apt', install: ['jq'], upgrade: ['tree'], remove: [], updateCache: false });
  });

  test('absent: only installed ones are removed', () => {
    const d = decidePackages(params({ state: 'absent' }), aptProbe({ tree: '2.1.0-1' }, {}));
    expect(d).toEqual({ manager: 'apt', install: [], upgrade: [], remove: ['tree'], updateCache: false });
  });

  test('apt commands: one noninteractive transaction, no recommends, confold; purge on request', () => {
    const cmds = packageCommands(
      { manager: 'apt', install: ['jq'], upgrade: ['tree'], remove: ['nano'], updateCache: true },
      { name: 'x', purge: true },
    );
    expect(cmds).toEqual([
      'export DEBIAN_FRONTEND=noninteractive',
      DPKG_RECOVER,
      `apt-get update -q && mkdir -p /var/lib/apt/periodic && touch '/var/lib/apt/periodic/update-success-stamp'`,
      `apt-get install '-y' '-q' '-o' 'Dpkg::Options::=--force-confdef' '-o' 'Dpkg::Options::=--force-confold' '-o' ` +
        `'DPkg::Lock::Timeout=120' '--no-install-recommends' 'jq' 'tree'`,
      `apt-get purge '-y' '-q' '-o' 'Dpkg::Options::=--force-confdef' '-o' 'Dpkg::Options::=--force-confold' '-o' ` +
        `'DPkg::Lock::Timeout=120' 'nano'`,
    ]);
  });

  test('dnf and yum commands: install, upgrade/update, remove', () => {
    const d = { install: ['jq'], upgrade: ['tree'], remove: ['nano'], updateCache: false };
    expect(packageCommands({ ...d, manager: 'dnf' }, { name: 'x' })).toEqual([
      `dnf install '-y' '--setopt=install_weak_deps=False' 'jq'`,
      `dnf upgrade '-y' '--setopt=install_weak_deps=False' 'tree'`,
      `dnf remove -y 'nano'`,
    ]);
    expect(
      packageCommands({ ...d, manager: 'yum' }, { name: 'x', update_cache: true, install_recommends: true })[1],
    ).toBe(`yum update '-y' '--refresh' 'tree'`);
  });
});

/** A host that answers commands from a script of canned outputs, recording what it was asked. */
function cannedConnection(answers: ((cmd: string) => string | undefined)[]): Connection & { asked: string[] } {
  const asked: string[] = [];
  const ok = (stdout: string): ExecResult => ({
    code: 0,
    stdout: Buffer.from(stdout),
    stderr: Buffer.alloc(0),
    timedOut: false,
  });
  return {
    asked,
    spec: { name: 'canned' } as Connection['spec'],
    open: async () => undefined,
    close: async () => undefined,
    put: async () => undefined,
    get: async () => undefined,
    tunnel: async () => {
      throw new Error('no tunnel here');
    },
    exec: async (cmd: string) => {
      asked.push(cmd);
      for (const a of answers) {
        const out = a(cmd);
        if (out !== undefined) return ok(out);
      }
      throw new Error(`unexpected command: ${cmd}`);
    },
  };
}

/**
 * policy_rc_d's shell, run by a real sh against a temporary file standing in for
 * /usr/sbin/policy-rc.d: what is in place during the transaction and what is left afterwards.
 */
describe('policy_rc_d: policy-rc.d set for the transaction and put back', () => {
  let dir: string;
  let file: string;
  const OPERATORS = "#!/bin/sh\n# the operator's own\nexit 0\n";
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'furrow-policy-'));
    file = path.join(dir, 'policy-rc.d');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  /** Runs restore + setup + `middle` the way apply does; `middle` sees the file as the transaction would. */
  const runScript = (middle: string, tail = 'furrow_policy_restore\ntrap - EXIT HUP INT TERM\n') =>
    spawnSync('sh', ['-c', `${policyRcDRestore(file)}\n${policyRcDSetup(101, file)}\n${middle}\n${tail}`], {
      encoding: 'utf8',
    });

  test("during the transaction it exits 101; afterwards the operator's file is back as it was", () => {
    writeFileSync(file, OPERATORS, { mode: 0o750 });
    const r = runScript(`"${file}" start nginx; echo "during $?"`);
    expect(r.stdout).toBe('during 101\n');
    expect(readFileSync(file, 'utf8')).toBe(OPERATORS);
    expect(statSync(file).mode & 0o777).toBe(0o750);
    expect(readdirSync(dir)).toEqual(['policy-rc.d']);
  });

  test('with none before, none after', () => {
    const r = runScript(`"${file}"; echo "during $?"`);
    expect(r.stdout).toBe('during 101\n');
    expect(readdirSync(dir)).toEqual([]);
  });

  test('a script ended by a signal (the watchdog) still puts it back', () => {
    writeFileSync(file, OPERATORS);
    const r = runScript('kill -TERM $$; sleep 5; echo not reached');
    expect([r.status, r.stdout]).toEqual([143, '']);
    expect(readFileSync(file, 'utf8')).toBe(OPERATORS);
    expect(readdirSync(dir)).toEqual(['policy-rc.d']);
  });

  test(
    "a run killed outright leaves Furrow's file; the next apt transaction's restore puts the operator's " + 'back',
    () => {
      writeFileSync(file, OPERATORS);
      runScript('', 'trap - EXIT HUP INT TERM\n');
      expect(readFileSync(file, 'utf8')).toContain('exit 101');
      expect(readdirSync(dir).sort()).toEqual(['policy-rc.d', 'policy-rc.d.furrow-saved']);
      spawnSync('sh', ['-c', policyRcDRestore(file)]);
      expect(readFileSync(file, 'utf8')).toBe(OPERATORS);
      expect(readdirSync(dir)).toEqual(['policy-rc.d']);
    },
  );

  test("a setup that cannot write its file fails, and the operator's file is back", () => {
    writeFileSync(file, OPERATORS);
    mkdirSync(`${file}.furrow-new`); // the redirect into it fails, as on a full or read-only disk
    const r = runScript('echo not reached');
    expect([r.status, r.stdout]).toEqual([1, '']);
    expect(readFileSync(file, 'utf8')).toBe(OPERATORS);
    expect(readdirSync(dir).sort()).toEqual(['policy-rc.d', 'policy-rc.d.furrow-new']);
  });

  test("restore leaves an operator's policy-rc.d alone, even one that exits 101", () => {
    writeFileSync(file, '#!/bin/sh\nexit 101\n');
    writeFileSync(`${file}.furrow-saved`, OPERATORS);
    spawnSync('sh', ['-c', policyRcDRestore(file)]);
    expect(readFileSync(file, 'utf8')).toBe('#!/bin/sh\nexit 101\n');
  });
});

describe('package module on canned hosts', () => {
  test('dnf: plan from rpm -q, one transaction, versions reported from the same round trip', async () => {
    const conn = cannedConnection([
      (c) =>
        c.includes('dnf install')
          ? 'Installed: jq\n### manager dnf\n### rpm\ntree\t1.8.0-10.el9\njq\t1.6-15.el9\n'
          : undefined,
      (c) =>
        c.includes('rpm -q')
          ? '### manager dnf\n### rpm\ntree\t1.8.0-10.el9\npackage jq is not installed\n'
          : undefined,
    ]);
    const run = await runModule(dnfModule, moduleContext(conn), { name: ['tree', 'jq'] });
    expect(run.changed).toBe(true);
    expect(run.plan.reason).toBe('install jq');
    expect(run.plan.diff).toEqual({ values: [{ key: 'jq', before: 'absent', after: 'latest available' }] });
    expect(run.result?.output?.versions).toEqual({ tree: '1.8.0-10.el9', jq: '1.6-15.el9' });
    expect(conn.asked).toHaveLength(2);
    expect(conn.asked[0]).not.toContain('apt-get');
  });

  test('policy_rc_d: set around the apt transaction only; nothing on dnf (it starts no services)', async () => {
    /** An apt host that installs jq: the probe, then the transaction with its versions after. */
    const aptHost = () =>
      cannedConnection([
        (c) =>
          c.includes('apt-get install')
            ? `### manager apt\n### dpkg\n${DPKG_OUT}jq:amd64\tinstall ok installed\t1.6-2\n`
            : undefined,
        () => `### manager apt\n### dpkg\n${DPKG_OUT}### policy\n${POLICY_OUT}`,
      ]);
    const withPolicy = aptHost();
    const ran = await runModule(packageModule, moduleContext(withPolicy), { name: 'jq', policy_rc_d: 101 });
    expect(ran.result?.output?.versions).toEqual({ jq: '1.6-2' });
    const script = withPolicy.asked[1]!;
    const at = (part: string) => script.indexOf(part);
    expect(at(policyRcDRestore())).toBe(0);
    expect(at(policyRcDRestore())).toBeLessThan(at(policyRcDSetup(101)));
    expect(at(policyRcDSetup(101))).toBeLessThan(at('apt-get install'));
    expect(at('apt-get install')).toBeLessThan(at('rc=$?\nfurrow_policy_restore\ntrap - EXIT HUP INT TERM\n'));
    // Without it, only the restore of a file a cut-off run left.
    const plain = aptHost();
    await runModule(packageModule, moduleContext(plain), { name: 'jq' });
    expect(plain.asked[1]).toContain(policyRcDRestore());
    expect(plain.asked[1]).not.toContain('furrow-saved || exit 1');
    const dnfHost = cannedConnection([
      (c) => (c.includes('dnf install') ? '### manager dnf\n### rpm\njq\t1.6-15.el9\n' : undefined),
      (c) => (c.includes('rpm -q') ? '### manager dnf\n### rpm\npackage jq is not installed\n' : undefined),
    ]);
    await runModule(dnfModule, moduleContext(dnfHost), { name: 'jq', policy_rc_d: 101 });
    expect(dnfHost.asked[1]).not.toContain('policy-rc.d');
  });

  test('apt: nothing to do is one round trip with a reason naming the versions', async () => {
    const conn = cannedConnection([
      () => `### manager apt\n### dpkg\n${DPKG_OUT}### policy\n${POLICY_OUT}### cache\n1700000100\n`,
    ]);
    const run = await runModule(packageModule, moduleContext(conn), { name: 'tree', update_cache: true });
    expect(run).toEqual({
      plan: { action: 'none', reason: 'apt: tree 2.1.0-1', data: expect.anything() },
      result: undefined,
      changed: false,
    });
    expect(conn.asked).toHaveLength(1);
  });

  test('a failed transaction fails the task with the manager output tail', async () => {
    const conn = cannedConnection([() => `### manager apt\n### dpkg\n${DPKG_OUT}### policy\n${POLICY_OUT}`]);
    const fail: Connection = {
      ...conn,
      exec: async (c, o) =>
        c.includes('apt-get install')
          ? {
              code: 100,
              stdout: Buffer.from('E: Unable to locate package jq\n'),
              stderr: Buffer.alloc(0),
              timedOut: false,
            }
          : conn.exec(c, o),
    };
    const run = await runModule(packageModule, moduleContext(fail), { name: 'jq' });
    expect(run.result?.failed).toBe(true);
    expect(run.result?.msg).toBe('canned: apt failed (exit status 100):\nE: Unable to locate package jq');
  });

  test('a probe that printed nothing is an error, not a missing package manager', async () => {
    const conn = cannedConnection([() => '']);
    await expect(runModule(packageModule, moduleContext(conn), { name: 'jq' })).rejects.toThrow(
      'canned: package: probing jq failed (exit status 0)',
    );
  });

  test('no package manager on the host is an error saying which were looked for', async () => {
    const conn = cannedConnection([() => '### manager none\n']);
    await expect(runModule(packageModule, moduleContext(conn), { name: 'jq' })).rejects.toThrow(
      'canned: package: the host has none of apt-get, dnf and yum',
    );
  });
});
