/**
 * Param values as Ansible users write them, with the schema pieces that accept them. Schemas
 * accept strings too, because a param may be a template (`port: "{{ api_port }}"`) that only
 * becomes a number once rendered; the module then reads the rendered value here and says exactly
 * what was expected when it is not one.
 */
import { InputError } from '../../engine/errors.js';
import { YAML_BOOLEAN_WORDS, yamlBoolean } from '../../engine/yaml.js';

/**
 * A yes/no param: a boolean, or a word the playbook's YAML reads as one (`"yes"`, `"On"`, `"False"`:
 * quoted, in `key=value` words, or rendered from a template). One dialect with the YAML reader.
 */
export const flagSchema = {
  anyOf: [{ type: 'boolean' }, { type: 'string', enum: [...YAML_BOOLEAN_WORDS.true, ...YAML_BOOLEAN_WORDS.false] }],
} as const;
/** backup (copy, template, lineinfile, blockinfile): keep the old file; `file` names the param that holds its path. */
export const backupParam = <F extends 'dest' | 'path'>(file: F) =>
  ({
    ...flagSchema,
    description: `Keep the old file as <${file}>.<date>~ when it changes.`,
    examples: [true],
    default: false,
  }) as const;

/** create (lineinfile, blockinfile): a missing file is made, instead of failing the task. */
export const createParam = {
  ...flagSchema,
  description: 'Create the file when it is missing (otherwise a missing file fails the task).',
  examples: [true],
  default: false,
} as const;

export const intSchema = { type: ['integer', 'string'] } as const;
export const modeParam = {
  type: ['string', 'integer'],
  description:
    "permissions: octal ('0644', quoted) or symbolic ('u+x,go-w'); absent: an existing file keeps its own, a " +
    'new one gets 0644',
  examples: ['0644', 'u+x'],
} as const;
export const ownerParam = {
  type: ['string', 'integer'],
  description:
    "the owning user, by name or uid; absent: an existing file keeps its owner, a new one is the connection user's",
  examples: ['root', 0],
} as const;
export const groupParam = {
  type: ['string', 'integer'],
  description:
    "the owning group, by name or gid; absent: an existing file keeps its group, a new one gets the connection user's",
  examples: ['root', 'etcd'],
} as const;

/** A yes/no param's value (see flagSchema); when not given, `fallback`; anything else is an error. */
export function toFlag(value: unknown, module: string, param: string): boolean | undefined;
export function toFlag(value: unknown, module: string, param: string, fallback: boolean): boolean;
export function toFlag(value: unknown, module: string, param: string, fallback?: boolean): boolean | undefined {
  if (value === undefined || value === null) return fallback;
  const flag = typeof value === 'boolean' ? value : typeof value === 'string' ? yamlBoolean(value) : undefined;
  if (flag !== undefined) return flag;
  throw new InputError(
    undefined,
    `${module}: ${param} is ${JSON.stringify(value)}, not a boolean`,
    `write ${param}: true or ${param}: false (or yes/no, on/off)`,
  );
}

/** A whole number (given as a number or its text); undefined stays undefined. */
export function toInt(value: unknown, module: string, param: string, min = 0): number | undefined {
  if (value === undefined || value === null) return undefined;
  const n = typeof value === 'number' ? value : /^\s*-?\d+\s*$/.test(String(value)) ? Number(value) : NaN;
  if (!Number.isInteger(n) || n < min) {
    throw new InputError(
      undefined,
      `${module}: ${param} is ${JSON.stringify(value)}, not a whole number >= ${min}`,
      `write ${param} as a number, e.g. ${param}: ${Math.max(min, 1)}`,
    );
  }
  return n;
}

/** Ansible lets `path` also be spelled `dest` or `name` in file, lineinfile and blockinfile. */
export const pathProperties = {
  path: { type: 'string', minLength: 1, description: 'the file on the host', examples: ['/etc/hosts'] },
  dest: { type: 'string', minLength: 1, description: "another spelling of path (Ansible's)", examples: ['/etc/hosts'] },
  name: { type: 'string', minLength: 1, description: "another spelling of path (Ansible's)", examples: ['/etc/hosts'] },
} as const;

/** Schema rule that one of the spellings of `path` is given. */
export const pathRequired = [{ required: ['path'] }, { required: ['dest'] }, { required: ['name'] }] as const;

export function pathParam(params: { path?: string; dest?: string; name?: string }, module: string): string {
  const path = params.path ?? params.dest ?? params.name;
  if (!path) throw new InputError(undefined, `${module}: 'path' is required`, `add path: /the/file`);
  return path;
}
