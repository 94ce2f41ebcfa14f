import { keywordSchemas } from './keywords.js';

/**
 * The playbook's JSON Schema. Task keywords come from the keyword table (keywords.ts); the rest
 * (plays, role entries, action keys) is written here. schemas/playbook.schema.json, the file
 * editors read, is this object as JSON: `npm run schema` writes it, a unit test checks it is current.
 */

/** The keys that make a task something other than a module call. */
const ACTION_SCHEMAS: Record<string, Record<string, unknown>> = {
  block: {
    $ref: '#/definitions/taskList',
  },
  include_tasks: {
    type: ['string', 'object'],
    description: 'a task file, or {file, apply}',
    minLength: 1,
    properties: {
      file: {
        type: 'string',
        minLength: 1,
      },
      apply: {
        type: 'object',
      },
    },
    required: ['file'],
    additionalProperties: false,
  },
  import_tasks: {
    type: ['string', 'object'],
    minLength: 1,
    properties: {
      file: {
        type: 'string',
        minLength: 1,
      },
    },
    required: ['file'],
    additionalProperties: false,
  },
  import_role: {
    $ref: '#/definitions/roleImport',
  },
  include_role: {
    $ref: '#/definitions/roleImport',
  },
  meta: {
    type: 'string',
    enum: ['flush_handlers'],
  },
};

export const ACTION_KEYS: ReadonlySet<string> = new Set(Object.keys(ACTION_SCHEMAS));

const DEFINITIONS: Record<string, Record<string, unknown>> = {
  playEntry: {
    type: 'object',
    if: {
      required: ['import_playbook'],
    },
    // biome-ignore lint/suspicious/noThenProperty: JSON Schema's if/then, not a thenable
    then: {
      $ref: '#/definitions/importPlaybook',
    },
    else: {
      $ref: '#/definitions/play',
    },
  },
  importPlaybook: {
    type: 'object',
    description: 'import_playbook: another playbook file whose plays run here',
    properties: {
      import_playbook: {
        type: 'string',
        minLength: 1,
      },
      name: {
        type: 'string',
      },
      when: {
        $ref: '#/definitions/condition',
      },
      tags: {
        $ref: '#/definitions/tags',
      },
      vars: {
        $ref: '#/definitions/vars',
      },
    },
    required: ['import_playbook'],
    additionalProperties: false,
  },
  play: {
    type: 'object',
    properties: {
      name: {
        type: 'string',
      },
      hosts: {
        type: ['string', 'array'],
        description: 'a host pattern (or a list of them)',
        items: {
          type: 'string',
        },
      },
      vars: {
        $ref: '#/definitions/vars',
      },
      vars_files: {
        type: 'array',
        description: 'files of vars; an entry that is a list means the first of them that exists',
        items: {
          type: ['string', 'array'],
          items: {
            type: 'string',
          },
        },
      },
      roles: {
        type: 'array',
        items: {
          $ref: '#/definitions/roleEntry',
        },
      },
      pre_tasks: {
        $ref: '#/definitions/taskList',
      },
      tasks: {
        $ref: '#/definitions/taskList',
      },
      post_tasks: {
        $ref: '#/definitions/taskList',
      },
      handlers: {
        $ref: '#/definitions/taskList',
      },
      gather_facts: {
        type: 'boolean',
      },
      serial: {
        type: ['integer', 'string', 'array'],
        description: 'a batch size: a number, a percentage like "30%", or a list of them',
        pattern: '^[0-9]+(\\.[0-9]+)?%?$',
        minimum: 1,
        items: {
          type: ['integer', 'string'],
          pattern: '^[0-9]+(\\.[0-9]+)?%?$',
          minimum: 1,
        },
      },
      max_fail_percentage: {
        type: 'number',
        minimum: 0,
        maximum: 100,
      },
      any_errors_fatal: {
        type: 'boolean',
      },
    },
    required: ['hosts'],
    additionalProperties: false,
  },
  roleEntry: {
    type: ['string', 'object'],
    description: 'a role name, or {role, vars, when, tags, ...}; other keys are role params',
    minLength: 1,
    properties: {
      role: {
        type: 'string',
        minLength: 1,
      },
      name: {
        type: 'string',
        minLength: 1,
      },
      vars: {
        $ref: '#/definitions/vars',
      },
    },
  },
  roleMeta: {
    type: ['object', 'null'],
    description: "a role's meta/main.yml",
    properties: {
      dependencies: {
        type: 'array',
        items: {
          $ref: '#/definitions/roleEntry',
        },
      },
      allow_duplicates: {
        type: 'boolean',
      },
      galaxy_info: {
        type: 'object',
      },
    },
  },
  taskList: {
    type: ['array', 'null'],
    items: {
      $ref: '#/definitions/task',
    },
  },
  roleImport: {
    type: 'object',
    properties: {
      name: {
        type: 'string',
        minLength: 1,
      },
      tasks_from: {
        type: 'string',
        minLength: 1,
      },
      handlers_from: {
        type: 'string',
        minLength: 1,
      },
      vars: {
        $ref: '#/definitions/vars',
      },
    },
    required: ['name'],
    additionalProperties: false,
  },
  waitForHosts: {
    type: ['object', 'array'],
    description: "Furrow's cross-host wait: {group, role} or {group, tag}, or a list of them",
    properties: {
      group: {
        type: 'string',
        minLength: 1,
      },
      role: {
        type: 'string',
        minLength: 1,
      },
      tag: {
        type: 'string',
        minLength: 1,
      },
    },
    required: ['group'],
    additionalProperties: false,
    items: {
      $ref: '#/definitions/waitForHostsEntry',
    },
  },
  condition: {
    type: ['string', 'boolean', 'array'],
    description: 'a condition expression (or a list of them, all of which must hold)',
    items: {
      type: ['string', 'boolean'],
    },
  },
  tags: {
    type: ['string', 'array'],
    description: 'a tag, a comma-separated string of tags, or a list',
    items: {
      type: ['string', 'number'],
    },
  },
  stringList: {
    type: ['string', 'array'],
    items: {
      type: 'string',
    },
  },
  identifier: {
    type: 'string',
    description: 'a variable name (letters, digits and _, not starting with a digit)',
    pattern: '^[A-Za-z_][A-Za-z0-9_]*$',
  },
  vars: {
    type: ['object', 'null'],
    propertyNames: {
      $ref: '#/definitions/identifier',
    },
  },
  waitForHostsEntry: {
    properties: {
      group: {
        type: 'string',
        minLength: 1,
      },
      role: {
        type: 'string',
        minLength: 1,
      },
      tag: {
        type: 'string',
        minLength: 1,
      },
    },
    required: ['group'],
    additionalProperties: false,
    type: 'object',
  },
  environment: {
    type: 'object',
    description: 'environment variables: NAME: value',
    propertyNames: {
      pattern: '^[A-Za-z_][A-Za-z0-9_]*$',
    },
    additionalProperties: {
      type: ['string', 'number', 'boolean'],
    },
  },
};

const HEAD = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  $id: 'https://furrow.dev/schemas/playbook.schema.json',
  title: 'Furrow playbook',
  description:
    'A playbook: a list of plays (Ansible-compatible). Task files validate against #/definitions/taskList, role meta ' +
    "files against #/definitions/roleMeta. Module params are checked by Furrow against each module's own schema.",
  type: 'array',
  items: {
    $ref: '#/definitions/playEntry',
  },
};

export function playbookSchema(): Record<string, unknown> {
  const definitions = structuredClone(DEFINITIONS) as Record<string, { properties: Record<string, unknown> }>;
  Object.assign(definitions.play.properties, keywordSchemas('play'));
  Object.assign(definitions.roleEntry.properties, keywordSchemas('role'));
  definitions.task = {
    type: 'object',
    description: 'a task: name, one module key with its params, and task keywords',
    properties: { ...keywordSchemas('task'), ...ACTION_SCHEMAS },
  } as never;
  return { ...HEAD, definitions };
}

/** The schema as the file schemas/playbook.schema.json holds it (and as validators are keyed). */
export function playbookSchemaText(): string {
  return `${JSON.stringify(playbookSchema(), null, 2)}\n`;
}
