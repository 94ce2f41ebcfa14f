/**
 * Removes every lab the tests made (names starting with 't-'), whatever state a failed or killed
 * test run left them in. .ci/run calls it on exit; tests also clean up after themselves.
 */
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { labDown } from '../../src/lab/lab.js';
import { LAB_STATE_ROOT } from '../../src/lab/rootfs.js';

const labsDir = path.join(LAB_STATE_ROOT, 'labs');
const names = existsSync(labsDir) ? readdirSync(labsDir).filter((n) => n.startsWith('t-')) : [];
for (const name of names) {
  const removed = await labDown({ name, cwd: process.cwd(), log: () => undefined });
  if (removed.length) process.stderr.write(`cleanup: lab ${name}: removed ${removed.join(', ')}\n`);
}
