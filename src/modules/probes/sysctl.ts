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
  // Output: one `live <key>\t<value>` or `missing <key>` line per key, then `@file` and the
  // file's lines each prefixed with '|' (so any text parses), or `@nofile`. The file is read by
  // the shell's own `read` (it was sed: a no-change run probes once per sysctl task, and each
  // process counts). /proc/sys is not: many of its files answer only a read from offset 0, and
  // sh's `read` takes one byte at a time, so `tr` reads them whole.
  command(keys: string[], file: string): string {
    const lines = keys.map((key) => {
      const p = procPath(key);
      return (
        sh`if [ -r ${p} ] && v=$(tr '\\n\\t' '  ' < ${p}); then printf 'live %s\\t%s\\n' ${key} "$v"; else ` +
        sh`printf 'missing %s\\n' ${key}; fi`
      );
    });
    lines.push(
      sh`if [ -f ${file} ]; then echo @file; ` +
        sh`while IFS= read -r l || [ -n "$l" ]; do printf '|%s\\n' "$l"; done < ${file}; else echo @nofile; fi`,
    );
    return lines.join('\n');
  },

  parse(stdout: string): SysctlState {
    const live = new Map<string, string | null>();
    let file: string[] | null = null;
    for (const line of stdout.split('\n')) {
      if (line === '@file') file = [];
      else if (file !== null && line.startsWith('|')) file.push(line.slice(1));
      else if (line.startsWith('live ')) {
        const tab = line.indexOf('\t');
        if (tab > 0) live.set(line.slice(5, tab), line.slice(tab + 1).trim());
      } else if (line.startsWith('missing ')) live.set(line.slice(8), null);
    }
    return { live, file: file === null ? null : file.map((l) => `${l}\n`).join('') };
  },

  default: { live: new Map(), file: null } as SysctlState,
};

export async function probeSysctl(conn: Connection, keys: string[], file: string): Promise<SysctlState> {
  const r = await conn.exec(sysctlState.command(keys, file));
  if (r.code !== 0) {
    throw commandFailed(conn.spec.name, `reading sysctl ${keys.join(', ')} and ${file}`, r);
  }
  return sysctlState.parse(r.stdout.toString('utf8'));
}
