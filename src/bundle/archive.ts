import { createHash } from 'node:crypto';
import { open, mkdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import * as tar from 'tar';
import { InputError } from '../engine/errors.js';
import { BUNDLE_FORMAT, INDEX_NAME, type BundleIndex } from './format.js';

/**
 * Writes the bundle tar: bundle.json first (so `ls` reads only the start of the file), then every
 * listed file in order. Written beside the output and renamed over it when complete.
 */
export async function writeBundleTar(dir: string, index: BundleIndex, output: string): Promise<void> {
  const tmp = `${output}.tmp-${process.pid}`;
  try {
    await tar.c({ cwd: dir, file: tmp, portable: true, strict: true }, [INDEX_NAME, ...index.files.map((f) => f.path)]);
    await rename(tmp, output);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

/** Unpacks a bundle into dir (created). Paths are kept inside dir (node-tar refuses ../ and absolute names). */
export async function unpackBundle(file: string, dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  await tar.x({ file, cwd: dir, strict: true });
}

function notABundle(file: string, why: string): InputError {
  return new InputError({ file }, `is not a Furrow bundle: ${why}`, "give a file made by 'furrow bundle build'");
}

/** The index (bundle.json) from the first entry of a bundle, reading only the start of the file. */
export async function readBundleIndex(file: string): Promise<BundleIndex> {
  const fh = await open(file).catch((err: NodeJS.ErrnoException) => {
    throw new InputError({ file }, err.code === 'ENOENT' ? 'no such file' : err.message);
  });
  try {
    const head = Buffer.alloc(512);
    await fh.read(head, 0, 512, 0);
    const header = new tar.Header(head);
    if (!header.cksumValid || header.path?.replace(/^\.\//, '') !== INDEX_NAME || !header.size)
      throw notABundle(file, `its first entry is not ${INDEX_NAME}`);
    const body = Buffer.alloc(header.size);
    await fh.read(body, 0, header.size, 512);
    const index = JSON.parse(body.toString('utf8')) as BundleIndex;
    if (index.format !== BUNDLE_FORMAT)
      throw notABundle(file, `format ${JSON.stringify(index.format)}, this Furrow reads ${BUNDLE_FORMAT}`);
    return index;
  } catch (err) {
    if (err instanceof InputError) throw err;
    throw notABundle(file, (err as Error).message);
  } finally {
    await fh.close();
  }
}

export interface VerifyResult {
  index: BundleIndex;
  /** One line per problem, each naming the item: empty when the bundle is intact. */
  problems: string[];
  checked: number;
}

/**
 * Re-checks every file of a bundle against its index, reading the tar once from start to end
 * (nothing is unpacked): each file's sha256 and size, none missing, none extra.
 */
export async function verifyBundle(file: string): Promise<VerifyResult> {
  const index = await readBundleIndex(file);
  const expected = new Map(index.files.map((f) => [f.path, f]));
  const actual = new Map<string, { sha256: string; size: number }>();
  const problems: string[] = [];
  try {
    await tar.t({
      file,
      strict: true,
      onReadEntry: (entry) => {
        const p = entry.path.replace(/^\.\//, '');
        if (entry.type !== 'File' && entry.type !== 'OldFile') {
          entry.resume();
          return;
        }
        const hash = createHash('sha256');
        let size = 0;
        entry.on('data', (chunk: Buffer) => {
          hash.update(chunk);
          size += chunk.length;
        });
        entry.on('end', () => actual.set(p, { sha256: hash.digest('hex'), size }));
      },
    });
  } catch (err) {
    problems.push(`the tar itself is damaged: ${(err as Error).message}`);
  }
  for (const [p, want] of expected) {
    const got = actual.get(p);
    if (!got) problems.push(`${want.item}: ${p} is missing`);
    else if (got.sha256 !== want.sha256 || got.size !== want.size) {
      problems.push(
        `${want.item}: ${p} has sha256 ${got.sha256} (${got.size} bytes), bundle.json says ${want.sha256} ` +
          `(${want.size} bytes)`,
      );
    }
  }
  for (const p of actual.keys())
    if (p !== INDEX_NAME && !expected.has(p)) problems.push(`${p} is in the tar but not in bundle.json`);
  return { index, problems, checked: actual.size };
}

/** A bundle's content as `bundle ls` prints it: one line per item. */
export function describeBundle(
  index: BundleIndex,
  sizes = new Map(index.files.map((f) => [f.path, f.size])),
): string[] {
  const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`;
  const lines = [`${index.name} (${index.format}, built ${index.created}, ${index.arches.join(', ')})`];
  if (index.binaries.length) lines.push('binaries:');
  for (const b of index.binaries) {
    const size = b.files.reduce((n, f) => n + (sizes.get(f) ?? 0), 0);
    lines.push(
      `  ${b.name} ${b.version} ${b.arch}  ${b.files.map((f) => path.basename(f)).join(' ')}  ${mb(size)}  ` +
        `hosts: ${b.hosts}`,
    );
  }
  if (index.images.length) lines.push('images:');
  for (const i of index.images) {
    const size = i.platforms.reduce((n, p) => n + p.size, 0);
    lines.push(
      `  ${i.name}  ${i.digest}  ` +
        `${i.platforms.map((p) => p.arch + (p.variant ? `/${p.variant}` : '')).join(',')}  ${mb(size)}`,
    );
  }
  if (index.packages) {
    const p = index.packages;
    lines.push(
      `packages (${p.family}, ${p.distribution.id} ${p.distribution.versionId} ${p.distribution.codename}, ` +
        `${p.arch}): ${p.packages.length} with dependencies`,
    );
    lines.push(`  requested: ${p.requested.join(' ')}`);
  }
  const total = index.files.reduce((n, f) => n + f.size, 0);
  lines.push(`${index.files.length} files, ${mb(total)}`);
  return lines;
}
