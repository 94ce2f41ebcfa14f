import { mkdir, readdir, unlink } from 'node:fs/promises';
import path from 'node:path';
import { candidateVersions, debFileName, dependencyClosure, downloadMissing } from './deb-download.js';
import { writeRepoIndex, type IndexedDeb } from './deb-index.js';
import type { RepoLog } from './tools.js';

export interface BuildDebRepoOptions {
  /** Packages the hosts will install; their hard dependencies are added. */
  packages: string[];
  /** The repository folder: pool/ holds the .deb files, the index sits at the top. */
  dir: string;
  log?: RepoLog;
  /** Remove pool files that are not in this build's closure (a bundle carries exactly what it lists). */
  prune?: boolean;
}

export interface DebRepo {
  dir: string;
  /** Every package in the index (the named ones and their dependencies). */
  debs: IndexedDeb[];
  /** Names downloaded by this build; the others were already in the pool at the right version. */
  downloaded: string[];
  /** The line for /etc/apt/sources.list.d/furrow.list on a host, given the URL the repo is served at. */
  sourcesLine(url: string): string;
}

/**
 * Builds a flat, unsigned Debian repository on the controller from its own apt: the named packages
 * and their dependency closure (Depends and Pre-Depends, no Recommends), downloaded with
 * `apt-get download` unless already in the pool at the candidate version. Hosts with no route out
 * install from it once it is served on an address they reach (serveRepo).
 */
export async function buildDebRepo(opts: BuildDebRepoOptions): Promise<DebRepo> {
  const log = opts.log ?? (() => undefined);
  const dir = path.resolve(opts.dir);
  const pool = path.join(dir, 'pool');
  await mkdir(pool, { recursive: true });
  const closure = await dependencyClosure(opts.packages);
  log(`${opts.packages.join(' ')}: ${closure.length} package(s) with dependencies`);
  const wanted = await candidateVersions(closure);
  const { downloaded, cached } = await downloadMissing(pool, wanted, log);
  if (cached.length) log(`${cached.length} package(s) already in the pool`);
  if (opts.prune) {
    const keep = new Set(wanted.map(debFileName));
    for (const file of await readdir(pool))
      if (file.endsWith('.deb') && !keep.has(file)) await unlink(path.join(pool, file));
  }
  const { debs, changed } = await writeRepoIndex(dir);
  log(changed ? `index written: ${debs.length} package(s)` : 'index unchanged');
  return { dir, debs, downloaded, sourcesLine: aptSourcesLine };
}

/** Unsigned flat repository: `trusted=yes` because the controller serves it on the lab's own network. */
export function aptSourcesLine(url: string): string {
  return `deb [trusted=yes] ${url.endsWith('/') ? url : `${url}/`} ./\n`;
}
