/**
 * Kubernetes server binaries for the lab, built from Debian 12's source package `kubernetes`
 * (v1.20.2 with its vendor/ tree): upstream release files cannot be fetched from the machines the
 * lab runs on, Debian's archive can. Built once per machine and kept under the lab's state folder,
 * keyed by the source version:
 *
 *   <root>/kubernetes/<source version>/bin/     the binaries, only ever renamed into place complete
 *   <root>/kubernetes/<source version>/build.json  what was built, when, how long, sha256 of each
 *   <root>/kubernetes/<source version>.work/    a build in progress (removed when a build starts again)
 *   <root>/kubernetes/<source version>.log      the last build's log
 *   <root>/kubernetes/source/<source version>/  Debian's source files (34 MB), kept for a rebuild
 *   <root>/kubernetes/go-cache/                 Go's build cache, kept so a rebuild compiles little
 *
 * A second call finds bin/ and returns at once. An interrupted build leaves only .work/, which the
 * next call removes before it starts again from the source (Go's cache makes that restart fast).
 */
import { spawn } from 'node:child_process';
import {
  closeSync,
  createWriteStream,
  existsSync,
  openSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { chmod, cp, mkdir, readFile, rename, rm, stat, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { LabError } from '../engine/errors.js';
import { LAB_STATE_ROOT } from './rootfs.js';
import { must, run, sha256File } from './system.js';
import { ensureKubeletKernelSettings } from './kernel.js';

/** What make builds: the control plane, the node's two and kubectl. */
export const KUBE_BINARIES = [
  'kube-apiserver',
  'kube-controller-manager',
  'kube-scheduler',
  'kubelet',
  'kube-proxy',
  'kubectl',
] as const;
export type KubeBinary = (typeof KUBE_BINARIES)[number];

/** Debian's source package, and the packages the build needs on this machine. */
const SOURCE_PACKAGE = 'kubernetes';
const BUILD_PACKAGES = ['golang-go', 'rsync', 'make', 'dpkg-dev', 'golang-github-modern-go-reflect2-dev'];

/**
 * Kubernetes 1.20 vendors github.com/modern-go/reflect2 v1.0.1, which Go 1.18 and later break: a
 * kube-apiserver built with Debian's Go (1.19) dies now and then with SIGSEGV in mapiterinit while
 * it encodes JSON (reflect2 issue 23; upstream Kubernetes moved to v1.0.2). The build takes
 * v1.0.2 from Debian's package instead. The name is part of the cache key: binaries built
 * without it are built again.
 */
const VENDOR_REPLACEMENTS = [
  {
    importPath: 'github.com/modern-go/reflect2',
    from: '/usr/share/gocode/src/github.com/modern-go/reflect2',
    version: 'v1.0.2',
  },
];
export const BUILD_RECIPE = VENDOR_REPLACEMENTS.map((r) => `${r.importPath}@${r.version}`).join(' ');

/** The deb-src source Furrow writes when the machine has none for Debian's main archive. */
export const DEB_SRC_FILE = '/etc/apt/sources.list.d/furrow-deb-src.sources';
const DEBIAN_SOURCES = '/etc/apt/sources.list.d/debian.sources';

export const kubernetesRoot = (root = LAB_STATE_ROOT) => path.join(root, 'kubernetes');

export interface KubernetesBuild {
  /** Debian's source version, e.g. 1.20.5+really1.20.2-1.1+deb12u1: the cache key. */
  sourceVersion: string;
  /** What the binaries report, e.g. 1.20.2. */
  version: string;
  /** The folder holding the six binaries. */
  binDir: string;
  binaries: Record<KubeBinary, { path: string; sha256: string; size: number }>;
  /** False: found in the cache. */
  built: boolean;
  /** Seconds the build took (this one, or the one that made the cache). */
  seconds: number;
  /** The vendored packages the build replaced (BUILD_RECIPE). */
  recipe: string;
}

export interface KubernetesOptions {
  log?: (line: string) => void;
  root?: string;
  /** Build again even when the cache has the binaries. */
  rebuild?: boolean;
}

/** The Kubernetes version inside Debian's source version: 1.20.5+really1.20.2-1.1+deb12u1 -> 1.20.2. */
export function kubeVersionOf(sourceVersion: string): string {
  const upstream = sourceVersion.replace(/^\d+:/, '').replace(/-[^-]*$/, '');
  const really = /\+really([0-9.]+)/.exec(upstream);
  return really ? really[1]! : upstream.replace(/[+~].*$/, '');
}

/** The first `Version:` of `apt-cache showsrc` (apt lists the candidate first), or undefined. */
export function parseShowsrcVersion(text: string): string | undefined {
  return /^Version: (\S+)$/m.exec(text)?.[1];
}

/**
 * A deb-src stanza for the main archive of the machine's deb822 sources: the first `Types: deb`
 * stanza whose URI is not a security archive, its first suite, main only, its Signed-By kept.
 */
export function debSrcStanza(debianSources: string): string | undefined {
  for (const block of debianSources.split(/\n\s*\n/)) {
    const field = (k: string) => new RegExp(`^${k}:\\s*(.+)$`, 'mi').exec(block)?.[1]?.trim();
    const types = field('Types')?.split(/\s+/) ?? [];
    const uris = field('URIs')?.split(/\s+/) ?? [];
    const suites = field('Suites')?.split(/\s+/) ?? [];
    if (
      !types.includes('deb') ||
      !uris.length ||
      !suites.length ||
      uris.some((u) => /security/.test(u)) ||
      suites[0]!.includes('security')
    )
      continue;
    const signedBy = field('Signed-By');
    return [
      'Types: deb-src',
      `URIs: ${uris[0]}`,
      `Suites: ${suites[0]}`,
      'Components: main',
      ...(signedBy ? [`Signed-By: ${signedBy}`] : []),
      '',
    ].join('\n');
  }
  return undefined;
}

/** The same from one-line sources (/etc/apt/sources.list): `deb [opts] URI SUITE main`. */
export function debSrcFromList(list: string): string | undefined {
  for (const line of list.split('\n')) {
    const m = /^deb\s+(\[[^\]]*\]\s+)?(\S+)\s+(\S+)\s+.*\bmain\b/.exec(line.trim());
    if (!m || /security/.test(m[2]!) || m[3]!.includes('security')) continue;
    const signedBy = /signed-by=(\S+?)[\s\]]/.exec(m[1] ?? '')?.[1];
    return [
      'Types: deb-src',
      `URIs: ${m[2]}`,
      `Suites: ${m[3]}`,
      'Components: main',
      ...(signedBy ? [`Signed-By: ${signedBy}`] : []),
      '',
    ].join('\n');
  }
  return undefined;
}

const aptEnv = () => ({ ...process.env, DEBIAN_FRONTEND: 'noninteractive' });

async function sourceVersion(): Promise<string | undefined> {
  const r = await run('apt-cache', ['showsrc', SOURCE_PACKAGE]);
  return r.code === 0 ? parseShowsrcVersion(r.stdout) : undefined;
}

/** Makes Debian's source package known to apt: our own deb-src file, then apt-get update. */
async function ensureSourceKnown(log: (line: string) => void): Promise<string> {
  const known = await sourceVersion();
  if (known) return known;
  if (!existsSync(DEB_SRC_FILE)) {
    const stanza =
      (existsSync(DEBIAN_SOURCES) ? debSrcStanza(readFileSync(DEBIAN_SOURCES, 'utf8')) : undefined) ??
      (existsSync('/etc/apt/sources.list') ? debSrcFromList(readFileSync('/etc/apt/sources.list', 'utf8')) : undefined);
    if (!stanza)
      throw new LabError(
        `no Debian archive in ${DEBIAN_SOURCES} or /etc/apt/sources.list to take source packages from: write a ` +
          `deb-src source for Debian's main archive to ${DEB_SRC_FILE}`,
      );
    await writeFile(
      DEB_SRC_FILE,
      `# Written by furrow lab kubernetes: Debian's source packages (Kubernetes is built from one).\n${stanza}`,
    );
    log(`wrote ${DEB_SRC_FILE}`);
  }
  log('apt-get update (to learn the source package)');
  await must('apt-get', ['update', '-qq'], 'step apt-get update', { env: aptEnv() });
  const version = await sourceVersion();
  if (!version)
    throw new LabError(
      `apt knows no source package '${SOURCE_PACKAGE}' after apt-get update: check ${DEB_SRC_FILE} (Types: deb-src, ` +
        `Debian 12's main archive)`,
    );
  return version;
}

async function ensureBuildPackages(log: (line: string) => void): Promise<void> {
  const r = await run('dpkg-query', ['-W', '-f=${Package} ${db:Status-Abbrev}\n', ...BUILD_PACKAGES]);
  const installed = new Set(
    r.stdout
      .split('\n')
      .filter((l) => /\sii\s*$/.test(l))
      .map((l) => l.split(' ')[0]),
  );
  const missing = BUILD_PACKAGES.filter((p) => !installed.has(p));
  if (!missing.length) return;
  log(`installing ${missing.join(' ')} with apt-get`);
  await must(
    'apt-get',
    ['install', '-y', '-qq', '--no-install-recommends', ...missing],
    `step installing ${missing.join(' ')}`,
    {
      env: aptEnv(),
    },
  );
}

/** Reads build.json of a complete cache entry whose binaries are all there, else undefined. */
async function cached(dir: string, sourceVersionKey: string): Promise<KubernetesBuild | undefined> {
  const record = path.join(dir, 'build.json');
  if (!existsSync(record)) return undefined;
  const b = JSON.parse(await readFile(record, 'utf8')) as KubernetesBuild;
  if (
    b.sourceVersion !== sourceVersionKey ||
    b.recipe !== BUILD_RECIPE ||
    !KUBE_BINARIES.every((n) => existsSync(b.binaries[n]?.path ?? ''))
  )
    return undefined;
  return { ...b, built: false };
}

/**
 * The binaries' folder of a complete cached build made with this BUILD_RECIPE, found without
 * asking apt (the tests use it: `furrow lab kubernetes` fills the cache); undefined when none.
 */
export function cachedKubernetesBinDir(root?: string): string | undefined {
  const base = kubernetesRoot(root);
  if (!existsSync(base)) return undefined;
  for (const entry of readdirSync(base).sort().reverse()) {
    const record = path.join(base, entry, 'build.json');
    if (!existsSync(record)) continue;
    const b = JSON.parse(readFileSync(record, 'utf8')) as KubernetesBuild;
    if (b.recipe === BUILD_RECIPE && KUBE_BINARIES.every((n) => existsSync(b.binaries[n]?.path ?? ''))) return b.binDir;
  }
  return undefined;
}

/** One build step: runs with its output appended to the log; a failure names the step and the log. */
function step(
  name: string,
  file: string,
  args: string[],
  o: {
    cwd: string;
    env: NodeJS.ProcessEnv;
    logFile: string;
    log: (line: string) => void;
    progress?: (line: string) => string | undefined;
  },
): Promise<void> {
  return new Promise((resolve, reject) => {
    const out = createWriteStream(o.logFile, { flags: 'a' });
    out.write(`\n### ${new Date().toISOString()} ${name}: ${file} ${args.join(' ')}\n`);
    const child = spawn(file, args, { cwd: o.cwd, env: o.env, stdio: ['ignore', 'pipe', 'pipe'] });
    const started = Date.now();
    let last = '';
    const onData = (d: Buffer) => {
      out.write(d);
      for (const line of d.toString().split('\n')) {
        if (!line.trim()) continue;
        last = line.trim();
        const shown = o.progress?.(last);
        if (shown) o.log(shown);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    // A long step says it is alive, with its last line, every minute.
    const timer = setInterval(
      () =>
        o.log(
          `${name}: ${Math.round((Date.now() - started) / 1000)} s, ` +
            `${last ? `last line: ${last.slice(0, 120)}` : 'no output yet'}`,
        ),
      60_000,
    );
    const fail = (why: string) => {
      clearInterval(timer);
      out.end(() =>
        reject(
          new LabError(
            `building Kubernetes failed at step '${name}' (${why}); its log: ${o.logFile}\n${tailOf(o.logFile)}`,
          ),
        ),
      );
    };
    child.on('error', (err) => fail(err.message));
    child.on('close', (code, signal) => {
      if (code === 0) {
        clearInterval(timer);
        out.end(() => resolve());
      } else fail(signal ? `killed by ${signal}` : `exit status ${code}`);
    });
  });
}

function tailOf(file: string, lines = 15): string {
  try {
    return readFileSync(file, 'utf8')
      .trimEnd()
      .split('\n')
      .slice(-lines)
      .map((l) => `  | ${l}`)
      .join('\n');
  } catch {
    return '';
  }
}

/** make's own headings ("+++ [1204 10:00:00] Building go targets ...") are the build's progress lines. */
function makeProgress(line: string): string | undefined {
  const m = /^\+\+\+ \[[^\]]*\] (.*)$/.exec(line);
  return m ? `make: ${m[1]}` : undefined;
}

/** Only one build at a time per machine: a lock file holding the builder's PID. */
function takeLock(file: string): () => void {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, 'wx');
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      return () => rmSync(file, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const pid = Number(readFileSync(file, 'utf8').trim());
      if (pid && pid !== process.pid && isAlive(pid))
        throw new LabError(
          `another 'furrow lab kubernetes' is building (PID ${pid}; lock ${file}): wait for it, then run this again`,
        );
      // The lock of a builder that is gone (killed): take it over.
      rmSync(file, { force: true });
    }
  }
  throw new LabError(`cannot take the build lock ${file}`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * The Kubernetes binaries for the lab: from the cache when they are there, else built from
 * Debian's source package (apt-get source, Debian's golang-go in GOPATH mode, make), with a
 * progress line per step. Needs root (apt) and about 5 GB free while it builds.
 */
export async function labKubernetes(o: KubernetesOptions = {}): Promise<KubernetesBuild> {
  const log = o.log ?? (() => undefined);
  // The binaries are for the lab's kubelets: the machine's kernel must pass their check.
  for (const change of ensureKubeletKernelSettings()) log(`kernel setting for the lab's kubelets: ${change}`);
  const root = kubernetesRoot(o.root);
  await mkdir(root, { recursive: true });
  const srcVersion = await ensureSourceKnown(log);
  const dir = path.join(root, srcVersion);
  if (!o.rebuild) {
    const hit = await cached(dir, srcVersion);
    if (hit) return hit;
  }
  const release = takeLock(path.join(root, 'build.lock'));
  try {
    return await build(root, srcVersion, log);
  } finally {
    release();
  }
}

async function build(root: string, srcVersion: string, log: (line: string) => void): Promise<KubernetesBuild> {
  const started = Date.now();
  const version = kubeVersionOf(srcVersion);
  const dir = path.join(root, srcVersion);
  const work = `${dir}.work`;
  const logFile = `${dir}.log`;
  const goCache = path.join(root, 'go-cache');
  const home = path.join(root, 'home');
  log(
    `building Kubernetes ${version} from Debian's source package ${SOURCE_PACKAGE} ${srcVersion} (once per machine; ` +
      `about 5 minutes on 2 idle cores with a cold Go cache)`,
  );
  // Whatever an interrupted build left is removed: every build starts from the source.
  await rm(work, { recursive: true, force: true });
  const download = path.join(root, 'source', srcVersion);
  await mkdir(download, { recursive: true });
  await mkdir(goCache, { recursive: true });
  await mkdir(home, { recursive: true });
  await writeFile(logFile, `furrow lab kubernetes: ${srcVersion}, started ${new Date().toISOString()}\n`);
  await ensureBuildPackages(log);

  // apt drops privileges to _apt for downloads: a folder it may write avoids its warning.
  await chmod(download, 0o777);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  log(`apt-get source --download-only ${SOURCE_PACKAGE}=${srcVersion}`);
  await step(
    'download the source',
    'apt-get',
    ['source', '--download-only', '-qq', `${SOURCE_PACKAGE}=${srcVersion}`],
    {
      cwd: download,
      env,
      logFile,
      log,
    },
  );
  const orig = readdirSync(download).find((f) => /\.orig\.tar\.(gz|xz|bz2)$/.test(f));
  if (!orig)
    throw new LabError(
      `building Kubernetes failed at step 'download the source': no ` +
        `.orig.tar.* among ${readdirSync(download).join(', ')}; its log: ${logFile}`,
    );

  const src = path.join(work, 'src');
  await mkdir(src, { recursive: true });
  log(`unpacking ${orig}`);
  await step('unpack the source', 'tar', ['-xf', path.join(download, orig), '-C', src, '--strip-components=1'], {
    cwd: work,
    env,
    logFile,
    log,
  });

  for (const r of VENDOR_REPLACEMENTS) {
    const vendored = path.join(src, 'vendor', r.importPath);
    log(`vendor/${r.importPath}: ${r.version} from ${r.from}`);
    if (!existsSync(r.from))
      throw new LabError(
        `building Kubernetes failed at step 'replace ` +
          `vendored packages': ${r.from} is missing (package golang-github-modern-go-reflect2-dev)`,
      );
    await rm(vendored, { recursive: true, force: true });
    await cp(r.from, vendored, { recursive: true });
  }

  // GOPATH mode, as the package's debian/rules builds it: the tree seen as $GOPATH/src/k8s.io/kubernetes.
  const gopath = path.join(src, '.go');
  await mkdir(path.join(gopath, 'src', 'k8s.io'), { recursive: true });
  await symlink('../../..', path.join(gopath, 'src', 'k8s.io', 'kubernetes'));
  // hack/lib/golang.sh puts Go's cache in _output/local/go/cache: a link to the kept one.
  await mkdir(path.join(src, '_output', 'local', 'go'), { recursive: true });
  await symlink(goCache, path.join(src, '_output', 'local', 'go', 'cache'));
  const buildEnv: NodeJS.ProcessEnv = {
    ...process.env,
    GOPATH: gopath,
    CGO_ENABLED: '0',
    GO111MODULE: 'off',
    GOFLAGS: '',
    HOME: home,
  };
  log('make (code generators first, then the six binaries; progress from make follows)');
  await step('make', 'make', [`WHAT=${KUBE_BINARIES.map((b) => `cmd/${b}`).join(' ')}`], {
    cwd: path.join(gopath, 'src', 'k8s.io', 'kubernetes'),
    env: buildEnv,
    logFile,
    log,
    progress: makeProgress,
  });

  const out = path.join(src, '_output', 'local', 'bin', 'linux', 'amd64');
  const staged = path.join(work, 'bin');
  await mkdir(staged);
  const binaries = {} as KubernetesBuild['binaries'];
  for (const name of KUBE_BINARIES) {
    const file = path.join(out, name);
    if (!existsSync(file))
      throw new LabError(`building Kubernetes failed at step 'make': it wrote no ${file}; its log: ${logFile}`);
    // kubectl has no --version flag: its client version is `kubectl version --client --short`.
    const reported = await run(file, name === 'kubectl' ? ['version', '--client', '--short'] : ['--version']);
    if (!reported.stdout.includes(`v${version}`))
      throw new LabError(
        `building Kubernetes failed at step ` +
          `'check versions': ${name} --version says '${reported.stdout.trim() || reported.stderr.trim()}', expected ` +
          `v${version}; its log: ${logFile}`,
      );
    await rename(file, path.join(staged, name));
    binaries[name] = {
      path: path.join(dir, 'bin', name),
      sha256: await sha256File(path.join(staged, name)),
      size: (await stat(path.join(staged, name))).size,
    };
  }
  const seconds = Math.round((Date.now() - started) / 1000);
  const result: KubernetesBuild = {
    sourceVersion: srcVersion,
    version,
    binDir: path.join(dir, 'bin'),
    binaries,
    built: true,
    seconds,
    recipe: BUILD_RECIPE,
  };
  await writeFile(
    path.join(work, 'build.json'),
    `${JSON.stringify({ ...result, builtAt: new Date().toISOString() }, null, 2)}\n`,
  );
  // Complete: the cache entry appears in one rename. The unpacked tree (about 3 GB with its output)
  // goes; the source tarball (34 MB) and Go's cache stay, so a rebuild unpacks and compiles little.
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir);
  await rename(staged, path.join(dir, 'bin'));
  await rename(path.join(work, 'build.json'), path.join(dir, 'build.json'));
  await rm(work, { recursive: true, force: true });
  log(`built in ${seconds} s: ${path.join(dir, 'bin')}`);
  return result;
}
