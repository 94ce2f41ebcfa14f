/**
 * The cluster PKI: roots and leaves generated on the controller under <cluster>/pki/ with
 * @peculiar/x509 (no openssl or cfssl), kept while valid, re-issued only when they must be.
 * This is the surface the cert module, the roles' deploy wiring and `furrow certs` use.
 */
export {
  ensureAuthorities,
  ensureServiceAccountKey,
  loadAuthority,
  CA_COMMON_NAMES,
  type RootResult,
  type RootAction,
} from './authority.js';
export {
  ensureLeaf,
  renewLeaves,
  DEFAULT_RENEW_WITHIN_DAYS,
  type LeafOptions,
  type LeafResult,
  type LeafAction,
} from './leaf.js';
export {
  checkCertificates,
  certificateStatus,
  needsAttention,
  type CertCheck,
  type CertStatus,
  type CheckOptions,
} from './check.js';
export {
  describeCertificate,
  describeSpec,
  parseCertificate,
  summary,
  daysLeft,
  type CertDescription,
} from './describe.js';
export { renderKubeconfig, kubeconfigFromPki, type KubeconfigInput } from './kubeconfig.js';
export {
  etcdCertSpecs,
  etcdServerSpec,
  etcdPeerSpec,
  kubeCertSpecs,
  apiserverSpec,
  kubeletSpec,
  kubernetesServiceIp,
  type Member,
  type KubeSettings,
} from './presets.js';
export {
  CA,
  DEFAULT_CA_DAYS,
  DEFAULT_LEAF_DAYS,
  normalizeSpec,
  type LeafSpec,
  type Usage,
  type PkiSettings,
} from './spec.js';
export { certPath, keyPath, KEY_MODE, CERT_MODE } from './store.js';
export type { KeyType } from './spec.js';
