import type { Module, ParamsSchema } from '../../../src/engine/module.js';
import type { LoadOptions } from '../../../src/engine/playbook/index.js';

/**
 * Small stand-ins for real modules, so loader tests do not depend on which modules exist yet:
 * only name, schema and freeForm matter to the loader.
 */
function fake(name: string, properties: Record<string, ParamsSchema>, extra: Partial<Module> = {}): Module {
  return {
    name,
    schema: { type: 'object', properties, additionalProperties: false },
    plan: async () => ({ action: 'none', reason: 'fake' }),
    apply: async () => ({}),
    ...extra,
  };
}

const str = { type: 'string' } as const;

export const fakeModules: Module[] = [
  fake('command', { cmd: str, chdir: str, creates: str }, { freeForm: 'cmd' }),
  fake('shell', { cmd: str, chdir: str, creates: str }, { freeForm: 'cmd' }),
  fake('copy', {
    src: str,
    dest: str,
    content: str,
    mode: { type: ['string', 'integer'] },
    force: { type: 'boolean' },
    backup: { type: 'boolean' },
  }),
  fake('template', { src: str, dest: str }),
  fake('debug', { msg: str }),
  fake('package', {
    name: { oneOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' }, minItems: 1 }] },
    state: str,
  }),
  fake(
    'file',
    { path: str, dest: str, state: str },
    {
      schema: {
        type: 'object',
        properties: { path: str, dest: str, state: str },
        anyOf: [{ required: ['path'] }, { required: ['dest'] }],
        additionalProperties: false,
      },
    },
  ),
  fake('systemd', { name: str, state: { enum: ['started', 'stopped', 'restarted'] }, enabled: { type: 'boolean' } }),
];

const byName = new Map(fakeModules.map((m) => [m.name, m]));

/** Loader options that use the fake registry. */
export const fakeRegistry: LoadOptions = {
  modules: { findModule: (name) => byName.get(name), moduleNames: () => [...byName.keys()] },
};
