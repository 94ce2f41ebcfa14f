import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Ajv } from 'ajv';
import { parse } from 'yaml';
import { TASK_KEYWORD_NAMES } from '../../../src/engine/playbook/keywords.js';
import { ACTION_KEYS, playbookSchemaText } from '../../../src/engine/playbook/playbook-schema.js';

const schema = JSON.parse(readFileSync(path.resolve('schemas/playbook.schema.json'), 'utf8'));
const fixture = (name: string) =>
  parse(readFileSync(path.resolve('test/fixtures/playbook', name), 'utf8'), { version: '1.1' });

describe('schemas/playbook.schema.json', () => {
  test('is a valid draft-07 schema with an $id editors can refer to', () => {
    const ajv = new Ajv({ allowUnionTypes: true });
    expect(schema.$schema).toBe('http://json-schema.org/draft-07/schema#');
    expect(schema.$id).toBe('https://furrow.dev/schemas/playbook.schema.json');
    expect(ajv.validateSchema(schema)).toBe(true);
  });

  test('accepts the example playbooks and task files as they are', () => {
    const ajv = new Ajv({ allowUnionTypes: true, allErrors: true });
    ajv.addSchema(schema);
    const playbook = ajv.getSchema(schema.$id)!;
    const taskList = ajv.getSchema(`${schema.$id}#/definitions/taskList`)!;
    for (const name of [
      'full/site.yml',
      'full/other.yml',
      'expand/site.yml',
      'search/play/site.yml',
      'free-form.yml',
    ]) {
      expect([name, playbook(fixture(name)), playbook.errors]).toEqual([name, true, null]);
    }
    expect(taskList(fixture('expand/roles/svc/tasks/install.yaml'))).toBe(true);
    expect(playbook([{ hosts: 'all', serial: '30x' }])).toBe(false);
  });

  test('names the same task keys the loader knows', () => {
    expect(Object.keys(schema.definitions.task.properties).sort()).toEqual(
      [...TASK_KEYWORD_NAMES, ...ACTION_KEYS].sort(),
    );
  });

  test('is the schema the keyword table produces (run `npm run schema` after changing keywords.ts)', () => {
    expect(readFileSync(path.resolve('schemas/playbook.schema.json'), 'utf8')).toBe(playbookSchemaText());
  });
});
