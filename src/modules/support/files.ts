/**
 * What the file-family modules share: Ansible-style params (modes, owners, yes/no), comparing a
 * file's attributes with the wanted ones, the commands that fix them, and readable diffs.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createTwoFilesPatch, FILE_HEADERS_ONLY } from 'diff';
import { FurrowError, InputError } from '../../engine/errors.js';
import type { PresentFile } from '../../engine/facts/files.js';
import type { ExecResult } from '../../engine/connections/types.js';
import type { ModuleContext, ValueChange } from '../../engine/module.js';
import { sh } from '../../engine/shell.js';

// ---- params --------------------------------------------------------------------------------

const YES = ['yes', 'true', 'on', 'y', '1'];
const NO = ['no', 'false', 'off', 'n', '0'];

/** Ansible users write `create: yes`, which YAML 1.2 reads as a string: accept both. */
export const boolParam = { anyOf: [{ type: 'boolean' }, { type: 'string', enum: [...YES, ...NO, 'True', 'False', 'Yes', 'No'] }] };
export const modeParam = { type: ['string', 'integer'] };
export const idParam = { type: ['string', 'integer'] };

export function isTrue(value: unknown, fallback = false): boolean {
  if (value === undefined || value === null) return fallback;
  if (typeof value === 'boolean') return value;
  return YES.includes(String(value).toLowerCase());
}

/** An owner or group as given: a name or a numeric id, as a string. */
export function idText(value: string | number | undefined): string | undefined {
  return value === undefined ? undefined : String(value);
}

/** Ansible lets `path` also be spelled `dest` or `name` in file, lineinfile and blockinfile. */
export const pathProperties = {
  path: { type: 'string', minLength: 1 },
  dest: { type: 'string', minLength: 1 },
  name: { type: 'string', minLength: 1 },
} as const;

/** Schema rule that one of the spellings of `path` is given. */
export const pathRequired = [{ required: ['path'] }, { required: ['dest'] }, { required: ['name'] }];

export function pathParam(params: { path?: string; dest?: string; name?: string }, module: string): string {
  const path = params.path ?? params.dest ?? params.name;
  if (!path) throw new InputError(undefined, `${module}: 'path' is required`, `add path: /the/file`);
  return path;
}

// ---- modes ---------------------------------------------------------------------------------

export type ModeSpec = { kind: 'octal'; bits: number } | { kind: 'symbolic'; text: string };

const SYMBOLIC = /^[ugoa]*(?:[-+=][rwxXst]*)+$/;

/**
 * Strings: '0644', '644', '0o644', or symbolic 'u=rw,g=r,o=r'. Numbers: `mode: 0644` reaches us
 * as 420 from a YAML 1.1 loader (ours: src/engine/playbook/yaml-source.ts) and as 644 from a
 * YAML 1.2 one, so both must mean 0644 (see `numericMode`).
 */
export function parseMode(input: string | number, module: string): ModeSpec {
  const fail = (): never => {
    throw new InputError(undefined, `${module}: mode ${JSON.stringify(input)} is not a file mode`, `give an octal mode such as '0644' or a symbolic one such as 'u=rw,g=r,o=r'`);
  };
  if (typeof input === 'number') {
    const bits = numericMode(input);
    return bits === undefined ? fail() : { kind: 'octal', bits };
  }
  const text = input.trim();
  if (/^0?[0-7]{1,4}$/.test(text) || /^0o[0-7]{1,4}$/.test(text)) return { kind: 'octal', bits: parseInt(text.replace(/^0o/, ''), 8) };
  if (text.split(',').every((clause) => SYMBOLIC.test(clause))) return { kind: 'symbolic', text };
  return fail();
}

/**
 * A number as a mode. Up to 0o777 it is its value (0644 read by YAML 1.1, 0o644 from code). A
 * number written with octal digits that would otherwise set setuid/sticky bits (644, 755, 600:
 * YAML 1.2's reading of 0644, or a bare 644) means those octal digits, which is what the user
 * wrote; setuid/sticky modes from YAML 1.1 (04755 -> 2541) keep their value.
 */
export function numericMode(n: number): number | undefined {
  if (!Number.isInteger(n) || n < 0) return undefined;
  const octalDigits = /^[0-7]+$/.test(String(n)) ? parseInt(String(n), 8) : undefined;
  if (n <= 0o777) return n;
  if (n <= 777 && octalDigits !== undefined) return octalDigits;
  if (n <= 0o7777) return n;
  return octalDigits !== undefined && octalDigits <= 0o7777 ? octalDigits : undefined;
}

/** The mode a file ends up with: symbolic modes apply to its current mode (or a new file's default). */
export function resolveMode(spec: ModeSpec, current: number | undefined, isDirectory: boolean): number {
  if (spec.kind === 'octal') return spec.bits;
  let mode = current ?? (isDirectory ? 0o755 : 0o644);
  for (const clause of spec.text.split(',')) {
    const who = /^[ugoa]*/.exec(clause)![0] || 'a';
    const scope = [...who].reduce((m, w) => m | WHO_BITS[w as keyof typeof WHO_BITS], 0);
    for (const [, op, perms] of clause.slice(/^[ugoa]*/.exec(clause)![0].length).matchAll(/([-+=])([rwxXst]*)/g)) {
      let bits = 0;
      for (const p of perms ?? '') bits |= p === 'X' ? (isDirectory || mode & 0o111 ? 0o111 : 0) : PERM_BITS[p as keyof typeof PERM_BITS];
      bits &= scope;
      if (op === '+') mode |= bits;
      else if (op === '-') mode &= ~bits;
      else mode = (mode & ~scope) | bits;
    }
  }
  return mode;
}

const WHO_BITS = { u: 0o4700, g: 0o2070, o: 0o1007, a: 0o7777 };
const PERM_BITS = { r: 0o444, w: 0o222, x: 0o111, s: 0o6000, t: 0o1000 };

export function formatMode(bits: number): string {
  return bits.toString(8).padStart(4, '0');
}

// ---- attributes ----------------------------------------------------------------------------

export interface WantedAttrs {
  mode?: ModeSpec;
  owner?: string;
  group?: string;
}

export function wantedAttrs(params: { mode?: string | number; owner?: string | number; group?: string | number }, module: string): WantedAttrs {
  return {
    ...(params.mode !== undefined ? { mode: parseMode(params.mode, module) } : {}),
    ...(params.owner !== undefined ? { owner: String(params.owner) } : {}),
    ...(params.group !== undefined ? { group: String(params.group) } : {}),
  };
}

/** An owner given as a name or as an id matches what stat reported. */
export function idMatches(want: string, name: string, id: number): boolean {
  return want === name || want === String(id);
}

/** mode/owner/group that differ on an existing file, as old/new values ('mode' as '0644'). */
export function attrChanges(file: PresentFile, want: WantedAttrs): ValueChange[] {
  const changes: ValueChange[] = [];
  const isDir = file.type === 'directory';
  // A link's own mode means nothing (chmod follows links): only its owner and group are managed.
  if (want.mode && file.type !== 'link') {
    const mode = resolveMode(want.mode, file.mode, isDir);
    if (mode !== file.mode) changes.push({ key: 'mode', before: formatMode(file.mode), after: formatMode(mode) });
  }
  if (want.owner !== undefined && !idMatches(want.owner, file.owner, file.uid)) changes.push({ key: 'owner', before: file.owner, after: want.owner });
  if (want.group !== undefined && !idMatches(want.group, file.group, file.gid)) changes.push({ key: 'group', before: file.group, after: want.group });
  return changes;
}

/**
 * chmod/chown for the given changes. They follow a link to its target, as Ansible's file does
 * by default; `link: true` changes the link itself (chown -h; a link has no mode of its own).
 */
export function attrCommand(path: string, changes: ValueChange[], opts: { recurse?: boolean; link?: boolean } = {}): string {
  const get = (key: string) => changes.find((c) => c.key === key)?.after as string | undefined;
  const flags = `${opts.recurse ? '-R ' : ''}${opts.link ? '-h ' : ''}`;
  const lines: string[] = [];
  const mode = get('mode');
  if (mode !== undefined && !opts.link) lines.push(`chmod ${opts.recurse ? '-R ' : ''}${sh`${mode} -- ${path}`}`);
  const owner = get('owner');
  const group = get('group');
  if (owner !== undefined) lines.push(`chown ${flags}${sh`${group !== undefined ? `${owner}:${group}` : owner} -- ${path}`}`);
  else if (group !== undefined) lines.push(`chgrp ${flags}${sh`${group} -- ${path}`}`);
  return lines.join(' && ');
}

export function describeChanges(path: string, changes: ValueChange[]): string {
  return changes.map((c) => `${c.key} of ${path} is ${String(c.before)}, wants ${String(c.after)}`).join('; ');
}

// ---- diffs and hashes ----------------------------------------------------------------------

/** A unified diff of two texts, labelled with the path on both sides. */
export function unifiedDiff(path: string, before: string, after: string): string {
  return createTwoFilesPatch(path, path, before, after, undefined, undefined, { headerOptions: FILE_HEADERS_ONLY });
}

/** Binary files get no text diff: a NUL byte within the first 8000 bytes marks them, as git does. */
export function isText(bytes: Buffer): boolean {
  return !bytes.subarray(0, 8000).includes(0);
}

export function sha256(bytes: Buffer | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Hashes this process has taken, by file identity and mtime: a read-ahead and the plan after it hash once. */
const hashes = new Map<string, string>();

/** Hashes a controller file by streaming it (binaries can be large). */
export async function sha256OfFile(localPath: string): Promise<string> {
  const info = await stat(localPath);
  const key = `${localPath}\0${info.dev}:${info.ino}:${info.size}:${info.mtimeMs}`;
  const known = hashes.get(key);
  if (known) return known;
  const digest = await new Promise<string>((resolve, reject) => {
    const hash = createHash('sha256');
    createReadStream(localPath)
      .on('error', reject)
      .on('data', (chunk) => hash.update(chunk))
      .on('end', () => resolve(hash.digest('hex')));
  });
  hashes.set(key, digest);
  return digest;
}

// ---- running -------------------------------------------------------------------------------

/** Runs a command that must succeed; a failure names the host, what we tried and stderr. */
export async function runOrFail(ctx: ModuleContext, command: string, what: string): Promise<ExecResult> {
  const result = await ctx.conn.exec(command);
  if (result.code !== 0) {
    const stderr = result.stderr.toString('utf8').trim().split('\n').slice(-20).join('\n  ');
    const status = result.timedOut ? 'timed out' : `exit status ${result.code}`;
    throw new FurrowError('module', `${ctx.host}: ${what} failed (${status})${stderr ? `:\n  ${stderr}` : ''}\n  command: ${command}`);
  }
  return result;
}

// ---- lines and regexes (lineinfile, blockinfile) -------------------------------------------

/** Python's `readlines()`: each line keeps its '\n', the last may have none. */
export function splitLines(text: string): string[] {
  return text === '' ? [] : text.split(/(?<=\n)/);
}

/** A line without its line ending, as Ansible compares (`rstrip('\r\n')`). */
export function bareLine(line: string): string {
  return line.replace(/[\r\n]+$/, '');
}

/**
 * Compiles an Ansible (Python) regular expression as JavaScript: named groups `(?P<n>...)` and
 * `(?P=n)` are rewritten; anything else JavaScript rejects is an input error naming the param.
 */
export function compileRegex(pattern: string, module: string, param: string): RegExp {
  const js = pattern.replace(/\(\?P</g, '(?<').replace(/\(\?P=(\w+)\)/g, '\\k<$1>');
  try {
    return new RegExp(js);
  } catch (err) {
    throw new InputError(undefined, `${module}: ${param} ${JSON.stringify(pattern)} is not a valid regular expression (${(err as Error).message})`, 'fix the pattern (JavaScript regular expression syntax)');
  }
}

/** Python's `match.expand(template)`: \1, \g<1>, \g<name>, and \n \t \\ escapes. */
export function expandMatch(template: string, match: RegExpExecArray): string {
  return template.replace(/\\(?:g<(\w+)>|(\d{1,2})|([\s\S]))/g, (whole, ref: string | undefined, num: string | undefined, esc: string | undefined) => {
    if (ref !== undefined) return (/^\d+$/.test(ref) ? match[Number(ref)] : match.groups?.[ref]) ?? '';
    if (num !== undefined) return match[Number(num)] ?? '';
    const escapes: Record<string, string> = { n: '\n', t: '\t', r: '\r', '\\': '\\' };
    return escapes[esc!] ?? whole;
  });
}
