import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import {
  isPrecompiled,
  precompileTemplate,
  renderTemplate,
  renderTemplateValue,
  templateCompilerStamp,
} from '../../../src/engine/template.js';
import { packagePath } from '../../../src/package-root.js';

/**
 * The roles' templates are compiled by the build (dist/templates.cjs) and taken from there by
 * their text; what they render must be what compiling them now renders. Needs `npm run build`
 * (npm test runs it), not tsc alone.
 */
const table = createRequire(import.meta.url)(packagePath('dist', 'templates.cjs')) as {
  stamp: string;
  templates: Record<string, { names: string[]; required: string[]; render: unknown; single: unknown | null }>;
};
const texts = Object.keys(table.templates);
/** The same text, but not the table's: an empty comment at its end changes nothing it renders. */
const fresh = (text: string) => `${text}{{!}}`;
const outcome = (render: () => unknown) => {
  try {
    return { value: render() };
  } catch (err) {
    return { error: (err as Error).message };
  }
};
const source = { file: 'roles/x/tasks/main.yml', line: 3 };

test('the table was built by this compiler, from the roles: every template file and YAML text', () => {
  expect(table.stamp).toBe(templateCompilerStamp());
  expect(texts.length).toBeGreaterThan(200);
  expect(isPrecompiled(readFileSync(packagePath('roles', 'etcd', 'templates', 'etcd.service.hbs'), 'utf8'))).toBe(true);
  expect(isPrecompiled('{{ inventory_hostname }}')).toBe(true);
  expect(isPrecompiled(fresh('{{ inventory_hostname }}'))).toBe(false);
  expect(isPrecompiled('constructor')).toBe(false);
});

test('each entry is what compiling its text now gives: names, required names and code', () => {
  for (const text of texts) {
    const now = precompileTemplate(text)!;
    const built = table.templates[text]!;
    expect([built.names, built.required]).toEqual([now.names, now.required]);
    const code = (spec: unknown) => String((spec as { main: unknown }).main);
    expect(code(built.render)).toBe(code(new Function(`return ${now.render}`)()));
    expect(built.single === null ? null : code(built.single)).toBe(
      now.single === null ? null : code(new Function(`return ${now.single}`)()),
    );
  }
});

test('each renders as the same text compiled now: output, or the same error', () => {
  const vars = { inventory_hostname: 'h1', groups: { kube_master: ['h1'], etcd: ['h1', 'h2'] }, n: 3 };
  for (const text of texts) {
    expect([text, outcome(() => renderTemplate(text, vars, source))]).toEqual([
      text,
      outcome(() => renderTemplate(fresh(text), vars, source)),
    ]);
  }
  expect(renderTemplateValue('{{ groups.etcd }}', vars, source)).toEqual(['h1', 'h2']);
});
