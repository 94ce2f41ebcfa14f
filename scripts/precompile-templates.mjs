// Compiles the roles' templates ahead of time (src/engine/template.ts, precompiledTemplates) into
// dist/templates.cjs: every string with '{{' in the YAML of roles/ and playbooks/, and every
// template file under roles/. A run takes a text's code from here while the stamp (Handlebars,
// the options, the helpers and the rewriting code) matches its own; any other text is compiled
// as it comes.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { precompileTemplate, templateCompilerStamp } from '../dist/src/engine/template.js';

const texts = new Set();
const collect = (value) => {
  if (typeof value === 'string') {
    if (value.includes('{{')) texts.add(value);
  } else if (Array.isArray(value)) value.forEach(collect);
  else if (value && typeof value === 'object') Object.values(value).forEach(collect);
};
const walk = (dir) => {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const file = path.join(dir, entry.name);
    if (entry.isDirectory()) walk(file);
    else if (/\.ya?ml$/.test(entry.name)) {
      for (const doc of YAML.parseAllDocuments(readFileSync(file, 'utf8'))) if (!doc.errors.length) collect(doc.toJS());
    } else if (entry.name.endsWith('.hbs')) texts.add(readFileSync(file, 'utf8'));
  }
};
walk('roles');
walk('playbooks');

const stamp = templateCompilerStamp();
if (!stamp) throw new Error('precompile-templates: dist/src is not built');
const entries = [];
for (const text of [...texts].sort()) {
  const built = precompileTemplate(text);
  if (!built) continue; // a text that does not compile is reported by the run that uses it
  const single = built.single ?? 'null';
  entries.push(
    `${JSON.stringify(text)}: { names: ${JSON.stringify(built.names)}, required: ${JSON.stringify(built.required)}, ` +
      `render: ${built.render}, single: ${single} }`,
  );
}
writeFileSync(
  'dist/templates.cjs',
  `module.exports = { stamp: ${JSON.stringify(stamp)}, templates: {\n${entries.join(',\n')}\n} };\n`,
);
