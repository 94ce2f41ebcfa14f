import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { debFileName, parseCandidates, parseDependsClosure } from '../../../src/repo/deb-download.js';
import { packagesStanza, releaseFile } from '../../../src/repo/deb-index.js';
import { aptSourcesLine, buildDebRepo, serveRepo, type DebRepo, type RepoServer } from '../../../src/repo/index.js';

const run = promisify(execFile);
const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

describe('deb repository pieces on canned text', () => {
  test('the dependency closure keeps real packages and drops virtual ones', () => {
    const out =
      'chrony\n  Depends: adduser\n  Depends: <debconf-2.0>\n    debconf\n    ' +
      'cdebconf\nadduser\ndebconf\ncdebconf\n<debconf-2.0>\n<perl:any>\nperl:any\n';
    expect(parseDependsClosure(out)).toEqual(['adduser', 'cdebconf', 'chrony', 'debconf', 'perl']);
  });

  test('candidates from apt-cache show, and the file name apt-get download gives (epoch as %3a)', () => {
    const show =
      'Package: libcap2\nVersion: 1:2.66-4+deb12u3+b1\nArchitecture: amd64\nFilename: pool/x.deb\n\nPackage: ' +
      'tzdata\nVersion: 2025b-0+deb12u1\nArchitecture: all\n';
    const found = parseCandidates(show);
    expect(found).toEqual([
      { name: 'libcap2', version: '1:2.66-4+deb12u3+b1', arch: 'amd64' },
      { name: 'tzdata', version: '2025b-0+deb12u1', arch: 'all' },
    ]);
    expect(found.map(debFileName)).toEqual([
      'libcap2_1%3a2.66-4+deb12u3+b1_amd64.deb',
      'tzdata_2025b-0+deb12u1_all.deb',
    ]);
  });

  test('a Packages stanza is the control file plus Filename, Size and hashes', () => {
    const data = Buffer.from('not really a deb');
    expect(packagesStanza('Package: x\nVersion: 1\nDescription: d\n more\n', 'pool/x_1_all.deb', data)).toBe(
      `Package: x\nVersion: 1\nDescription: d\n more\nFilename: ` +
        `pool/x_1_all.deb\nSize: 16\nMD5sum: ${createHash('md5').update(data).digest('hex')}\nSHA1: ` +
        `${createHash('sha1').update(data).digest('hex')}\nSHA256: ${sha256(data)}\n`,
    );
  });

  test('Release lists each index file with size and hashes', () => {
    const release = releaseFile(
      [{ name: 'Packages', data: Buffer.from('abc') }],
      new Date(Date.UTC(2025, 0, 2, 3, 4, 5)),
    );
    expect(release).toBe(
      `Origin: furrow\nLabel: furrow\nDate: Thu, 02 Jan 2025 03:04:05 UTC\nMD5Sum:\n ` +
        `900150983cd24fb0d6963f7d28e17f72        3 Packages\nSHA256:\n ${sha256('abc')}        3 Packages\n`,
    );
    expect(aptSourcesLine('http://10.213.7.1:8080')).toBe('deb [trusted=yes] http://10.213.7.1:8080/ ./\n');
  });
});

/** Parses a Packages file into one record per stanza (continuation lines dropped). */
function stanzas(text: string): Record<string, string>[] {
  return text
    .trim()
    .split(/\n\n+/)
    .map((s) =>
      Object.fromEntries(
        s
          .split('\n')
          .filter((l) => /^\S+: /.test(l))
          .map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 2)]),
      ),
    );
}

// Downloads from the controller's own Debian mirror: tree and hello are tiny (libc6 comes along).
describe('buildDebRepo + serveRepo with real packages, on loopback', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'furrow-repo-test-'));
  const logs: string[] = [];
  let repo: DebRepo;
  let server: RepoServer | undefined;

  beforeAll(async () => {
    repo = await buildDebRepo({ packages: ['tree', 'hello'], dir, log: (l) => logs.push(l) });
  }, 300_000);

  afterAll(async () => {
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('the pool holds the packages and their dependencies, and the index describes each file exactly', () => {
    const names = repo.debs.map((d) => d.package);
    expect(names).toEqual(expect.arrayContaining(['tree', 'hello', 'libc6']));
    expect(repo.downloaded.sort()).toEqual([...names].sort());
    const index = stanzas(readFileSync(path.join(dir, 'Packages'), 'utf8'));
    expect(index.map((s) => s.Package)).toEqual(names);
    for (const entry of index) {
      const file = readFileSync(path.join(dir, entry.Filename!));
      expect([entry.Filename, Number(entry.Size), entry.SHA256]).toEqual([entry.Filename, file.length, sha256(file)]);
      expect(entry.Filename).toBe(
        `pool/${entry.Package}_${entry.Version!.replace(/:/g, '%3a')}_${entry.Architecture}.deb`,
      );
    }
    expect(gunzipSync(readFileSync(path.join(dir, 'Packages.gz')))).toEqual(readFileSync(path.join(dir, 'Packages')));
    const release = readFileSync(path.join(dir, 'Release'), 'utf8');
    const packages = readFileSync(path.join(dir, 'Packages'));
    expect(release).toContain(` ${sha256(packages)} ${String(packages.length).padStart(8)} Packages\n`);
  });

  test('a rebuild downloads nothing and leaves the index as it was; a superseded version is dropped', async () => {
    const releaseBefore = statSync(path.join(dir, 'Release')).mtimeMs;
    writeFileSync(path.join(dir, 'pool', 'tree_0.1-1_amd64.deb'), 'old version');
    const again = await buildDebRepo({ packages: ['tree', 'hello'], dir });
    expect(again.downloaded).toEqual([]);
    expect(statSync(path.join(dir, 'Release')).mtimeMs).toBe(releaseBefore);
    expect(() => statSync(path.join(dir, 'pool', 'tree_0.1-1_amd64.deb'))).toThrow(/ENOENT/);
  });

  test('an unknown package is an input error naming it', async () => {
    await expect(buildDebRepo({ packages: ['no-such-package-furrow'], dir })).rejects.toThrow(/no-such-package-furrow/);
  });

  test("the controller's apt accepts the served repository and sees its candidates", async () => {
    server = await serveRepo(dir, { host: '127.0.0.1' });
    const apt = path.join(dir, '.apt-client');
    for (const sub of ['lists/partial', 'cache/archives/partial']) mkdirSync(path.join(apt, sub), { recursive: true });
    writeFileSync(path.join(apt, 'sources.list'), aptSourcesLine(server.url));
    const opts = [
      '-o',
      `Dir::Etc::SourceList=${apt}/sources.list`,
      '-o',
      'Dir::Etc::SourceParts=/nonexistent',
      '-o',
      `Dir::State::Lists=${apt}/lists`,
      '-o',
      `Dir::Cache=${apt}/cache`,
      '-o',
      'APT::Sandbox::User=root',
    ];
    const update = await run('apt-get', [...opts, 'update']);
    expect(update.stderr).not.toMatch(/^(W|E):/m);
    const policy = await run('apt-cache', [...opts, 'policy', 'tree']);
    const tree = repo.debs.find((d) => d.package === 'tree')!;
    expect(policy.stdout).toMatch(
      new RegExp(
        `${tree.version.replace(/[.+]/g, '\\$&')} 500\\n\\s+500 ${server.url.replace(/\/$/, '')} \\./ Packages`,
      ),
    );
  }, 60_000);
});
