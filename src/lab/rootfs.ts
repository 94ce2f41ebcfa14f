import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { InputError } from '../engine/errors.js';
import { withMachineLock } from './machine-lock.js';
import { must } from './system.js';

/** The sudo password of the lab's `furrowpw` user (a user that needs one, to test become passwords). */
export const LAB_SUDO_PASSWORD = 'furrow-lab';

/**
 * The lab's shared root filesystem: one Debian tree built once with mmdebstrap and used read-only
 * as the lower layer of every host's overlay. Its folder name is the hash of its recipe, so a
 * changed recipe builds a new tree and an unchanged one is reused.
 */
export const ROOTFS_RECIPE = {
  suite: 'bookworm',
  variant: 'minbase',
  // ca-certificates as Debian's cloud images have it: without it every first deploy spends about
  // 10 s of a lab host's CPU in its install scripts (update-ca-certificates runs twice), work that
  // real hosts do not redo. prepare still lists it, and installs it where it is missing.
  packages: [
    'systemd',
    'systemd-sysv',
    'dbus',
    'openssh-server',
    'iproute2',
    'procps',
    'sudo',
    'iptables',
    'kmod',
    'ca-certificates',
  ],
  // Run outside the tree with $1 = the tree. Host keys are per host (written at boot);
  // apt sources are removed because lab hosts must never reach a mirror.
  hooks: [
    'rm -f "$1"/etc/ssh/ssh_host_*',
    'chroot "$1" useradd --create-home --shell /bin/bash furrow',
    'printf "furrow ALL=(ALL) NOPASSWD:ALL\\n" > "$1"/etc/sudoers.d/furrow && chmod 0440 "$1"/etc/sudoers.d/furrow',
    'chroot "$1" useradd --create-home --shell /bin/bash --groups sudo furrowpw',
    `echo "furrowpw:${LAB_SUDO_PASSWORD}" | chroot "$1" chpasswd`,
    'printf "HostKey /etc/ssh/ssh_host_ed25519_key\\nUseDNS no\\n" > "$1"/etc/ssh/sshd_config.d/furrow-lab.conf',
    'rm -f "$1"/etc/apt/sources.list "$1"/etc/apt/sources.list.d/*',
    ': > "$1"/etc/machine-id',
  ],
};

export const LAB_STATE_ROOT = process.env.FURROW_LAB_ROOT ?? '/var/lib/furrow';

/**
 * Runs `fn` holding the machine's lab lock: for building the shared root filesystem, and for
 * choosing a lab's /24 and claiming it with a bridge, which two `lab up`s must not do at once.
 */
export function withLabLock<T>(log: (line: string) => void, fn: () => Promise<T>): Promise<T> {
  const file = path.join(LAB_STATE_ROOT, 'lab.lock');
  return withMachineLock(file, fn, () => log(`waiting for another lab up on this machine (it holds ${file})`));
}

export type RootfsRecipe = typeof ROOTFS_RECIPE;

/** Debian package names (policy: lowercase, digits, + - .), so nothing else reaches mmdebstrap. */
const PACKAGE_NAME_RE = /^[a-z0-9][a-z0-9+.-]+$/;

/**
 * The default recipe, or one with extra packages joined to it (e.g. python3, which Ansible needs
 * on its targets). The default stays the very same object, so its hash and cached tree never move.
 */
export function rootfsRecipe(extraPackages: readonly string[] = []): RootfsRecipe {
  const bad = extraPackages.find((p) => !PACKAGE_NAME_RE.test(p));
  if (bad !== undefined)
    throw new InputError(
      undefined,
      `'${bad}' is not a Debian package name`,
      'give package names such as python3, comma separated',
    );
  const extra = [...new Set(extraPackages)].filter((p) => !ROOTFS_RECIPE.packages.includes(p)).sort();
  return extra.length ? { ...ROOTFS_RECIPE, packages: [...ROOTFS_RECIPE.packages, ...extra] } : ROOTFS_RECIPE;
}

export function rootfsHash(recipe: RootfsRecipe = ROOTFS_RECIPE): string {
  return createHash('sha256').update(JSON.stringify(recipe)).digest('hex').slice(0, 16);
}

export function rootfsDir(recipe: RootfsRecipe = ROOTFS_RECIPE): string {
  return path.join(LAB_STATE_ROOT, 'rootfs', rootfsHash(recipe));
}

/** The controller's own apt sources, so the build uses whatever mirror this machine is set up for. */
function aptSources(): string[] {
  const found: string[] = [];
  if (existsSync('/etc/apt/sources.list') && /^\s*deb\s/m.test(readFileSync('/etc/apt/sources.list', 'utf8'))) {
    found.push('/etc/apt/sources.list');
  }
  const dir = '/etc/apt/sources.list.d';
  if (existsSync(dir)) {
    for (const f of readdirSync(dir).sort()) if (/\.(list|sources)$/.test(f)) found.push(path.join(dir, f));
  }
  return found;
}

/** Returns the cached tree, building it first when its recipe has none yet. */
export async function ensureRootfs(
  log: (line: string) => void,
  recipe: RootfsRecipe = ROOTFS_RECIPE,
): Promise<{ dir: string; built: boolean }> {
  const dir = rootfsDir(recipe);
  const whole = () => existsSync(path.join(dir, 'etc', 'os-release'));
  if (whole()) return { dir, built: false };
  // Under the lock, a second lab up waits for the first one's build instead of building its own
  // and replacing the tree the first one may already have mounted.
  return withLabLock(log, async () => {
    if (whole()) return { dir, built: false };
    await buildRootfs(log, recipe, dir);
    return { dir, built: true };
  });
}

async function buildRootfs(log: (line: string) => void, recipe: RootfsRecipe, dir: string): Promise<void> {
  await mkdir(path.dirname(dir), { recursive: true });
  const tmp = `${dir}.building-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  log(`building the lab root filesystem (${recipe.suite}, ${recipe.packages.length} packages) into ${dir}`);
  const sources = process.env.FURROW_LAB_MIRROR ? [process.env.FURROW_LAB_MIRROR] : aptSources();
  await must(
    'mmdebstrap',
    [
      `--variant=${recipe.variant}`,
      `--include=${recipe.packages.join(',')}`,
      ...recipe.hooks.map((h) => `--customize-hook=${h}`),
      recipe.suite,
      tmp,
      ...sources,
    ],
    'building the lab root filesystem',
    { timeoutMs: 15 * 60_000 },
  );
  // A rename makes the cache entry appear whole or not at all, even if this run is killed; what
  // is removed first is a tree no lab uses (one without os-release is never mounted).
  await rm(dir, { recursive: true, force: true });
  await rename(tmp, dir);
}
