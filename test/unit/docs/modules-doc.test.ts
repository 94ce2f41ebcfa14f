import { readFileSync } from 'node:fs';
import path from 'node:path';
import { renderModulesMarkdown } from '../../../src/cli/module-docs.js';
import { allModuleDocs } from '../../../src/cli/module-catalog.js';
import { moduleNames } from '../../../src/modules/index.js';

/** docs/modules.md is generated: it must be what the generator gives for today's modules. */
describe('docs/modules.md', () => {
  const committed = readFileSync(path.resolve('docs/modules.md'), 'utf8');

  test('is what `furrow modules --markdown` produces now', () => {
    const generated = renderModulesMarkdown(allModuleDocs());
    if (committed !== generated) {
      const a = committed.split('\n');
      const b = generated.split('\n');
      const line = a.findIndex((l, i) => l !== b[i]);
      throw new Error(
        `docs/modules.md is out of date (first ` +
          `difference at line ${line + 1}:\n  committed: ${a[line] ?? '(end of file)'}\n  generated: ` +
          `${b[line] ?? '(end of file)'})\n` +
          'run `node dist/cli/furrow.js modules --markdown > docs/modules.md` and commit it',
      );
    }
  });

  test('has a section for every registered module', () => {
    const sections = [...committed.matchAll(/^## (\S+)$/gm)].map((m) => m[1]);
    expect(sections).toEqual(moduleNames());
  });
});
