import {
  describeModule,
  describeType,
  renderModuleList,
  renderModulesMarkdown,
  renderModuleText,
} from '../../../src/cli/module-docs.js';

const yesNo = { anyOf: [{ type: 'boolean' }, { type: 'string', enum: ['yes', 'no', 'True', 'False', 'on', 'off'] }] };

describe('describeType', () => {
  test.each([
    [{ type: 'string' }, 'string'],
    [{ type: ['string', 'integer'] }, 'string | integer'],
    [{ type: 'array', items: { type: 'string' } }, 'list of string'],
    [{ type: 'array', items: { type: ['string', 'boolean'] } }, 'list of (string | boolean)'],
    [{ type: 'array' }, 'list'],
    [{ type: 'object' }, 'mapping'],
    [{ oneOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }] }, 'string | list of string'],
    [{ anyOf: [{ type: 'string' }, { type: 'string', minLength: 1 }] }, 'string'],
    [yesNo, 'boolean'],
    [{ anyOf: [{ type: 'boolean' }, { type: 'string', enum: ['maybe'] }] }, 'boolean | string'],
    [{ enum: ['present', 'absent'] }, 'string'],
    [{}, 'any'],
    [undefined, 'any'],
  ])('%j is %s', (schema, words) => {
    expect(describeType(schema)).toBe(words);
  });
});

describe('describeModule', () => {
  const doc = describeModule({
    name: 'demo',
    summary: 'Does a demo.',
    secret: ['token'],
    schema: {
      type: 'object',
      properties: {
        path: { type: 'string', minLength: 1, description: 'Where it goes.', examples: ['/etc/hosts'] },
        dest: { type: 'string' },
        state: { type: 'string', enum: ['present', 'absent'], default: 'present' },
        force: yesNo,
        count: { type: 'integer', minimum: 1, maximum: 9 },
        url: { type: 'string', pattern: '^https?://' },
        usages: { type: 'array', items: { type: 'string', enum: ['server', 'client'] }, minItems: 2 },
        spec: {
          type: 'object',
          required: ['name'],
          properties: { name: { type: 'string' }, days: { type: 'integer' } },
        },
        token: { type: 'string' },
      },
      required: ['token'],
      anyOf: [{ required: ['path'] }, { required: ['dest'] }],
      additionalProperties: false,
    },
  });

  test('every property, in schema order, nested ones dotted after their parent', () => {
    expect(doc.params.map((p) => p.name)).toEqual([
      'path',
      'dest',
      'state',
      'force',
      'count',
      'url',
      'usages',
      'spec',
      'spec.name',
      'spec.days',
      'token',
    ]);
  });

  test('type, required, default, choices and notes of each', () => {
    const by = Object.fromEntries(doc.params.map((p) => [p.name, p]));
    expect(by.path).toEqual({
      name: 'path',
      type: 'string',
      required: false,
      examples: ['/etc/hosts'],
      notes: ['Where it goes.'],
    });
    expect(by.state).toEqual({
      name: 'state',
      type: 'string',
      required: false,
      default: 'present',
      choices: ['present', 'absent'],
      examples: [],
      notes: [],
    });
    expect(by.force).toEqual({ name: 'force', type: 'boolean', required: false, examples: [], notes: [] });
    expect(by.count!.notes).toEqual(['at least 1', 'at most 9']);
    expect(by.url!.notes).toEqual(['matches `^https?://`']);
    expect(by.usages).toEqual({
      name: 'usages',
      type: 'list of string',
      required: false,
      choices: ['server', 'client'],
      examples: [],
      notes: ['at least 2 items'],
    });
    expect(by['spec.name']!.required).toBe(true);
    expect(by['spec.days']!.required).toBe(false);
    expect(by.token!.required).toBe(true);
  });

  test('alternatives, secrets and the module-wide facts', () => {
    expect(doc.oneOfRequired).toEqual([['path', 'dest']]);
    expect(doc.secret).toEqual(['token']);
    expect(doc.anyKeys).toBe(false);
    expect(doc.local).toBe(false);
    expect(doc.summary).toBe('Does a demo.');
  });

  test('a schema that takes any keys (set_fact)', () => {
    const free = describeModule({
      name: 'set_fact',
      local: true,
      schema: { type: 'object', minProperties: 1, additionalProperties: true },
    });
    expect(free).toEqual({
      name: 'set_fact',
      params: [],
      oneOfRequired: [],
      anyKeys: true,
      minKeys: 1,
      secret: [],
      local: true,
    });
  });

  test("the schema's own description is the summary when none is given", () => {
    expect(
      describeModule({ name: 'x', schema: { type: 'object', description: 'From the schema.', properties: {} } })
        .summary,
    ).toBe('From the schema.');
  });
});

describe('rendering', () => {
  const copy = describeModule({
    name: 'copy',
    summary: 'Puts content at dest.',
    secret: ['content'],
    schema: {
      type: 'object',
      properties: {
        dest: { type: 'string', description: 'Where the file goes.', examples: ['/etc/hosts'] },
        content: { type: 'string', examples: ['a\nb\n'] },
        mode: { type: ['string', 'integer'] },
        state: { enum: ['a', 'b'], default: 'a', examples: ['b', 'a'] },
      },
      required: ['dest'],
    },
  });
  const command = describeModule({
    name: 'command',
    freeForm: 'cmd',
    schema: {
      type: 'object',
      properties: { cmd: { type: 'string' } },
      anyOf: [{ required: ['cmd'] }, { required: ['argv'] }],
    },
  });

  test('the list: one line per module, summaries aligned', () => {
    expect(renderModuleList([command, copy])).toBe('command\ncopy     Puts content at dest.\n');
  });

  test('one module as ansible-doc shows it', () => {
    expect(renderModuleText(copy)).toBe(
      [
        '> COPY',
        '',
        '  Puts content at dest.',
        '',
        '  Never printed: content.',
        '',
        'PARAMETERS',
        '  dest (required)',
        '    Where the file goes.',
        '    type: string',
        '    example: /etc/hosts',
        '  content',
        '    type: string',
        '    example: "a\\nb\\n"',
        '  mode',
        '    type: string | integer',
        '  state',
        '    type: string',
        '    choices: a, b',
        '    default: a',
        '    example: b',
        '    example: a',
        '',
      ].join('\n'),
    );
    expect(renderModuleText(command)).toBe(
      [
        '> COMMAND',
        '',
        '  Free form: `command: TEXT` sets cmd; key=value words in TEXT naming a parameter set it.',
        '  Needs one of: cmd, argv.',
        '',
        'PARAMETERS',
        '  cmd (required: one of cmd, argv)',
        '    type: string',
        '',
      ].join('\n'),
    );
  });

  test('Markdown: an index, then a table per module with pipes escaped', () => {
    const md = renderModulesMarkdown([copy]);
    expect(md).toContain('| [`copy`](#copy) | Puts content at dest. |\n');
    expect(md).toContain(
      [
        '## copy',
        '',
        'Puts content at dest.',
        '',
        '- Never printed: `content`.',
        '',
        '| parameter | type | required | default | choices | example | notes |',
        '| --- | --- | --- | --- | --- | --- | --- |',
        '| `dest` | string | yes |  |  | `/etc/hosts` | Where the file goes. |',
        '| `content` | string |  |  |  | `"a\\nb\\n"` |  |',
        '| `mode` | string \\| integer |  |  |  |  |  |',
        '| `state` | string |  | `a` | `a`, `b` | `b`, `a` |  |',
        '',
      ].join('\n'),
    );
    expect(md.endsWith('|  |\n')).toBe(true);
  });
});
