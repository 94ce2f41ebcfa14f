import { Ajv } from 'ajv';
import { findModule, moduleNames } from '../../../src/modules/index.js';

// The engine compiles module schemas without checking them against the meta-schema (that cost
// every run tens of milliseconds): this is where a broken schema is caught instead.
describe('module schemas', () => {
  const ajv = new Ajv({ strict: false, allowUnionTypes: true });

  test('the registry has the file modules the benchmark uses', () => {
    expect(moduleNames()).toEqual(expect.arrayContaining(['file', 'copy', 'lineinfile', 'shell', 'command']));
  });

  test.each(moduleNames())('%s: a valid JSON Schema that compiles', (name) => {
    const schema = findModule(name)!.schema as object;
    expect([name, ajv.validateSchema(schema), ajv.errors ?? null]).toEqual([name, true, null]);
    expect(typeof ajv.compile(schema)).toBe('function');
  });

  test('a broken schema is what this test catches', () => {
    expect(ajv.validateSchema({ type: 'object', properties: { mode: { type: 'strung' } } })).toBe(false);
  });
});
