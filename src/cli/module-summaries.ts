/**
 * One line per module for `furrow modules` and docs/modules.md. Modules carry no description of
 * their own yet; a schema `description` wins over this list, and a module missing here is listed
 * without a summary (nothing breaks when one is added).
 */
export const MODULE_SUMMARIES: Readonly<Record<string, string>> = {
  apt: '`package` with apt: fails on a host without apt-get.',
  assert: 'Fails the task when a condition (CEL) does not hold.',
  blockinfile: 'Keeps a block of lines between two marker lines in a file, or removes it.',
  cert: "Puts a certificate from the cluster's pki/ on a host, with its key and CA, issuing it first from a spec.",
  command: 'Runs a program with its arguments, never through a shell; guarded by creates/removes.',
  copy: 'Puts content (inline or a file from files/) at dest, with mode, owner and group; compared by sha256.',
  debug: 'Prints a message or a variable in the task result.',
  dnf: '`package` with dnf: fails on a host without dnf.',
  fetch:
    'Copies a file from the host to the controller, under dest in a folder per host (or at dest itself with flat).',
  file: 'A path as a file, directory, link, absent or touched, with mode, owner and group.',
  get_url: 'The host downloads a URL to dest; skipped when dest matches the checksum.',
  image:
    "A container image from an OCI layout (an offline bundle's) present in containerd or docker, compared by digest.",
  k8s:
    'Kubernetes objects applied with server-side apply through the host (changed only when an object changed; ' +
    'check mode is a server dry run), or deleted.',
  kmod: 'A kernel module loaded now and, when persistent, at every boot.',
  kubeconfig:
    "A kubeconfig (mode 0600) built from a client certificate of the cluster's pki/, issuing it first from a spec.",
  lineinfile: 'Makes sure one line is in a file (replacing the line a regexp matches), or that none matches.',
  package: 'Packages present, absent or latest with apt, dnf or yum, many names in one transaction.',
  service_account_key: "Puts the cluster's service-account key pair (pki/sa.key, sa.pub; made on first use) on a host.",
  set_fact: 'Sets variables on the host for the rest of the run.',
  shell: 'Runs a command line through sh -c (pipes, redirections, globs); guarded by creates/removes.',
  sysctl: 'A kernel parameter in a sysctl.d file and its live value, each written only when different.',
  systemd: "A unit's state, enabled and masked, and optionally its unit file; daemon-reload only when needed.",
  template: 'Renders a Handlebars template from templates/ with the task variables and puts it at dest.',
  unarchive: 'Extracts a tar archive (from the controller or already on the host) into dest, once per archive.',
  wait_for: 'Waits until a port listens (or stops), a path appears (or goes), or a URL answers.',
  yum: '`package` with yum: fails on a host without yum.',
};
