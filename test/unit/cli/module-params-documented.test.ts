/**
 * Issue 16 #11: `furrow modules NAME` shows each parameter's description, default and an example,
 * all from the module's JSON Schema. Every shipped module's every parameter (nested ones too) has a
 * description and an example, and each example and default is a value the schema accepts: a
 * wrong example fails here, not in a user's playbook.
 */
import { Ajv } from 'ajv';
import { allModuleDocs } from '../../../src/cli/module-catalog.js';
import { renderModuleText } from '../../../src/cli/module-docs.js';
import { modules } from '../../../src/modules/index.js';

type Schema = Record<string, unknown>;
const ajv = new Ajv({ allowUnionTypes: true, strict: false });

/** Each property schema of a module's schema, dotted below mappings, as the reference lists them. */
function propertySchemas(schema: Schema, prefix = ''): [string, Schema][] {
  const properties = (schema.properties ?? {}) as Record<string, Schema>;
  return Object.entries(properties).flatMap(([key, prop]) => [
    [prefix + key, prop] as [string, Schema],
    ...(prop.properties ? propertySchemas(prop, `${prefix}${key}.`) : []),
  ]);
}

const shipped = modules.moduleNames().map((name) => modules.findModule(name)!);
const params = shipped.flatMap((m) =>
  propertySchemas(m.schema as Schema).map(([param, schema]) => ({ where: `${m.name}.${param}`, schema })),
);

test('the shipped modules have parameters to check', () => {
  expect(params.length).toBeGreaterThan(200);
});

test('every parameter of every module has a description and at least one example', () => {
  // The schema's own description: a param's notes also hold constraints ("at least 1"), which are no description.
  const lacking = params.flatMap(({ where, schema }) => {
    const described = typeof schema.description === 'string' && schema.description.trim() !== '';
    const exemplified = Array.isArray(schema.examples) && schema.examples.length > 0;
    return described && exemplified
      ? []
      : [`${where}: ${described ? '' : 'no description '}${exemplified ? '' : 'no example'}`.trim()];
  });
  expect(lacking).toEqual([]);
  // The reference shows what the schemas hold.
  expect(
    allModuleDocs().flatMap((doc) => doc.params.filter((p) => !p.examples.length).map((p) => `${doc.name}.${p.name}`)),
  ).toEqual([]);
});

test("every example and every default is a value the parameter's own schema accepts", () => {
  const rejected: string[] = [];
  for (const { where, schema } of params) {
    const { examples, default: fallback, description: _d, ...rules } = schema;
    const validate = ajv.compile(rules);
    for (const value of [
      ...((examples as unknown[] | undefined) ?? []),
      ...(fallback !== undefined ? [fallback] : []),
    ]) {
      if (!validate(value)) rejected.push(`${where}: ${JSON.stringify(value)} (${ajv.errorsText(validate.errors)})`);
    }
  }
  expect(rejected).toEqual([]);
});

test('furrow modules copy: each parameter with its description, default and example', () => {
  const text = renderModuleText(allModuleDocs().find((d) => d.name === 'copy')!);
  expect(text).toContain(
    [
      '  force',
      '    Replace a file whose content differs; false only creates a missing file.',
      '    type: boolean',
      '    default: true',
      '    example: false',
    ].join('\n'),
  );
  expect(text).toMatch(
    / {2}dest \(required\)\n {4}Where the file goes on the host; .*\n {4}type: string\n {4}example: /,
  );
  expect(text).toMatch(/\n {4}example: \/opt\/kube\/bin\/etcd\n {4}example: \/etc\/containerd\/\n/);
  expect(text).toMatch(
    / {2}mode\n {4}permissions: octal .*\n {4}type: string \| integer\n {4}example: 0644\n {4}example: u\+x\n/,
  );
});
