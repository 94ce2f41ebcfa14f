// Writes schemas/playbook.schema.json (the file editors read) from the keyword table and the rest
// of src/engine/playbook/playbook-schema.ts. Run after `npm run build`: `npm run schema`.
// test/unit/playbook/schema.test.ts fails while the file is not current.
import { writeFileSync } from 'node:fs';
import { playbookSchemaText } from '../dist/src/engine/playbook/playbook-schema.js';

writeFileSync('schemas/playbook.schema.json', playbookSchemaText());
