import { packagePath } from '../package-root.js';
import type { Command } from 'commander';
import { FurrowError } from '../engine/errors.js';
import { addRunOptions, type RunFlags, runOptionsFromFlags } from './run.js';

/** The manifest that ships with Furrow: the versions it supports. */
export const DEFAULT_MANIFEST = packagePath('bundle', 'manifest.yml');

const log = (line: string) => process.stdout.write(`${line}\n`);
const arches = (value: string) =>
  value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

/** A damaged bundle: exit 1, like a failed host, with every problem listed. */
class DamagedBundle extends FurrowError {
  constructor(message: string) {
    super('module', message);
  }
}

export function registerBundle(program: Command): void {
  const bundle = program
    .command('bundle')
    .description('offline bundles: binaries, images and OS packages in one file, for hosts with no route out');

  bundle
    .command('build')
    .description(
      'fetch and verify everything a manifest lists and write one bundle file (resumes; fetches only what is missing)',
    )
    .option('-m, --manifest <file>', "the bundle manifest (default: Furrow's own, bundle/manifest.yml)")
    .requiredOption('-o, --output <file>', 'the bundle file to write')
    .option('--arch <list>', "architectures, comma separated (default: the manifest's arch:)", arches)
    .addHelpText(
      'after',
      '\nExamples:\n  furrow bundle build -o furrow-k8s.tar\n  furrow bundle build -m site-bundle.yml -o site.tar ' +
        '--arch amd64,arm64\n',
    )
    .action(async (o: { manifest?: string; output: string; arch?: string[] }) => {
      const [{ loadManifest }, { buildBundle }] = await Promise.all([
        import('../bundle/manifest.js'),
        import('../bundle/build.js'),
      ]);
      const manifest = await loadManifest(o.manifest ?? DEFAULT_MANIFEST, o.arch);
      const r = await buildBundle({ manifest, output: o.output, log });
      log(`fetched: ${r.fetched.binaries} binaries, ${r.fetched.blobs} image blobs, ${r.fetched.packages} packages`);
    });

  bundle
    .command('verify')
    .description('re-check the sha256 of every file in a bundle')
    .argument('<file>', 'the bundle file')
    .action(async (file: string) => {
      const { verifyBundle } = await import('../bundle/archive.js');
      const r = await verifyBundle(file);
      if (r.problems.length)
        throw new DamagedBundle(`${file}: ${r.problems.length} problem(s):\n  ${r.problems.join('\n  ')}`);
      log(`${file}: ok, ${r.checked - 1} files match bundle.json`);
    });

  bundle
    .command('ls')
    .description('list what a bundle holds (binaries, images with digests, packages)')
    .argument('<file>', 'the bundle file')
    .option('--json', 'print bundle.json itself')
    .action(async (file: string, o: { json?: boolean }) => {
      const { readBundleIndex, describeBundle } = await import('../bundle/archive.js');
      const index = await readBundleIndex(file);
      log(o.json ? JSON.stringify(index, null, 2) : describeBundle(index).join('\n'));
    });

  addRunOptions(
    bundle
      .command('preload')
      .description(
        'unpack a bundle into a cluster folder and put on each host what it lacks: binaries, the OS package ' +
          'repository, images',
      )
      .argument('<file>', 'the bundle file'),
    'the cluster folder (hosts or inventory.yml, config.yml)',
  )
    .addHelpText(
      'after',
      '\nExamples:\n  furrow bundle preload furrow-k8s.tar -i clusters/prod\n  furrow bundle preload furrow-k8s.tar ' +
        '-i clusters/prod --check\n',
    )
    .action(async (file: string, o: RunFlags) => {
      const [{ preloadCluster }, run] = await Promise.all([import('../cluster/preload.js'), runOptionsFromFlags(o)]);
      process.exitCode = await preloadCluster(file, o.inventory, run, log);
    });
}
