import { createRequire } from 'node:module';
import path from 'node:path';
import { validatorFor } from '../../../src/engine/validators.js';
import { findModule } from '../../../src/modules/index.js';

const precompiled = (set: string) =>
  createRequire(import.meta.url)(path.resolve('dist/schemas', `${set}.cjs`)) as Record<string, unknown>;

describe('validators compiled ahead of time', () => {
  test("the build's validator is used while the schema is the one it was made from", () => {
    const copy = findModule('copy')!;
    const validate = validatorFor('params-strict', 'copy', copy.schema);
    expect(validate).toBe(precompiled('params-strict').copy);
    expect(validate({ dest: '/x', content: 'a' })).toBe(true);
    expect(validate({ dest: 3 })).toBe(false);
  });

  test(
    'a schema that differs from the one compiled at build time is compiled now, and checked ' + 'by its own rules',
    () => {
      const changed = {
        type: 'object',
        required: ['only'],
        properties: { only: { type: 'string' } },
        additionalProperties: false,
      };
      const validate = validatorFor('params-strict', 'copy', changed);
      expect(validate).not.toBe(precompiled('params-strict').copy);
      expect(validate({ only: 'x' })).toBe(true);
      expect(validate({ dest: '/x' })).toBe(false);
      expect(validate.errors?.map((e) => e.keyword).sort()).toEqual(['additionalProperties', 'required']);
    },
  );
});
