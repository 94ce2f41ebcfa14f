/**
 * The sysctl probe: live values from /proc/sys for a list of keys and the text of one sysctl
 * file, in one round trip. Reads /proc/sys directly, so procps need not be installed.
 */
import { sh } from '../../engine/shell.js';
import type { Connection } from '../../engine/connections/types.js';
import { commandFailed } from '../../engine/command-failure.js';

export interface SysctlState {
  /** Live value per key (whitespace as the kernel prints it), or null when /proc/sys has no such key. */
  live: Map<string, string | null>;
  /** The file's text, or null when it does not exist. */
  file: string | null;
}

/** net.ipv4.ip_forward -> /proc/sys/net/ipv4/ip_forward; a key written with slashes is taken as it is. */
export function procPath(key: string): string {
  return `/proc/sys/${key.includes('/') ? key.replace(/^\/+/, '') : key.replace(/\./g, '/')}`;
}

export const sysctlState = {
  // Output: `present <key>` or `missing <key>` per key, then one grep of every present key's file
  // (`<path>:<line>` per line, or grep's own `grep: <path>: <why>` when a read fails), then `@file`
  // and the file's lines each prefixed with '|' (so any text parses), or `@nofile`. One process
  // reads every key: a no-change run probes each sysctl task's keys, and on small hosts each
  // process costs more than the bytes (it was one `tr` per key). /proc/sys files answer only a read
  // from offset 0, which grep does (sh's `read` takes a byte at a time); /dev/null makes grep name
  // the file on every line even when it reads one. The file is read by the shell's own `read`.
  command(keys: string[], file: string): string {
    const lines = ['set --'];
    for (const key of keys) {
      const p = procPath(key);
      lines.push(
        sh`if [ -r ${p} ]; then printf 'present %s\\n' ${key}; set -- "$@" ${p}; ` +
          sh`else printf 'missing %s\\n' ${key}; fi`,
      );
    }
    lines.push(`if [ $# -gt 0 ]; then echo @values; grep -H '' /dev/null "$@" 2>&1; fi`);
    lines.push(
      sh`if [ -f ${file} ]; then echo @file; ` +
        sh`while IFS= read -r l || [ -n "$l" ]; do printf '|%s\\n' "$l"; done < ${file}; else echo @nofile; fi`,
    );
    return lines.join('\n');
  },

  parse(stdout: string): SysctlState {
    const live = new Map<string, string | null>();
    /** Each present key's /proc/sys path. */
    const pathOf = new Map<string, string>();
    const valueLines = new Map<string, string[]>();
    const failed = new Set<string>();
    let section: 'keys' | 'values' | 'file' = 'keys';
    let file: string[] | null = null;
    for (const line of stdout.split('\n')) {
      if (section !== 'file' && (line === '@file' || line === '@nofile')) {
        section = 'file';
        if (line === '@file') file = [];
      } else if (section === 'file') {
        if (file !== null && line.startsWith('|')) file.push(line.slice(1));
      } else if (line === '@values') section = 'values';
      else if (section === 'values') {
        const error = line.startsWith('grep: ');
        const hit = longestPathPrefix(error ? line.slice(6) : line, valueLines.keys());
        if (hit === undefined) continue;
        if (error) failed.add(hit);
        else valueLines.get(hit)?.push(line.slice(hit.length + 1));
      } else if (line.startsWith('present ')) {
        const key = line.slice(8);
        pathOf.set(key, procPath(key));
        valueLines.set(procPath(key), []);
        live.set(key, '');
      } else if (line.startsWith('missing ')) live.set(line.slice(8), null);
    }
    for (const [key, p] of pathOf) {
      // As the kernel prints it, tabs and line ends as single spaces (tcp_rmem has tabs).
      live.set(key, failed.has(p) ? null : valueLines.get(p)!.join(' ').replace(/\t/g, ' ').trim());
    }
    return { live, file: file === null ? null : file.map((l) => `${l}\n`).join('') };
  },

  default: { live: new Map(), file: null } as SysctlState,
};

/** The longest of `paths` that `line` starts with, followed by ':' (a key's path may hold ':'). */
function longestPathPrefix(line: string, paths: Iterable<string>): string | undefined {
  let best: string | undefined;
  for (const p of paths) {
    if (line.startsWith(`${p}:`) && (best === undefined || p.length > best.length)) best = p;
  }
  return best;
}

export async function probeSysctl(conn: Connection, keys: string[], file: string): Promise<SysctlState> {
  const r = await conn.exec(sysctlState.command(keys, file));
  if (r.code !== 0) {
    throw commandFailed(conn.spec.name, `reading sysctl ${keys.join(', ')} and ${file}`, r);
  }
  return sysctlState.parse(r.stdout.toString('utf8'));
}
