// Compiles every JSON Schema validator a run needs ahead of time (ajv's standalone code): the
// playbook schema's parts and each module's params, in each ajv setting
// (src/engine/validators.ts, VALIDATOR_SETS), into dist/schemas/<set>.cjs. Each validator is
// stored with the sha256 of the schema it was made from; a run uses it only while that matches.
import { mkdirSync, writeFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import standaloneCode from 'ajv/dist/standalone/index.js';
import { VALIDATOR_SETS, schemaSha256 } from '../dist/src/engine/validators.js';
import { moduleNames, findModule } from '../dist/src/modules/index.js';
import { playbookSchemaText } from '../dist/src/engine/playbook/playbook-schema.js';

mkdirSync('dist/schemas', { recursive: true });

function write(set, add) {
  const ajv = new Ajv({ ...VALIDATOR_SETS[set], code: { source: true } });
  const refs = {};
  const sha256 = {};
  add(ajv, refs, sha256);
  const code = standaloneCode(ajv, refs);
  writeFileSync(
    `dist/schemas/${set}.cjs`,
    `${code}\nmodule.exports.sha256 = ${JSON.stringify(sha256)};\nmodule.exports.validators = module.exports;\n`,
  );
}

const playbookText = playbookSchemaText();
write('playbook', (ajv, refs, sha256) => {
  const schema = JSON.parse(playbookText);
  ajv.addSchema(schema);
  for (const part of ['playbook', 'taskList', 'roleMeta']) {
    refs[part] = part === 'playbook' ? schema.$id : `${schema.$id}#/definitions/${part}`;
    sha256[part] = schemaSha256(playbookText);
  }
});

for (const set of ['params-strict', 'params-coercing', 'params-rendered']) {
  write(set, (ajv, refs, sha256) => {
    for (const name of moduleNames()) {
      const mod = findModule(name);
      ajv.addSchema(mod.schema, `module:${name}`);
      refs[name] = `module:${name}`;
      sha256[name] = schemaSha256(mod.schema);
    }
  });
}
