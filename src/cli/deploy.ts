import type { Command } from 'commander';
import { InputError } from '../engine/errors.js';
import { stepTable } from '../cluster/steps.js';
import { PACKAGE_PLAYBOOKS } from '../cluster/run.js';
import { addListOptions, addRunOptions, listModeOf, type RunFlags, runOptionsFromFlags } from './run.js';

/** `furrow deploy STEP -i DIR` with the shared run flags; the exit code of the run. */
export async function deploy(stepArg: string, o: RunFlags): Promise<number> {
  const [{ deployCluster }, run] = await Promise.all([import('../cluster/deploy.js'), runOptionsFromFlags(o)]);
  const listing = listModeOf(o);
  return deployCluster(
    o.inventory,
    stepArg,
    run,
    listing ? { mode: listing, print: (text) => process.stdout.write(text) } : undefined,
  );
}

const indent = (text: string) => text.replace(/^(?=.)/gm, '  ');

export function registerDeploy(program: Command): void {
  // -i is not mandatory to commander so that `deploy --list` needs no cluster; the action asks for it.
  addRunOptions(
    addListOptions(program.command('deploy'))
      .description('deploy one step of a cluster (prepare, etcd, ...; 01..07), or all of them as one run')
      .argument('[step]', 'a step name or number, a comma-separated list of them, or all (90)')
      .option('--list', 'list the steps (number, name, what it does, whether it exists yet) and exit'),
    'the cluster folder (hosts or inventory.yml, config.yml, pki/, bin/, repo/)',
    false,
  )
    .addHelpText(
      'after',
      () =>
        `\nSteps:\n${indent(stepTable(PACKAGE_PLAYBOOKS))}\nExamples:\n  furrow deploy all -i clusters/prod\n  ` +
        `furrow deploy etcd -i clusters/prod --check --diff\n  furrow deploy 01 -i clusters/prod -l h3\n`,
    )
    .action(async (stepArg: string | undefined, o: Partial<RunFlags> & { list?: boolean }) => {
      if (o.list) {
        process.stdout.write(stepTable(PACKAGE_PLAYBOOKS));
        return;
      }
      if (stepArg === undefined)
        throw new InputError(
          undefined,
          'deploy needs a step',
          `name one of these (or all):\n${indent(stepTable(PACKAGE_PLAYBOOKS))}`,
        );
      if (o.inventory === undefined)
        throw new InputError(
          undefined,
          "deploy needs the cluster folder: required option '-i, --inventory <path>' not specified",
          `furrow deploy ${stepArg} -i clusters/NAME`,
        );
      process.exitCode = await deploy(stepArg, { ...o, inventory: o.inventory });
    });

  program
    .command('new')
    .description('create a cluster folder from the examples (or from a running lab)')
    .argument('<dir>', 'the folder to create')
    .option(
      '--from-lab [name]',
      "use a lab's inventory (default lab: 'default') and lab settings, and preload the lab's bundle (furrow lab " +
        'kubernetes) when it is built',
    )
    .option('--no-bundle', 'with --from-lab: do not preload the lab bundle (bring your own bin/, repo/ or bundle)')
    .action(async (dir: string, o: { fromLab?: string | boolean; bundle: boolean }) => {
      const { newCluster } = await import('../cluster/new.js');
      const next = newCluster(dir, {
        cwd: process.cwd(),
        ...(o.fromLab ? { fromLab: o.fromLab === true ? 'default' : o.fromLab } : {}),
      });
      if (o.fromLab && o.bundle) {
        const [{ labBundleFile }, { existsSync }] = await Promise.all([
          import('../lab/lab-bundle.js'),
          import('node:fs'),
        ]);
        const file = labBundleFile();
        if (!existsSync(file)) {
          process.stdout.write(
            `created ${dir}; the lab bundle (Kubernetes binaries, etcd, containerd, images, OS packages) is not ` +
              `built yet:\n  furrow lab kubernetes && furrow ` +
              `bundle preload ${file} -i ${dir}\nthen: furrow deploy all -i ${dir}\n`,
          );
          return;
        }
        // The lab's hosts get their binaries, packages and images the way an offline site's do.
        process.stdout.write(`created ${dir}; preloading the lab bundle: furrow bundle preload ${file} -i ${dir}\n`);
        const [{ preloadCluster }, { runOptionsFromFlags }] = await Promise.all([
          import('../cluster/preload.js'),
          import('./run.js'),
        ]);
        process.exitCode = await preloadCluster(file, dir, await runOptionsFromFlags({ inventory: dir }), (line) =>
          process.stdout.write(`${line}\n`),
        );
        if (process.exitCode) return;
        process.stdout.write(`then: furrow deploy all -i ${dir}\n`);
        return;
      }
      process.stdout.write(`created ${dir}: ${next}\n`);
    });
}
