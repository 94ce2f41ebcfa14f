import { execFile } from 'node:child_process';
import { chmod, mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * Debian packages from the controller's apt, unpacked: `apt-get download` into a temp folder and
 * `dpkg-deb -x` into its root/. Tests take real binaries from there (containerd, runc, ...) to
 * stand in for upstream release files. `done` removes the folder.
 */
export async function unpackDebs(packages: string[]): Promise<{ root: string; done: () => Promise<void> }> {
  const work = await mkdtemp(path.join(os.tmpdir(), 'furrow-debs-'));
  // apt drops privileges to _apt for downloads; a folder it may write avoids the warning.
  await chmod(work, 0o777);
  await run('apt-get', ['download', '-q', ...packages], { cwd: work });
  const root = path.join(work, 'root');
  for (const deb of (await readdir(work)).filter((f) => f.endsWith('.deb')))
    await run('dpkg-deb', ['-x', path.join(work, deb), root]);
  return { root, done: () => rm(work, { recursive: true, force: true }) };
}
