import type { Command } from 'commander';
import { addRunOptions, type RunFlags, runOptionsFromFlags } from './run.js';

/** `furrow deploy STEP -i DIR` with the shared run flags; the exit code of the run. */
export async function deploy(stepArg: string, o: RunFlags): Promise<number> {
  const [{ deployCluster }, run] = await Promise.all([import('../cluster/deploy.js'), runOptionsFromFlags(o)]);
  return deployCluster(o.inventory, stepArg, run);
}

export function registerDeploy(program: Command): void {
  addRunOptions(
    program
      .command('deploy')
      .description('deploy one step of a cluster (prepare, etcd, ...; 01..07), or all of them as one run')
      .argument('<step>', 'a step name or number, or all (90)'),
    'the cluster folder (hosts or inventory.yml, config.yml, pki/, bin/, repo/)',
  )
    .addHelpText('after', '\nExamples:\n  furrow deploy all -i clusters/prod\n  furrow deploy etcd -i clusters/prod --check --diff\n  furrow deploy 01 -i clusters/prod -l h3\n')
    .action(async (stepArg: string, o: RunFlags) => {
      process.exitCode = await deploy(stepArg, o);
    });

  program
    .command('new')
    .description('create a cluster folder from the examples (or from a running lab)')
    .argument('<dir>', 'the folder to create')
    .option('--from-lab [name]', "use a lab's inventory (default lab: 'default') and lab settings")
    .action(async (dir: string, o: { fromLab?: string | boolean }) => {
      const { newCluster } = await import('../cluster/new.js');
      const next = newCluster(dir, { cwd: process.cwd(), ...(o.fromLab ? { fromLab: o.fromLab === true ? 'default' : o.fromLab } : {}) });
      process.stdout.write(`created ${dir}: ${next}\n`);
    });
}
