import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { must } from './system.js';

/**
 * The lab's shared root filesystem: one Debian tree built once with mmdebstrap and used read-only
 * as the lower layer of every host's overlay. Its folder name is the hash of its recipe, so a
 * changed recipe builds a new tree and an unchanged one is reused.
 */
export const ROOTFS_RECIPE = {
  suite: 'bookworm',
  variant: 'minbase',
  packages: ['systemd', 'systemd-sysv', 'dbus', 'openssh-server', 'iproute2', 'procps', 'sudo', 'iptables', 'kmod'],
  // Run outside the tree with $1 = the tree. Host keys are per host (written at boot);
  // apt sources are removed because lab hosts must never reach a mirror.
  hooks: [
    'rm -f "$1"/etc/ssh/ssh_host_*',
    'chroot "$1" useradd --create-home --shell /bin/bash furrow',
    'printf "furrow ALL=(ALL) NOPASSWD:ALL\\n" > "$1"/etc/sudoers.d/furrow && chmod 0440 "$1"/etc/sudoers.d/furrow',
    'chroot "$1" useradd --create-home --shell /bin/bash --groups sudo furrowpw',
    'echo "furrowpw:furrow-lab" | chroot "$1" chpasswd',
    'printf "HostKey /etc/ssh/ssh_host_ed25519_key\\nUseDNS no\\n" > "$1"/etc/ssh/sshd_config.d/furrow-lab.conf',
    'rm -f "$1"/etc/apt/sources.list "$1"/etc/apt/sources.list.d/*',
    ': > "$1"/etc/machine-id',
  ],
};

/** The sudo password of the lab's `furrowpw` user (a user that needs one, to test become passwords). */
export const LAB_SUDO_PASSWORD = 'furrow-lab';

export const LAB_STATE_ROOT = process.env.FURROW_LAB_ROOT ?? '/var/lib/furrow';

export function rootfsDir(): string {
  const hash = createHash('sha256').update(JSON.stringify(ROOTFS_RECIPE)).digest('hex').slice(0, 16);
  return path.join(LAB_STATE_ROOT, 'rootfs', hash);
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
export async function ensureRootfs(log: (line: string) => void): Promise<{ dir: string; built: boolean }> {
  const dir = rootfsDir();
  if (existsSync(path.join(dir, 'etc', 'os-release'))) return { dir, built: false };
  await mkdir(path.dirname(dir), { recursive: true });
  const tmp = `${dir}.building-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  log(`building the lab root filesystem (${ROOTFS_RECIPE.suite}, ${ROOTFS_RECIPE.packages.length} packages) into ${dir}`);
  const sources = process.env.FURROW_LAB_MIRROR ? [process.env.FURROW_LAB_MIRROR] : aptSources();
  await must(
    'mmdebstrap',
    [
      `--variant=${ROOTFS_RECIPE.variant}`,
      `--include=${ROOTFS_RECIPE.packages.join(',')}`,
      ...ROOTFS_RECIPE.hooks.map((h) => `--customize-hook=${h}`),
      ROOTFS_RECIPE.suite,
      tmp,
      ...sources,
    ],
    'building the lab root filesystem',
    { timeoutMs: 15 * 60_000 },
  );
  // A rename makes the cache entry appear whole or not at all, even if this run is killed.
  await rm(dir, { recursive: true, force: true });
  await rename(tmp, dir);
  return { dir, built: true };
}
