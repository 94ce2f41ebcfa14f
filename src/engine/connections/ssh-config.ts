/**
 * The few ~/.ssh/config settings an operator's inventory relies on: HostName, User, Port,
 * IdentityFile and ProxyJump. Parsed once per file; `Match exec` is never run.
 */
import { existsSync, readFileSync } from 'node:fs';
import { homedir, userInfo } from 'node:os';
import { join } from 'node:path';
import SSHConfig from 'ssh-config';
import { InputError } from '../errors.js';

export interface SshConfigEntry {
  hostName?: string;
  user?: string;
  port?: number;
  /** With ~ and %-tokens expanded, in the file's order. */
  identityFiles: string[];
  /** As written (`none` removed): `[user@]host[:port]`, comma-separated for a chain. */
  proxyJump?: string;
}

export function defaultSshConfigFile(): string | undefined {
  const file = join(homedir(), '.ssh', 'config');
  return existsSync(file) ? file : undefined;
}

const parsedFiles = new Map<string, SSHConfig>();

function parsedConfig(file: string): SSHConfig {
  let config = parsedFiles.get(file);
  if (!config) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new InputError(
        { file },
        `cannot read ssh config: ${(err as Error).message}`,
        'fix the path, or leave sshConfigFile unset to use ~/.ssh/config when it exists',
      );
    }
    config = SSHConfig.parse(text);
    parsedFiles.set(file, config);
  }
  return config;
}

/** What the ssh config says about `host` (the name ssh would be given), first value winning. */
export function lookupSshConfig(file: string | undefined, host: string): SshConfigEntry {
  if (!file) return { identityFiles: [] };
  const computed = parsedConfig(file).compute(host, { ignoreCase: true, matchExec: false });
  const one = (key: string): string | undefined => {
    const value = computed[key];
    return Array.isArray(value) ? value[0] : value;
  };
  const hostName = one('hostname');
  const user = one('user');
  const port = one('port');
  const proxyJump = one('proxyjump');
  const tokens = { host, hostName: hostName ? expandTokens(hostName, { host }) : host, user, port };
  const entry: SshConfigEntry = {
    identityFiles: [computed.identityfile ?? []].flat().map((f) => expandPath(expandTokens(f, tokens))),
  };
  if (hostName) entry.hostName = tokens.hostName;
  if (user) entry.user = user;
  if (port !== undefined) {
    const n = Number(port);
    if (!Number.isInteger(n) || n < 1 || n > 65535)
      throw new InputError(
        { file },
        `Port for Host ${host} is not a port number: '${port}'`,
        'use a number from 1 to 65535',
      );
    entry.port = n;
  }
  if (proxyJump && proxyJump.toLowerCase() !== 'none') entry.proxyJump = proxyJump;
  return entry;
}

/** ~ and ~/x as the local user's home (what ssh does with IdentityFile). */
export function expandPath(path: string): string {
  if (path === '~') return homedir();
  if (path.startsWith('~/')) return join(homedir(), path.slice(2));
  return path;
}

/** The ssh_config(5) tokens that make sense without a connection: %h %n %r %p %d %u %%. */
function expandTokens(
  text: string,
  t: { host: string; hostName?: string; user?: string | undefined; port?: string | undefined },
): string {
  return text.replace(/%([%hnrpdu])/g, (_m, token: string) => {
    switch (token) {
      case 'h':
        return t.hostName ?? t.host;
      case 'n':
        return t.host;
      case 'r':
        return t.user ?? userInfo().username;
      case 'p':
        return t.port ?? '22';
      case 'd':
        return homedir();
      case 'u':
        return userInfo().username;
      default:
        return '%';
    }
  });
}

/** Forget parsed files (tests rewrite their fixtures). */
export function clearSshConfigCache(): void {
  parsedFiles.clear();
}
