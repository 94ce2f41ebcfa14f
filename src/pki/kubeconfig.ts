/**
 * Kubeconfig files for admin and the components (controller-manager, scheduler, kube-proxy,
 * kubelets), from the same certificates, with the data embedded so each file stands alone.
 * The result holds a private key: whoever writes it treats it as a secret (mode 0600, no diff).
 */
import path from 'node:path';
import YAML from 'yaml';
import { FurrowError } from '../engine/errors.js';
import { certPath, keyPath, readIfExists } from './store.js';
import { trustedPem } from './trust.js';

export interface KubeconfigInput {
  /** Cluster name, e.g. 'kubernetes' (kubeadm's) or the cluster folder's name. */
  cluster: string;
  /** https://host:port of the apiserver (or the local load balancer). */
  server: string;
  /** PEM text of the CA that signed the apiserver's certificate. */
  caCert: string;
  clientCert: string;
  clientKey: string;
  /** User name in the file, e.g. 'kubernetes-admin', 'system:kube-scheduler'. */
  user: string;
  namespace?: string;
}

const base64 = (pem: string) => Buffer.from(pem, 'utf8').toString('base64');

/** The kubeconfig YAML; the context is named '<user>@<cluster>' as kubeadm names it. */
export function renderKubeconfig(input: KubeconfigInput): string {
  if (!/^https:\/\/\S+$/.test(input.server)) {
    throw new FurrowError('input', `kubeconfig for ${input.user}: server '${input.server}' is not an https:// address`);
  }
  const context = `${input.user}@${input.cluster}`;
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      { name: input.cluster, cluster: { 'certificate-authority-data': base64(input.caCert), server: input.server } },
    ],
    contexts: [
      {
        name: context,
        context: {
          cluster: input.cluster,
          user: input.user,
          ...(input.namespace ? { namespace: input.namespace } : {}),
        },
      },
    ],
    'current-context': context,
    preferences: {},
    users: [
      {
        name: input.user,
        user: { 'client-certificate-data': base64(input.clientCert), 'client-key-data': base64(input.clientKey) },
      },
    ],
  };
  return YAML.stringify(config, { lineWidth: 0 });
}

/** Renders the kubeconfig of a leaf kept under pki/ (e.g. 'admin', 'kubelet-node1'), signed by `ca` (default 'ca'). */
export async function kubeconfigFromPki(
  pkiDir: string,
  leaf: string,
  opts: { cluster: string; server: string; user: string; ca?: string; namespace?: string },
): Promise<string> {
  const ca = opts.ca ?? 'ca';
  const files = [certPath(pkiDir, ca), certPath(pkiDir, leaf), keyPath(pkiDir, leaf)];
  // The CA data is what the hosts trust: both CAs while one is rotated.
  const [caCert, clientCert, clientKey] = await Promise.all([
    trustedPem(pkiDir, ca),
    ...files.slice(1).map(readIfExists),
  ]);
  const missing = files.filter((_, i) => [caCert, clientCert, clientKey][i] === undefined);
  if (missing.length)
    throw new FurrowError(
      'module',
      `kubeconfig for ${opts.user}: ${missing.map((f) => path.relative(pkiDir, f)).join(', ')} missing in ${pkiDir}; ` +
        `issue the certificate first`,
    );
  return renderKubeconfig({
    cluster: opts.cluster,
    server: opts.server,
    user: opts.user,
    caCert: caCert!,
    clientCert: clientCert!,
    clientKey: clientKey!,
    ...(opts.namespace ? { namespace: opts.namespace } : {}),
  });
}
