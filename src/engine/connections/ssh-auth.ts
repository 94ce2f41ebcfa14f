/**
 * Which credentials to offer, in OpenSSH's order (keys, agent, password), and a record of what
 * was really tried, so an AuthError can say it.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import type { AnyAuthMethod, AuthHandlerMiddleware, KeyboardInteractiveCallback, ParsedKey, Prompt } from 'ssh2';
import { InputError } from '../errors.js';
import type { ConnectionSpec } from './types.js';

/** What OpenSSH tries when no identity is configured, in its order. */
const DEFAULT_IDENTITIES = ['id_ed25519', 'id_ecdsa', 'id_rsa'];

interface Offer {
  label: string;
  method: AnyAuthMethod;
}

export interface AuthPlan {
  handler: AuthHandlerMiddleware;
  /** Labels of the methods actually attempted, e.g. `publickey(/root/.ssh/id_ed25519)`. */
  tried: string[];
  /** Methods the server said it accepts, once it has said so. */
  serverAccepts: string[];
  /** Credentials that were given but not usable, e.g. a missing agent socket. */
  skipped: string[];
}

export function planAuth(spec: ConnectionSpec): AuthPlan {
  const username = spec.user;
  const offers: Offer[] = [];
  const skipped: string[] = [];
  if (spec.privateKeyFile) {
    const key = loadPrivateKey(
      spec.privateKeyFile,
      spec.passphrase,
      spec.agent !== undefined && agentExists(spec.agent),
    );
    if (key) offers.push({ label: `publickey(${spec.privateKeyFile})`, method: { type: 'publickey', username, key } });
    else skipped.push(`publickey(${spec.privateKeyFile}): encrypted and no passphrase given`);
  } else if (spec.password === undefined) {
    for (const file of DEFAULT_IDENTITIES.map((name) => join(homedir(), '.ssh', name)).filter(existsSync)) {
      const key = tryDefaultKey(file, spec.passphrase);
      if (key) offers.push({ label: `publickey(${file})`, method: { type: 'publickey', username, key } });
    }
  }
  if (spec.agent !== undefined) {
    if (agentExists(spec.agent))
      offers.push({ label: `agent(${spec.agent})`, method: { type: 'agent', username, agent: spec.agent } });
    else skipped.push(`agent(${spec.agent}): no such socket`);
  }
  if (spec.password !== undefined) {
    const password = spec.password;
    offers.push({ label: 'password', method: { type: 'password', username, password } });
    // Servers that only take passwords through PAM ask via keyboard-interactive.
    offers.push({
      label: 'keyboard-interactive',
      method: {
        type: 'keyboard-interactive',
        username,
        prompt: (
          _name: string,
          _instructions: string,
          _lang: string,
          prompts: Prompt[],
          finish: KeyboardInteractiveCallback,
        ) => finish(prompts.map(() => password)),
      },
    });
  }

  const plan: AuthPlan = { tried: [], serverAccepts: [], skipped, handler: () => false };
  const queue = [...offers];
  plan.handler = (methodsLeft, _partialSuccess, next) => {
    if (methodsLeft) plan.serverAccepts = [...methodsLeft];
    // Skip what the server already said it will not take: saves round trips and keeps `tried` honest.
    let offer = queue.shift();
    while (offer && methodsLeft && !(methodsLeft as string[]).includes(wireName(offer.method.type)))
      offer = queue.shift();
    // `false` ends authentication (ssh2 supports it; its typings omit it).
    if (!offer) return next(false as unknown as AnyAuthMethod);
    plan.tried.push(offer.label);
    next(offer.method);
  };
  return plan;
}

/** The AuthError detail: what we tried, what was unusable, what the server would accept. */
export function describeAuthFailure(plan: AuthPlan): string {
  const parts = [
    plan.tried.length
      ? `tried ${plan.tried.join(', ')}`
      : 'no credentials to try (give a private key file, a password, or an ssh-agent via SSH_AUTH_SOCK)',
  ];
  if (plan.skipped.length) parts.push(`skipped ${plan.skipped.join(', ')}`);
  if (plan.serverAccepts.length) parts.push(`server accepts ${plan.serverAccepts.join(', ')}`);
  return parts.join('; ');
}

function wireName(type: AnyAuthMethod['type']): string {
  return type === 'agent' ? 'publickey' : type;
}

function agentExists(socket: string): boolean {
  try {
    return statSync(socket).isSocket();
  } catch {
    return false;
  }
}

/**
 * Reads and decrypts the key the inventory named. Unreadable, unparsable or undecryptable keys are
 * input errors naming the file. Encrypted without a passphrase: skipped (undefined) when an agent
 * can stand in (OpenSSH would use the agent's copy), an input error otherwise.
 */
export function loadPrivateKey(
  file: string,
  passphrase: string | undefined,
  agentAvailable: boolean,
): ParsedKey | undefined {
  let data: Buffer;
  try {
    data = readFileSync(file);
  } catch (err) {
    throw new InputError(
      { file },
      `cannot read private key: ${(err as Error).message}`,
      "fix the path in furrow_private_key_file / ansible_ssh_private_key_file, or the file's permissions",
    );
  }
  const parsed = ssh2.utils.parseKey(data, passphrase);
  const key = Array.isArray(parsed) ? (parsed[0] as ParsedKey | Error) : parsed;
  if (key instanceof Error) {
    if (/no passphrase given/i.test(key.message)) {
      if (agentAvailable) return undefined;
      throw new InputError(
        { file },
        'private key is encrypted and no passphrase was given',
        'set furrow_passphrase for this host, or load the key into ssh-agent (ssh-add) and export SSH_AUTH_SOCK',
      );
    }
    if (/passphrase|decrypt/i.test(key.message))
      throw new InputError({ file }, `cannot decrypt private key: ${key.message}`, 'check furrow_passphrase');
    throw new InputError(
      { file },
      `not a usable private key: ${key.message}`,
      'give an OpenSSH, PEM or PPK private key',
    );
  }
  if (!key.isPrivateKey())
    throw new InputError(
      { file },
      'this is a public key, not a private key',
      'point the setting at the file without .pub',
    );
  return key;
}

/** Default identities are tried quietly, as OpenSSH does: an unusable one is simply not offered. */
function tryDefaultKey(file: string, passphrase: string | undefined): ParsedKey | undefined {
  try {
    return loadPrivateKey(file, passphrase, true);
  } catch {
    return undefined;
  }
}
