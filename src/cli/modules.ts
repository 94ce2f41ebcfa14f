import type { Command } from 'commander';

export function registerModules(program: Command): void {
  program
    .command('modules')
    .description("list the modules, or show one module's parameters (from its schema)")
    .argument('[name]', 'a module name (e.g. copy)')
    .option('--markdown', 'print the reference as Markdown (docs/modules.md)')
    .addHelpText(
      'after',
      '\nExamples:\n  furrow modules\n  furrow modules systemd\n  furrow modules --markdown > docs/modules.md\n',
    )
    .action(async (name: string | undefined, o: { markdown?: boolean }) => {
      // Loaded here, not at start-up: the registry pulls in every module.
      const [{ allModuleDocs, moduleDoc }, { renderModuleList, renderModulesMarkdown, renderModuleText }] =
        await Promise.all([import('./module-catalog.js'), import('./module-docs.js')]);
      const docs = name === undefined ? allModuleDocs() : [moduleDoc(name)];
      if (o.markdown) process.stdout.write(renderModulesMarkdown(docs));
      else process.stdout.write(name === undefined ? renderModuleList(docs) : renderModuleText(docs[0]!));
    });
}
