/** The connection layer: the only place that knows about SSH. Everything else imports from here. */
export type {
  Connection,
  ConnectionSpec,
  ExecOptions,
  ExecResult,
  GetOptions,
  PutOptions,
  PutSource,
} from './types.js';
export {
  connectionSpecFromVars,
  parseHop,
  DEFAULT_CONNECT_TIMEOUT_S,
  DEFAULT_KEEPALIVE_MS,
  type SpecDefaults,
} from './spec.js';
export { openConnection, ConnectionPool, type OpenOutcome } from './pool.js';
export { SshConnection, DEFAULT_MAX_CHANNELS } from './ssh.js';
export { LocalConnection } from './local.js';
export { TransferError } from './transfer.js';
export { DEFAULT_KNOWN_HOSTS, fingerprint, knownHostName } from './known-hosts.js';
