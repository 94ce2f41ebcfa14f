/**
 * Our own known_hosts file, in OpenSSH's format, so `ssh -o UserKnownHostsFile=<file>` agrees with
 * us. Pure functions first (parse, match, judge, messages: unit-tested), then the small file I/O.
 */
import { createHash, createHmac } from 'node:crypto';
import { appendFile, mkdir, readFile, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { HostKeyError } from '../errors.js';

/** Our own known_hosts when the inventory names none (never ~/.ssh/known_hosts: we write to it). */
export const DEFAULT_KNOWN_HOSTS = join(process.env.HOME ?? '/root', '.furrow', 'known_hosts');

export interface KnownHostEntry {
  /** '@revoked' or '@cert-authority' when the line starts with one. */
  marker?: string;
  /** The host field as written: comma-separated patterns, or one hashed `|1|salt|hash` name. */
  hosts: string;
  keyType: string;
  keyBase64: string;
  /** 1-based line number, for messages. */
  line: number;
}

export function parseKnownHosts(text: string): KnownHostEntry[] {
  const entries: KnownHostEntry[] = [];
  text.split('\n').forEach((rawLine, index) => {
    const fields = rawLine.trim().split(/\s+/);
    if (fields[0] === '' || fields[0]!.startsWith('#')) return;
    const marker = fields[0]!.startsWith('@') ? fields.shift() : undefined;
    const [hosts, keyType, keyBase64] = fields;
    if (!hosts || !keyType || !keyBase64) return; // malformed lines are skipped, as OpenSSH does
    entries.push({ ...(marker ? { marker } : {}), hosts, keyType, keyBase64, line: index + 1 });
  });
  return entries;
}

/** The name OpenSSH records: `host` on port 22, `[host]:port` otherwise. */
export function knownHostName(address: string, port: number): string {
  return port === 22 ? address : `[${address}]:${port}`;
}

/** Does a known_hosts host field match this name? Handles lists, `*`/`?`, `!negation` and hashes. */
export function hostFieldMatches(field: string, name: string): boolean {
  if (field.startsWith('|1|')) return hashedNameMatches(field, name);
  let matched = false;
  for (const pattern of field.split(',')) {
    const negated = pattern.startsWith('!');
    if (!globMatches(negated ? pattern.slice(1) : pattern, name.toLowerCase())) continue;
    if (negated) return false;
    matched = true;
  }
  return matched;
}

function hashedNameMatches(field: string, name: string): boolean {
  const [, , salt, hash] = field.split('|');
  if (!salt || !hash) return false;
  const digest = createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest('base64');
  return digest === hash;
}

function globMatches(pattern: string, name: string): boolean {
  const source = pattern
    .toLowerCase()
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${source}$`).test(name);
}

/** The key type is the first SSH string (uint32 length + bytes) of the public key blob. */
export function keyTypeOf(blob: Buffer): string {
  if (blob.length < 4) throw new Error('host key blob too short');
  const length = blob.readUInt32BE(0);
  if (length === 0 || length > 64 || 4 + length > blob.length) throw new Error('host key blob has no valid key type');
  return blob.subarray(4, 4 + length).toString('latin1');
}

/** `SHA256:<base64 without padding>`, exactly as `ssh-keygen -lf` and ssh's prompts print it. */
export function fingerprint(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

export function formatKnownHostLine(name: string, blob: Buffer): string {
  return `${name} ${keyTypeOf(blob)} ${blob.toString('base64')}\n`;
}

export type HostKeyVerdict =
  | { kind: 'known' }
  | { kind: 'unknown' }
  | { kind: 'revoked'; entry: KnownHostEntry }
  | { kind: 'changed'; recorded: KnownHostEntry[] };

/** Compare the presented key with what the file says about this host name. */
export function judgeHostKey(entries: KnownHostEntry[], name: string, blob: Buffer): HostKeyVerdict {
  const presented = blob.toString('base64');
  const forHost = entries.filter((e) => e.marker !== '@cert-authority' && hostFieldMatches(e.hosts, name));
  const revoked = forHost.find((e) => e.marker === '@revoked' && e.keyBase64 === presented);
  if (revoked) return { kind: 'revoked', entry: revoked };
  const plain = forHost.filter((e) => e.marker === undefined);
  if (plain.some((e) => e.keyBase64 === presented)) return { kind: 'known' };
  // We ask the server for the recorded key types first (hostKeyAlgorithmsFor), so a key of
  // another type means the recorded key is gone: treat it as a change, never as new.
  return plain.length === 0 ? { kind: 'unknown' } : { kind: 'changed', recorded: plain };
}

/** Host key algorithms to offer, recorded types first (as OpenSSH does), so a known host
 * presents the key we have on record even when it has several. */
export function hostKeyAlgorithmsFor(recordedKeyTypes: string[]): string[] {
  const all = [
    'ssh-ed25519',
    'ecdsa-sha2-nistp256',
    'ecdsa-sha2-nistp384',
    'ecdsa-sha2-nistp521',
    'rsa-sha2-512',
    'rsa-sha2-256',
    'ssh-rsa',
  ];
  const algorithmsOf = (type: string): string[] =>
    type === 'ssh-rsa' ? ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'] : [type];
  const first = recordedKeyTypes.flatMap(algorithmsOf).filter((a) => all.includes(a));
  return [...new Set([...first, ...all])];
}

export function changedKeyMessage(name: string, file: string, blob: Buffer, recorded: KnownHostEntry[]): string {
  const old = recorded.map((e) => `${e.keyType} ${fingerprintOfBase64(e.keyBase64)} (${file}:${e.line})`).join(', ');
  const lines = recorded.map((e) => e.line).join(', ');
  return [
    `host key for ${name} has CHANGED: someone may be intercepting the connection, or the host was reinstalled.`,
    `  presented: ${keyTypeOf(blob)} ${fingerprint(blob)}`,
    `  recorded:  ${old}`,
    `  fix: if the change is ` +
      `expected, remove line ${lines} from ${file} (or run: ssh-keygen -R '${name}' -f ${file}) and connect again`,
  ].join('\n');
}

export function unknownKeyMessage(name: string, file: string, blob: Buffer): string {
  return [
    `host key for ${name} is not known and strict host key checking is on.`,
    `  presented: ${keyTypeOf(blob)} ${fingerprint(blob)}`,
    `  fix: after checking the fingerprint on the host (ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub), ` +
      `add this line to ${file}:`,
    `  ${formatKnownHostLine(name, blob).trimEnd()}`,
  ].join('\n');
}

export function revokedKeyMessage(name: string, file: string, blob: Buffer, entry: KnownHostEntry): string {
  return (
    `host key ${keyTypeOf(blob)} ${fingerprint(blob)} presented by ${name} is marked @revoked in ` +
    `${file}:${entry.line}`
  );
}

function fingerprintOfBase64(keyBase64: string): string {
  return fingerprint(Buffer.from(keyBase64, 'base64'));
}

// ---- file I/O ----

export async function readKnownHosts(file: string): Promise<KnownHostEntry[]> {
  return parseKnownHosts(await readTextIfExists(file));
}

async function readTextIfExists(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw err;
  }
}

/** Serialises check-and-record per file within this process, so parallel first connections to
 * the same host record it once; each line is a single O_APPEND write, safe across processes. */
const fileLocks = new Map<string, Promise<unknown>>();

function withFileLock<T>(file: string, fn: () => Promise<T>): Promise<T> {
  const previous = fileLocks.get(file) ?? Promise.resolve();
  const next = previous.then(fn, fn);
  fileLocks.set(
    file,
    next.catch(() => undefined),
  );
  return next;
}

export interface HostKeyCheck {
  /** Inventory name, for messages. */
  host: string;
  /** Name as recorded in the file (`knownHostName`). */
  name: string;
  file: string;
  strict: boolean;
}

/**
 * What the user must hear about a key we accepted: a first-use recording (with the fingerprint, to
 * compare with the host's own `ssh-keygen -lf`), or that nothing was checked at all.
 */
export function hostKeyNotice(outcome: HostKeyOutcome, check: HostKeyCheck, blob: Buffer): string | undefined {
  const key = `${keyTypeOf(blob)} ${fingerprint(blob)}`;
  if (outcome === 'recorded') return `first connection: recorded host key ${key} for ${check.name} in ${check.file}`;
  if (outcome === 'unchecked') {
    return (
      `HOST KEY CHECKING IS OFF: ` +
      `known_hosts file ${check.file} cannot record keys, so any key is accepted and a man in the middle would go ` +
      `unnoticed (accepted ${key} for ${check.name}); set furrow_known_hosts_file to a real file`
    );
  }
  return undefined;
}

/** 'unchecked': the file can record nothing (/dev/null or another non-regular file), so any key passes. */
export type HostKeyOutcome = 'known' | 'recorded' | 'unchecked';

/** /dev/null and other special files read as empty and swallow what is written. */
async function recordsNothing(file: string): Promise<boolean> {
  try {
    return !(await stat(file)).isFile();
  } catch {
    return false; // absent: we create it
  }
}

/** Accept, record (trust on first use) or refuse the presented key; refusals throw HostKeyError. */
export function verifyHostKey(check: HostKeyCheck, blob: Buffer): Promise<HostKeyOutcome> {
  return withFileLock(check.file, async () => {
    const text = await readTextIfExists(check.file);
    const verdict = judgeHostKey(parseKnownHosts(text), check.name, blob);
    switch (verdict.kind) {
      case 'known':
        return 'known';
      case 'revoked':
        throw new HostKeyError(check.host, revokedKeyMessage(check.name, check.file, blob, verdict.entry));
      case 'changed':
        throw new HostKeyError(check.host, changedKeyMessage(check.name, check.file, blob, verdict.recorded));
      case 'unknown': {
        if (check.strict) throw new HostKeyError(check.host, unknownKeyMessage(check.name, check.file, blob));
        if (await recordsNothing(check.file)) return 'unchecked';
        await mkdir(dirname(check.file), { recursive: true, mode: 0o700 });
        // A hand-edited file may lack its final newline: never glue our line onto the last one.
        const separator = text === '' || text.endsWith('\n') ? '' : '\n';
        await appendFile(check.file, separator + formatKnownHostLine(check.name, blob), { mode: 0o600 });
        return 'recorded';
      }
    }
  });
}
