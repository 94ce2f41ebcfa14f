import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Ajv } from 'ajv';
import { exitCodeFor, InputError } from '../../../src/engine/errors.js';
import { loadPlaybook } from '../../../src/engine/playbook/index.js';
import { findModule, moduleNames, modules } from '../../../src/modules/index.js';

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
});

/** Modules whose params are free names by design (the variables to set). */
const TAKES_ANY_KEY = ['set_fact'];

describe('a misspelt param is bad input at load, for every module', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'furrow-module-params-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  async function load(module: string): Promise<unknown> {
    const file = path.join(dir, `${module}.yml`);
    writeFileSync(file, `- hosts: all\n  tasks:\n    - name: misspelt\n      ${module}: {furrow_misspelt: 1}\n`);
    return loadPlaybook(file, { modules }).then(
      () => 'loaded',
      (err: unknown) => err,
    );
  }

  test.each(moduleNames().filter((n) => !TAKES_ANY_KEY.includes(n)))(
    '%s: exit 2, naming file, line and the param',
    async (name) => {
      const error = await load(name);
      expect(error).toBeInstanceOf(InputError);
      expect(exitCodeFor(error)).toBe(2);
      expect((error as Error).message).toContain(`${path.join(dir, `${name}.yml`)}:4:`);
      expect((error as Error).message).toMatch(new RegExp(`${name}: .*'furrow_misspelt'`));
    },
  );

  test.each(TAKES_ANY_KEY)('%s takes any name', async (name) => {
    expect(await load(name)).toBe('loaded');
  });
});
