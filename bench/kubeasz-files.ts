/**
 * What workload 7 writes or reads in a kubeasz checkout, as pure functions of its files' text: the
 * cluster's `hosts` and `config.yml` (what `ezctl new` makes from example/, with the lab's hosts in
 * the groups), the kubeasz version, and which of its sysctls reach the whole machine.
 */

/** The groups workload 7 fills, each with the lab hosts' addresses (kubeasz names hosts by address). */
export interface KubeaszGroups {
  etcd: string[];
  kube_master: string[];
  kube_node: string[];
}

export interface KubeaszLogin {
  user: string;
  privateKey: string;
}

/**
 * The example inventory (example/hosts.multi-node) as `ezctl new NAME` copies it, with the named
 * groups' host lines replaced by ours, base_dir pointed at the copy of the checkout, and how Ansible
 * logs in to the lab appended. Groups not named keep the example's lines (all commented out there).
 */
export function kubeaszHosts(
  example: string,
  cluster: string,
  groups: KubeaszGroups,
  baseDir: string,
  login: KubeaszLogin,
): string {
  const fill = new Map<string, string[]>(Object.entries(groups));
  const out: string[] = [];
  let skipping = false;
  for (const line of example.replaceAll('_cluster_name_', cluster).split('\n')) {
    const header = /^\[([^\]]+)\]\s*$/.exec(line);
    if (header) {
      skipping = fill.has(header[1]!);
      out.push(line, ...(fill.get(header[1]!) ?? []));
      continue;
    }
    // A filled group's own lines run to the next blank line or group.
    if (skipping && line.trim() !== '') continue;
    skipping = false;
    out.push(line.startsWith('base_dir=') ? `base_dir="${baseDir}"` : line);
  }
  for (const group of fill.keys())
    if (!out.includes(`[${group}]`)) throw new Error(`kubeasz's example inventory has no group [${group}]`);
  if (!out.some((l) => l.startsWith('base_dir='))) throw new Error("kubeasz's example inventory sets no base_dir");
  return [
    ...out,
    "# How Ansible logs in to Furrow's bench lab (not in kubeasz's example).",
    `ansible_user=${login.user}`,
    `ansible_ssh_private_key_file=${login.privateKey}`,
    '',
  ].join('\n');
}

/**
 * example/config.yml as `ezctl new` fills it: the Kubernetes version, and no registry mirror where
 * there is no /etc/docker/daemon.json naming one. The other placeholders (add-on versions) belong
 * to steps after 02 and stay as they are.
 */
export function kubeaszConfig(example: string, kubernetesVersion: string): string {
  if (!example.includes('__k8s_ver__')) throw new Error("kubeasz's example config.yml has no __k8s_ver__");
  return example
    .replaceAll('__k8s_ver__', kubernetesVersion)
    .replace(/^ENABLE_MIRROR_REGISTRY.*$/m, 'ENABLE_MIRROR_REGISTRY: false');
}

/** KUBEASZ_VER from the checkout's ezdown. */
export function kubeaszVersion(ezdown: string): string {
  const m = /^KUBEASZ_VER=(\S+)/m.exec(ezdown);
  if (!m) throw new Error('no KUBEASZ_VER= line in ezdown');
  return m[1]!;
}

/**
 * The settings of kubeasz's sysctl template (roles/prepare/templates/95-k8s-sysctl.conf.j2) that
 * are not kept per network namespace, as paths under /proc/sys. The lab's hosts are containers on
 * this machine's kernel: what step 01 sets there outside net.* is set on the machine itself, so the
 * bench reads these before kubeasz runs and puts them back after.
 */
export function machineWideSysctls(template: string): string[] {
  const keys: string[] = [];
  for (const line of template.split('\n')) {
    const m = /^\s*([a-z0-9_.-]+)\s*=/.exec(line);
    if (m && !m[1]!.startsWith('net.')) keys.push(m[1]!.replaceAll('.', '/'));
  }
  return [...new Set(keys)];
}
