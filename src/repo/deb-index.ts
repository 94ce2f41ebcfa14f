import { createHash } from 'node:crypto';
import { readFile, readdir, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { runTool } from './tools.js';

/**
 * The index of a flat Debian repository (`deb [trusted=yes] URL ./`): `Packages` lists every .deb
 * of pool/ with its control fields plus Filename, Size and hashes; `Packages.gz` is the same,
 * compressed; `Release` lists both with their sizes and hashes. Written here from `dpkg-deb
 * --field`, so the controller needs nothing beyond dpkg.
 */

export interface IndexedDeb {
  /** Relative to the repository root, as apt fetches it: pool/NAME_VERSION_ARCH.deb. */
  filename: string;
  package: string;
  version: string;
  size: number;
  sha256: string;
}

function digest(algorithm: string, data: Buffer): string {
  return createHash(algorithm).update(data).digest('hex');
}

/** One Packages stanza: the control file as dpkg-deb prints it, then where and what the file is. */
export function packagesStanza(control: string, filename: string, data: Buffer): string {
  const lines = control.replace(/\s+$/, '').split('\n');
  lines.push(
    `Filename: ${filename}`,
    `Size: ${data.length}`,
    `MD5sum: ${digest('md5', data)}`,
    `SHA1: ${digest('sha1', data)}`,
    `SHA256: ${digest('sha256', data)}`,
  );
  return `${lines.join('\n')}\n`;
}

async function stanzaFor(dir: string, filename: string): Promise<{ stanza: string; deb: IndexedDeb }> {
  const file = path.join(dir, filename);
  const [control, data] = await Promise.all([runTool('dpkg-deb', ['--field', file]), readFile(file)]);
  const field = (key: string) => new RegExp(`^${key}: *(.+)$`, 'm').exec(control)?.[1]?.trim() ?? '';
  return {
    stanza: packagesStanza(control, filename, data),
    deb: {
      filename,
      package: field('Package'),
      version: field('Version'),
      size: data.length,
      sha256: digest('sha256', data),
    },
  };
}

export function releaseFile(files: { name: string; data: Buffer }[], date: Date): string {
  const list = (algorithm: string) =>
    files.map((f) => ` ${digest(algorithm, f.data)} ${String(f.data.length).padStart(8)} ${f.name}`).join('\n');
  return [
    'Origin: furrow',
    'Label: furrow',
    `Date: ${date.toUTCString().replace('GMT', 'UTC')}`,
    `MD5Sum:\n${list('md5')}`,
    `SHA256:\n${list('sha256')}`,
    '',
  ].join('\n');
}

async function writeAtomic(file: string, data: string | Buffer): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}`;
  await writeFile(tmp, data);
  await rename(tmp, file);
}

/**
 * Writes Packages, Packages.gz and Release for dir/pool/*.deb. When Packages would be unchanged
 * nothing is rewritten, so a rebuild of the same pool leaves the repository byte for byte as it was.
 */
export async function writeRepoIndex(dir: string): Promise<{ debs: IndexedDeb[]; changed: boolean }> {
  const names = (await readdir(path.join(dir, 'pool'))).filter((f) => f.endsWith('.deb')).sort();
  const entries: Awaited<ReturnType<typeof stanzaFor>>[] = [];
  // A few at a time: a bundle's pool holds hundreds of packages, some of them large.
  for (let i = 0; i < names.length; i += 8) {
    entries.push(...(await Promise.all(names.slice(i, i + 8).map((n) => stanzaFor(dir, `pool/${n}`)))));
  }
  const packages = Buffer.from(entries.map((e) => e.stanza).join('\n'));
  const old = await readFile(path.join(dir, 'Packages')).catch(() => undefined);
  const debs = entries.map((e) => e.deb);
  if (old?.equals(packages)) return { debs, changed: false };
  const gz = gzipSync(packages, { level: 9 });
  await writeAtomic(path.join(dir, 'Packages'), packages);
  await writeAtomic(path.join(dir, 'Packages.gz'), gz);
  const release = releaseFile(
    [
      { name: 'Packages', data: packages },
      { name: 'Packages.gz', data: gz },
    ],
    new Date(),
  );
  await writeAtomic(path.join(dir, 'Release'), release);
  return { debs, changed: true };
}
