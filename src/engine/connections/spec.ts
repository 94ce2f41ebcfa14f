/**
 * From inventory variables to a ConnectionSpec. Ansible's names work as they are (kubeasz
 * inventories), `furrow_*` names are ours and win over them; both win over ~/.ssh/config, which
 * wins over the defaults (current user, port 22, 10 s connect timeout, 15 s keepalive).
 */
import { existsSync } from 'node:fs';
import { userInfo } from 'node:os';
import { resolve } from 'node:path';
import { InputError, type SourcePlace } from '../errors.js';
import { defaultSshConfigFile, expandPath, lookupSshConfig } from './ssh-config.js';
import type { ConnectionSpec } from './types.js';

export interface SpecDefaults {
  knownHostsFile: string;
  strictHostKeys: boolean;
  /** ssh config to honour; default ~/.ssh/config when it exists; false: none. */
  sshConfigFile?: string | false;
  become?: boolean;
  becomeUser?: string;
  /** Below the inventory's own, as Ansible's -u, -k and -K are: the login user, SSH password and become password. */
  user?: string;
  password?: string;
  becomePassword?: string;
  /** Folder of the inventory: relative key and known_hosts paths are taken from here. */
  baseDir?: string;
  /** Another inventory host's spec by name, for furrow_jump / ProxyJump naming one. */
  resolveHost?: (name: string) => ConnectionSpec | undefined;
  /** Where the host's vars come from, for error messages. */
  source?: SourcePlace;
}

export const DEFAULT_CONNECT_TIMEOUT_S = 10;
export const DEFAULT_KEEPALIVE_MS = 15_000;
/** A jump chain longer than this is almost surely a loop in the ssh config. */
const MAX_JUMP_DEPTH = 8;
const LOCAL_NAMES = new Set(['localhost', '127.0.0.1', '::1']);
const SSH_CONNECTIONS = new Set(['ssh', 'smart', 'paramiko']);

export function connectionSpecFromVars(
  name: string,
  vars: Record<string, unknown>,
  defaults: SpecDefaults,
): ConnectionSpec {
  return buildSpec(name, vars, defaults, 0);
}

function buildSpec(name: string, vars: Record<string, unknown>, defaults: SpecDefaults, depth: number): ConnectionSpec {
  const v = new VarReader(name, vars, defaults.source);
  const connection = v.str('furrow_connection', 'ansible_connection');
  if (connection !== undefined && connection !== 'local' && !SSH_CONNECTIONS.has(connection)) {
    v.fail(
      `${v.keyOf('furrow_connection', 'ansible_connection')}: connection type '${connection}' is not supported`,
      "use 'ssh' (the default) or 'local'",
    );
  }
  const explicitHost = v.str('furrow_host', 'ansible_host', 'ansible_ssh_host');
  const local =
    connection === 'local' || (connection === undefined && explicitHost === undefined && LOCAL_NAMES.has(name));
  const configFile = defaults.sshConfigFile === false ? undefined : (defaults.sshConfigFile ?? defaultSshConfigFile());
  // ssh is given ansible_host when set (that is what Ansible runs), else the inventory name.
  const sshConfig = local ? { identityFiles: [] } : lookupSshConfig(configFile, explicitHost ?? name);

  const inventoryKey = v.str('furrow_private_key_file', 'ansible_ssh_private_key_file', 'ansible_private_key_file');
  const configKey = inventoryKey === undefined ? sshConfig.identityFiles.find((f) => existsSync(f)) : undefined;
  const password =
    v.str('furrow_password', 'ansible_password', 'ansible_ssh_pass', 'ansible_ssh_password') ?? defaults.password;
  const becomeMethod = v.str('ansible_become_method');
  if (becomeMethod !== undefined && becomeMethod !== 'sudo')
    v.fail(`ansible_become_method '${becomeMethod}' is not supported`, "use 'sudo' (the default)");
  const timeoutS = v.num('furrow_connect_timeout', 'ansible_timeout') ?? DEFAULT_CONNECT_TIMEOUT_S;
  if (timeoutS <= 0)
    v.fail(`${v.keyOf('furrow_connect_timeout', 'ansible_timeout')} must be a positive number of seconds`);

  const spec: ConnectionSpec = {
    name,
    transport: local ? 'local' : 'ssh',
    address: explicitHost ?? sshConfig.hostName ?? name,
    port: v.port('furrow_port', 'ansible_port', 'ansible_ssh_port') ?? sshConfig.port ?? 22,
    user: local
      ? userInfo().username
      : (v.str('furrow_user', 'ansible_user', 'ansible_ssh_user') ??
        defaults.user ??
        sshConfig.user ??
        userInfo().username),
    connectTimeoutMs: timeoutS * 1000,
    keepaliveMs: DEFAULT_KEEPALIVE_MS,
    become: v.bool('furrow_become', 'ansible_become') ?? defaults.become ?? false,
    becomeUser: v.str('furrow_become_user', 'ansible_become_user') ?? defaults.becomeUser ?? 'root',
    knownHostsFile: absolutePath(v.str('furrow_known_hosts_file') ?? defaults.knownHostsFile, defaults.baseDir),
    strictHostKeys: defaults.strictHostKeys,
  };
  const keyFile = inventoryKey !== undefined ? absolutePath(inventoryKey, defaults.baseDir) : configKey;
  if (keyFile !== undefined) spec.privateKeyFile = keyFile;
  const passphrase = v.str('furrow_passphrase');
  if (passphrase !== undefined) spec.passphrase = passphrase;
  if (password !== undefined) spec.password = password;
  // The agent is the fallback when the inventory names no credential (and stands in for an
  // encrypted IdentityFile from the ssh config, as it does for ssh).
  const agent = process.env.SSH_AUTH_SOCK;
  if (agent && password === undefined && inventoryKey === undefined) spec.agent = agent;
  const becomePassword =
    v.str('furrow_become_password', 'ansible_become_password', 'ansible_become_pass') ?? defaults.becomePassword;
  if (becomePassword !== undefined) spec.becomePassword = becomePassword;

  const jump = local ? undefined : (v.str('furrow_jump') ?? sshConfig.proxyJump);
  if (jump !== undefined) spec.jump = jumpChain(name, jump, defaults, depth, v);
  return spec;
}

/** `a,b` means: reach b through a, then the host through b. */
function jumpChain(target: string, jump: string, defaults: SpecDefaults, depth: number, v: VarReader): ConnectionSpec {
  if (depth >= MAX_JUMP_DEPTH)
    v.fail(`jump hosts for ${target} nest more than ${MAX_JUMP_DEPTH} deep (a ProxyJump loop in the ssh config?)`);
  let previous: ConnectionSpec | undefined;
  for (const hop of jump
    .split(',')
    .map((h) => h.trim())
    .filter(Boolean)) {
    const spec = hopSpec(hop, defaults, depth, v);
    previous = previous ? { ...spec, jump: previous } : spec;
  }
  if (!previous) return v.fail(`jump host for ${target} is empty`);
  return previous;
}

function hopSpec(hop: string, defaults: SpecDefaults, depth: number, v: VarReader): ConnectionSpec {
  const parsed = parseHop(hop);
  if (!parsed) return v.fail(`jump host '${hop}' is not [user@]host[:port]`);
  if (parsed.user === undefined && parsed.port === undefined) {
    const inventoryHost = defaults.resolveHost?.(parsed.host);
    if (inventoryHost) return { ...inventoryHost, become: false };
  }
  const vars: Record<string, unknown> = { furrow_connection: 'ssh' };
  if (parsed.user !== undefined) vars.furrow_user = parsed.user;
  if (parsed.port !== undefined) vars.furrow_port = parsed.port;
  const { user: _user, password: _password, becomePassword: _becomePassword, ...hopDefaults } = defaults;
  return buildSpec(parsed.host, vars, { ...hopDefaults, become: false }, depth + 1);
}

/** `[user@]host[:port]`, `[v6addr]:port`, or `ssh://[user@]host[:port]`. */
export function parseHop(hop: string): { user?: string; host: string; port?: number } | undefined {
  const m = /^(?:ssh:\/\/)?(?:([^@\s]+)@)?(\[[^\]]+\]|[^:@\s[\]]+)(?::(\d+))?$/.exec(hop.trim());
  if (!m) return undefined;
  const host = m[2]!.replace(/^\[(.*)\]$/, '$1');
  const port = m[3] !== undefined ? Number(m[3]) : undefined;
  if (port !== undefined && (port < 1 || port > 65535)) return undefined;
  return { host, ...(m[1] !== undefined ? { user: m[1] } : {}), ...(port !== undefined ? { port } : {}) };
}

function absolutePath(path: string, baseDir: string | undefined): string {
  const expanded = expandPath(path);
  return resolve(baseDir ?? process.cwd(), expanded);
}

/** Reads typed values from inventory vars (INI gives strings, YAML real types); first key wins. */
class VarReader {
  constructor(
    private readonly host: string,
    private readonly vars: Record<string, unknown>,
    private readonly place: SourcePlace | undefined,
  ) {}

  keyOf(...keys: string[]): string {
    return keys.find((k) => this.vars[k] !== undefined && this.vars[k] !== null && this.vars[k] !== '') ?? keys[0]!;
  }

  fail(problem: string, fix?: string): never {
    throw new InputError(this.place, `host ${this.host}: ${problem}`, fix);
  }

  private raw(keys: string[]): { key: string; value: unknown } | undefined {
    const key = keys.find((k) => this.vars[k] !== undefined && this.vars[k] !== null && this.vars[k] !== '');
    return key === undefined ? undefined : { key, value: this.vars[key] };
  }

  str(...keys: string[]): string | undefined {
    const found = this.raw(keys);
    if (!found) return undefined;
    if (typeof found.value === 'string') return found.value;
    if (typeof found.value === 'number' || typeof found.value === 'boolean') return String(found.value);
    return this.fail(
      `${found.key} must be a string, got ${Array.isArray(found.value) ? 'a list' : typeof found.value}`,
    );
  }

  num(...keys: string[]): number | undefined {
    const text = this.str(...keys);
    if (text === undefined) return undefined;
    const n = Number(text);
    if (!Number.isFinite(n)) return this.fail(`${this.keyOf(...keys)} must be a number, got '${text}'`);
    return n;
  }

  port(...keys: string[]): number | undefined {
    const n = this.num(...keys);
    if (n !== undefined && (!Number.isInteger(n) || n < 1 || n > 65535))
      return this.fail(`${this.keyOf(...keys)} must be a port number (1-65535), got '${n}'`);
    return n;
  }

  bool(...keys: string[]): boolean | undefined {
    const text = this.str(...keys)?.toLowerCase();
    if (text === undefined) return undefined;
    if (['true', 'yes', 'on', '1', 'y'].includes(text)) return true;
    if (['false', 'no', 'off', '0', 'n'].includes(text)) return false;
    return this.fail(`${this.keyOf(...keys)} must be true or false, got '${text}'`, 'use true/false or yes/no');
  }
}
