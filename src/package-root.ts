import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The package's top folder (package.json, schemas/, roles/, playbooks/, bundle/, inventory/),
 * found by walking up from this file: the same answer whether the code runs as compiled files
 * (dist/src/...) or bundled into the CLI (dist/cli/).
 */
function findPackageRoot(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    const manifest = path.join(dir, 'package.json');
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === 'furrow')
      return dir;
    if (path.dirname(dir) === dir) throw new Error(`furrow: cannot find the package's package.json above ${from}`);
  }
}

export const PACKAGE_ROOT = findPackageRoot(path.dirname(fileURLToPath(import.meta.url)));

/** A file or folder of the package: packagePath('schemas', 'playbook.schema.json'). */
export const packagePath = (...parts: string[]) => path.join(PACKAGE_ROOT, ...parts);
