import { readdir, unlink } from 'node:fs/promises';
import path from 'node:path';
import { InputError } from '../engine/errors.js';
import { runTool, type RepoLog } from './tools.js';

/** One package as the controller's apt would download it. */
export interface DebCandidate {
  name: string;
  version: string;
  arch: string;
}

// Only hard dependencies: what `apt-get install --no-install-recommends` on the host will demand.
const CLOSURE_FLAGS = [
  '--recurse',
  '--no-recommends',
  '--no-suggests',
  '--no-conflicts',
  '--no-breaks',
  '--no-replaces',
  '--no-enhances',
];

/**
 * The named packages and everything they need, from `apt-cache depends --recurse`. Its top-level
 * lines are the packages reached; virtual ones are shown as `<name>` and are left out (their real
 * providers are listed too).
 */
export function parseDependsClosure(stdout: string): string[] {
  const names = new Set<string>();
  for (const line of stdout.split('\n')) {
    if (!line || /^\s/.test(line) || line.startsWith('<')) continue;
    names.add(line.trim().replace(/:any$/, ''));
  }
  return [...names].sort();
}

export async function dependencyClosure(packages: string[]): Promise<string[]> {
  const out = await runTool('apt-cache', ['depends', ...CLOSURE_FLAGS, ...packages]);
  const closure = parseDependsClosure(out);
  // apt-cache skips names it does not know (or that are only virtual) without failing.
  const unknown = packages.filter((p) => !closure.includes(p.replace(/:any$/, '')));
  if (unknown.length) throw unknownPackages(unknown);
  return closure;
}

/** Candidate version and architecture of each package, from `apt-cache show --no-all-versions`. */
export function parseCandidates(stdout: string): DebCandidate[] {
  const found: DebCandidate[] = [];
  for (const stanza of stdout.split(/\n\s*\n/)) {
    const field = (key: string) => new RegExp(`^${key}: *(.+)$`, 'm').exec(stanza)?.[1]?.trim();
    const name = field('Package');
    const version = field('Version');
    const arch = field('Architecture');
    if (name && version && arch) found.push({ name, version, arch });
  }
  return found;
}

export async function candidateVersions(names: string[]): Promise<DebCandidate[]> {
  const out = await runTool('apt-cache', ['show', '--no-all-versions', ...names]).catch((err: unknown) => {
    throw unknownPackages(names, err);
  });
  const found = parseCandidates(out);
  const missing = names.filter((n) => !found.some((c) => c.name === n));
  if (missing.length) throw unknownPackages(missing);
  return found;
}

function unknownPackages(names: string[], cause?: unknown): InputError {
  const detail = cause instanceof Error ? ` (${cause.message.split('\n').slice(-1)[0]})` : '';
  return new InputError(
    undefined,
    `the controller's apt knows no package named ${names.join(', ')}${detail}`,
    "check the names; run 'apt-get update' on the controller if its package lists are old or missing",
  );
}

/** The file name `apt-get download` gives a package: the epoch's colon is written %3a. */
export function debFileName(c: DebCandidate): string {
  return `${c.name}_${c.version.replace(/:/g, '%3a')}_${c.arch}.deb`;
}

/**
 * Downloads into `pool` every candidate whose exact file is not there yet (the cache), and removes
 * the pool's other versions of those packages so the index offers one version of each.
 */
export async function downloadMissing(
  pool: string,
  wanted: DebCandidate[],
  log: RepoLog,
): Promise<{ downloaded: string[]; cached: string[] }> {
  const present = new Set(await readdir(pool));
  const missing = wanted.filter((c) => !present.has(debFileName(c)));
  const cached = wanted.filter((c) => present.has(debFileName(c))).map((c) => c.name);
  if (missing.length) {
    log(`downloading ${missing.length} package(s): ${missing.map((c) => c.name).join(' ')}`);
    // Root downloads unsandboxed: the pool need not be readable by the _apt user.
    await runTool(
      'apt-get',
      ['download', '-q', '-o', 'APT::Sandbox::User=root', ...missing.map((c) => `${c.name}=${c.version}`)],
      {
        cwd: pool,
      },
    );
  }
  await removeOtherVersions(pool, wanted, log);
  return { downloaded: missing.map((c) => c.name), cached };
}

async function removeOtherVersions(pool: string, wanted: DebCandidate[], log: RepoLog): Promise<void> {
  const keep = new Set(wanted.map(debFileName));
  const byNameArch = new Set(wanted.map((c) => `${c.name}_${c.arch}`));
  for (const file of await readdir(pool)) {
    const [name, , archDeb] = file.split('_');
    if (!file.endsWith('.deb') || keep.has(file) || !name || !archDeb) continue;
    if (byNameArch.has(`${name}_${archDeb.replace(/\.deb$/, '')}`)) {
      log(`removing superseded ${file}`);
      await unlink(path.join(pool, file));
    }
  }
}
