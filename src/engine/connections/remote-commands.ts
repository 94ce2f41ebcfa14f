/**
 * The shell commands both transports run: become (sudo) wrapping, atomic put and streaming get.
 * Written once here so SSH and local behave the same, byte for byte.
 */
import { randomBytes } from 'node:crypto';
import { posix } from 'node:path';
import { InputError } from '../errors.js';
import { PassThrough } from 'node:stream';
import { quote, sh } from '../shell.js';
import type { ConnectionSpec, ExecOptions, PutOptions } from './types.js';

/** What to run, and (for sudo with a password) the markers the exec driver watches on stderr. */
export interface CommandPlan {
  command: string;
  sudo?: SudoPassword;
}

export interface SudoPassword {
  /** sudo prints this as its prompt (-p): we answer it with the password. */
  promptMarker: string;
  /** The wrapped shell prints this to stderr once sudo let it run: the command starts there. */
  okMarker: string;
  password: string;
  /** Who sudo asked the password for, and for whom: for the error message. */
  loginUser: string;
  becomeUser: string;
}

export interface BecomeSettings {
  loginUser: string;
  become: boolean;
  becomeUser: string;
  becomePassword?: string;
}

/** The become settings for one command: the spec's, unless the command overrides them. */
export function becomeFor(
  spec: ConnectionSpec,
  loginUser: string,
  become: boolean | undefined,
  becomeUser?: string,
): BecomeSettings {
  return {
    loginUser,
    become: become ?? spec.become,
    becomeUser: becomeUser ?? spec.becomeUser,
    ...(spec.becomePassword !== undefined ? { becomePassword: spec.becomePassword } : {}),
  };
}

export interface Watchdog {
  timeoutMs: number;
  /** 'always' for SSH; 'become' where our own kill reaches everything unless sudo is involved. */
  when: 'always' | 'become';
}

/**
 * Wrap a command so it runs as the become user (unchanged when no switch is needed), and with a
 * timeout under a `timeout` watchdog on the host that fires a second after our deadline. Why: our
 * kill does not reach everything. sshd refuses signal requests on root logins (no privilege
 * separation there), and for other logins it signals as the login user, so under sudo a root
 * command would outlive its timeout. The watchdog kills the command's whole process group.
 */
export function planCommand(command: string, settings: BecomeSettings, watchdog?: Watchdog): CommandPlan {
  const switching = settings.become && settings.loginUser !== settings.becomeUser;
  if (watchdog && (watchdog.when === 'always' || switching)) {
    command = sh`timeout -s KILL ${Math.ceil(watchdog.timeoutMs / 1000) + 1} sh -c ${command}`;
  }
  if (!switching) return { command };
  // root needs no password to switch; without a password sudo must never wait for one (-n).
  if (settings.loginUser === 'root' || settings.becomePassword === undefined) {
    return { command: sh`sudo -n -H -u ${settings.becomeUser} -- sh -c ${command}` };
  }
  const token = randomBytes(9).toString('hex');
  // No '%' in markers: sudo expands %-escapes in its prompt.
  const promptMarker = `FURROW-SUDO-PROMPT-${token}`;
  const okMarker = `FURROW-SUDO-OK-${token}`;
  // -k: ignore a cached sudo credential, so every run goes through the same exchange;
  // -S: read the password from stdin. The inner sh announces success, then runs the command
  // ($0), so our stdin is only fed once sudo has stopped reading the password from it.
  const inner = sh`echo ${okMarker} >&2; exec sh -c "$0"`;
  return {
    command: sh`sudo -k -S -p ${promptMarker} -H -u ${settings.becomeUser} -- sh -c ${inner} ${command}`,
    sudo: {
      promptMarker,
      okMarker,
      password: settings.becomePassword,
      loginUser: settings.loginUser,
      becomeUser: settings.becomeUser,
    },
  };
}

/** Temp file beside the destination, so the final rename is atomic (same filesystem). */
export function tempPathFor(dest: string): string {
  const dir = posix.dirname(dest);
  return posix.join(dir, `.${posix.basename(dest)}.furrow.${randomBytes(6).toString('hex')}`);
}

export function normaliseMode(mode: string | number | undefined): string {
  if (mode === undefined) return '0644';
  if (typeof mode === 'number') {
    if (!Number.isInteger(mode) || mode < 0 || mode > 0o7777)
      throw new InputError(undefined, `file mode ${mode} is out of range`, "give an octal string such as '0644'");
    return mode.toString(8).padStart(4, '0');
  }
  if (/^[0-7]{3,4}$/.test(mode) || /^[ugoa]*[-+=][rwxXst]*(,[ugoa]*[-+=][rwxXst]*)*$/.test(mode)) return mode;
  throw new InputError(
    undefined,
    `file mode '${mode}' is not valid`,
    "give an octal string such as '0644' or a symbolic mode such as 'u=rw,go=r'",
  );
}

/**
 * One command that receives the file on stdin and installs it atomically:
 * write a temp file, check its size, set mode and owner, rename over dest.
 * Any failure (or SIGTERM/HUP) removes the temp file; dest is never half-written.
 * `size` guards against a truncated stream (a dropped connection gives cat an early EOF).
 */
export function putCommand(
  dest: string,
  opts: PutOptions & { size?: number; base64?: boolean },
  tmp = tempPathFor(dest),
): string {
  const mode = normaliseMode(opts.mode);
  const receive = opts.base64 ? 'base64 -d > "$tmp" || exit 1' : 'cat > "$tmp" || exit 1';
  const lines = [...tempFileLines(tmp, mode), receive];
  if (opts.size !== undefined) lines.push(sizeCheck(dest, opts.size));
  lines.push(...finishLines(dest, opts, umaskFor(mode) === undefined));
  return lines.join('\n');
}

/**
 * The temp file is created with its final mode where a umask can give it (no x or special
 * bits): one chmod process less per file. Otherwise it starts as 0600 and chmod sets the mode.
 */
function tempFileLines(tmp: string, mode: string): string[] {
  return [
    `umask ${umaskFor(mode) ?? '077'}`,
    sh`tmp=${tmp}`,
    `trap 'rm -f "$tmp"' EXIT`,
    `trap 'exit 143' HUP INT TERM`,
  ];
}

/** The umask under which a new file (0666 & ~umask) gets exactly this mode, if there is one. */
function umaskFor(mode: string): string | undefined {
  if (!/^[0-7]{3,4}$/.test(mode)) return undefined;
  const bits = parseInt(mode, 8);
  return bits & ~0o666 ? undefined : (0o777 & ~bits).toString(8).padStart(4, '0');
}

/** For a stream of unknown length: the first command only receives into the temp file ... */
export function receiveCommand(tmp: string): string {
  return [
    'umask 077',
    sh`tmp=${tmp}`,
    `trap 'rm -f "$tmp"; exit 143' HUP INT TERM`,
    `cat > "$tmp" || { rm -f "$tmp"; exit 1; }`,
  ].join('\n');
}

/** ... and the second checks the byte count we sent and installs it (or removes it). */
export function installCommand(dest: string, tmp: string, opts: PutOptions & { size: number }): string {
  return [
    'umask 077',
    sh`tmp=${tmp}`,
    `trap 'rm -f "$tmp"' EXIT`,
    sizeCheck(dest, opts.size),
    ...finishLines(dest, opts, true),
  ].join('\n');
}

function sizeCheck(dest: string, size: number): string {
  return (
    sh`n=$(wc -c < "$tmp") && [ "$n" -eq ${size} ] || { echo "furrow: put "${dest}": received $n of "${size}" ` +
    sh`bytes" >&2; exit 1; }`
  );
}

function finishLines(dest: string, opts: PutOptions, chmod: boolean): string[] {
  const lines = chmod ? [sh`chmod ${normaliseMode(opts.mode)} "$tmp" || exit 1`] : [];
  if (opts.owner !== undefined) {
    const who = opts.group !== undefined ? `${opts.owner}:${opts.group}` : opts.owner;
    lines.push(sh`chown ${who} "$tmp" || exit 1`);
  } else if (opts.group !== undefined) {
    lines.push(sh`chgrp ${opts.group} "$tmp" || exit 1`);
  }
  // mv onto a directory (or a link to one) would move the file into it: refuse instead.
  lines.push(sh`if [ -d ${dest} ]; then echo "furrow: put "${dest}": is a directory" >&2; exit 1; fi`);
  // Once moved, there is no temp file for the EXIT trap to remove: spare the host that rm.
  lines.push(sh`mv -f "$tmp" ${dest} && trap - EXIT`);
  return lines;
}

/** Streams a remote file to stdout. */
export function getCommand(src: string): string {
  return sh`cat -- ${src}`;
}

/**
 * A command with an environment (the `environment` keyword), without the values in its text: the
 * values may be secrets, and a command's text is a command line on the host (world-readable in
 * /proc/PID/cmdline under sudo or on a channel of its own). They travel first on the command's
 * standard input, as `export NAME='value'` lines that the shell's `read` builtin takes one byte at
 * a time, so the command still gets its own input, untouched, right after them. Set inside the
 * command, so after sudo switched users (sudo would reset them otherwise).
 */
export function withEnvironment(
  command: string,
  env: Record<string, string>,
  stdin: ExecOptions['stdin'],
): { command: string; stdin: ExecOptions['stdin'] } {
  const names = Object.keys(env);
  if (names.length === 0) return { command, stdin };
  const bad = names.find((n) => !/^[A-Za-z_][A-Za-z0-9_]*$/.test(n));
  if (bad !== undefined)
    throw new InputError(
      undefined,
      `environment: '${bad}' is not a variable name`,
      'use letters, digits and _, not starting with a digit',
    );
  const preamble = names.map((n) => `export ${n}=${quote(env[n]!)}\n`).join('');
  const lines = preamble.split('\n').length - 1;
  const reader = [
    `furrow_env=; furrow_n=0`,
    `while [ "$furrow_n" -lt ${lines} ] && IFS= read -r furrow_line; do furrow_env="$furrow_env$furrow_line\n"; ` +
      `furrow_n=$((furrow_n + 1)); done`,
    `eval "$furrow_env"; unset furrow_env furrow_n furrow_line`,
  ].join('\n');
  return { command: `${reader}\n${command}`, stdin: prependInput(preamble, stdin) };
}

function prependInput(first: string, rest: ExecOptions['stdin']): ExecOptions['stdin'] {
  if (rest === undefined) return first;
  if (typeof rest === 'string' || Buffer.isBuffer(rest))
    return Buffer.concat([Buffer.from(first, 'utf8'), Buffer.from(rest)]);
  const joined = new PassThrough();
  rest.once('error', (err) => joined.destroy(err));
  joined.write(first);
  rest.pipe(joined);
  return joined;
}
