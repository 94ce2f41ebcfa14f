import type { Command } from 'commander';
import { InputError } from '../engine/errors.js';
import { didYouMean } from '../engine/playbook/problems.js';
import { findModule, moduleNames } from '../modules/index.js';
import { describeModule, type ModuleDoc, renderModuleList, renderModulesMarkdown, renderModuleText } from './module-docs.js';
import { MODULE_SUMMARIES } from './module-summaries.js';

/** One module's reference, from the registry; an unknown name is bad input (exit 2). */
export function moduleDoc(name: string): ModuleDoc {
  const module = findModule(name);
  if (!module) {
    throw new InputError(undefined, `no module named '${name}'`, didYouMean(name, moduleNames()) ?? "'furrow modules' lists them all");
  }
  const summary = MODULE_SUMMARIES[name];
  return describeModule({ ...module, ...(summary ? { summary } : {}) });
}

/** Every registered module's reference, by name. */
export function allModuleDocs(): ModuleDoc[] {
  return moduleNames().map(moduleDoc);
}

export function registerModules(program: Command): void {
  program
    .command('modules')
    .description("list the modules, or show one module's parameters (from its schema)")
    .argument('[name]', 'a module name (e.g. copy)')
    .option('--markdown', 'print the reference as Markdown (docs/modules.md)')
    .addHelpText('after', '\nExamples:\n  furrow modules\n  furrow modules systemd\n  furrow modules --markdown > docs/modules.md\n')
    .action((name: string | undefined, o: { markdown?: boolean }) => {
      const docs = name === undefined ? allModuleDocs() : [moduleDoc(name)];
      if (o.markdown) process.stdout.write(renderModulesMarkdown(docs));
      else process.stdout.write(name === undefined ? renderModuleList(docs) : renderModuleText(docs[0]!));
    });
}
