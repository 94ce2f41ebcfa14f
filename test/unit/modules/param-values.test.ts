import { validatorFor } from '../../../src/engine/validators.js';
import { parseYaml } from '../../../src/engine/yaml.js';
import { flagSchema, toFlag } from '../../../src/modules/support/param-values.js';

/**
 * One yes/no dialect: a module's yes/no param given as text (quoted, key=value words, a rendered
 * template) means exactly what the same word means unquoted in the playbook's YAML.
 */
const WORDS = [
  'yes',
  'Yes',
  'YES',
  'yEs',
  'y',
  'Y',
  'no',
  'No',
  'NO',
  'n',
  'N',
  'true',
  'True',
  'TRUE',
  'tRUE',
  'false',
  'False',
  'FALSE',
  'on',
  'On',
  'ON',
  'oN',
  'off',
  'Off',
  'OFF',
  '1',
  '0',
  't',
  'f',
  'enabled',
  'none',
];

const asYaml = (word: string): unknown => (parseYaml(`v: ${word}`).toJS() as { v: unknown }).v;
const asFlag = (word: unknown): boolean | 'error' => {
  try {
    return toFlag(word, 'copy', 'force')!;
  } catch {
    return 'error';
  }
};

describe('yes/no params', () => {
  test('accept exactly the YAML 1.1 words, in their three cases, and booleans', () => {
    expect(WORDS.filter((w) => asFlag(w) === true)).toEqual([
      'yes',
      'Yes',
      'YES',
      'true',
      'True',
      'TRUE',
      'on',
      'On',
      'ON',
    ]);
    expect(WORDS.filter((w) => asFlag(w) === false)).toEqual([
      'no',
      'No',
      'NO',
      'false',
      'False',
      'FALSE',
      'off',
      'Off',
      'OFF',
    ]);
    expect([true, false, 1, 0, null, undefined].map(asFlag)).toEqual([
      true,
      false,
      'error',
      'error',
      undefined,
      undefined,
    ]);
    expect(toFlag(undefined, 'copy', 'force', true)).toBe(true);
    expect(toFlag('no', 'copy', 'force', true)).toBe(false);
  });

  test('a word means what the playbook YAML reader makes of it', () => {
    for (const word of WORDS) {
      const yaml = asYaml(word);
      expect([word, asFlag(word)]).toEqual([word, typeof yaml === 'boolean' ? yaml : 'error']);
    }
  });

  test('the schema lets through, at load, exactly the words the module then reads', () => {
    const validate = validatorFor('params-strict', 'param-values-test', {
      type: 'object',
      properties: { force: flagSchema },
    });
    for (const word of WORDS) expect([word, validate({ force: word })]).toEqual([word, asFlag(word) !== 'error']);
  });

  test('a wrong word names the module, the param and what to write', () => {
    expect(() => toFlag('y', 'copy', 'force')).toThrow(
      /copy: force is "y", not a boolean[\s\S]*write force: true or force: false/,
    );
  });
});
