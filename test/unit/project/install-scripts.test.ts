import { readFileSync } from 'node:fs';
import path from 'node:path';

/**
 * `npm ci` on a clean clone prints no install-script warning: every package of the lock file that
 * has an install script is decided in package.json's allowScripts (npm 11). Approved on purpose:
 * esbuild (its postinstall checks its platform binary, which the build uses), ssh2 and
 * cpu-features (ssh2's optional native crypto and CPU detection; both fall back to JavaScript).
 */
const root = path.resolve('.');
const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as {
  allowScripts?: Record<string, boolean>;
};
const lock = JSON.parse(readFileSync(path.join(root, 'package-lock.json'), 'utf8')) as {
  packages: Record<string, { hasInstallScript?: boolean }>;
};

test("every package with an install script is decided in package.json's allowScripts", () => {
  const withScripts = Object.entries(lock.packages)
    .filter(([, p]) => p.hasInstallScript)
    .map(([where]) => where.split('node_modules/').at(-1)!)
    .sort();
  expect(withScripts.length).toBeGreaterThan(0);
  expect(withScripts.filter((name) => pkg.allowScripts?.[name] === undefined)).toEqual([]);
  // Nothing decided that the lock file no longer has (a stale entry hides nothing, but misleads).
  expect(Object.keys(pkg.allowScripts ?? {}).sort()).toEqual(withScripts);
});
