/**
 * The kernel module probe: for a list of modules, whether each is loaded or built into the
 * kernel, and the files that load it at boot, in one round trip. /proc/modules may be missing
 * (a kernel without module support, or a container): /sys/module/<name> tells too, and its
 * `initstate` is there only for a module that was loaded rather than built in.
 */
import { sh } from '../../engine/shell.js';
import type { Connection } from '../../engine/connections/types.js';
import { commandFailed } from '../../engine/command-failure.js';

export interface KmodInfo {
  name: string;
  loaded: boolean;
  builtin: boolean;
  /** Text of /etc/modules-load.d/<name>.conf, or null. */
  loadFile: string | null;
  /** Text of /etc/modprobe.d/<name>.conf, or null. */
  optionsFile: string | null;
}

export interface KmodState {
  kernel: string;
  /** Whether /lib/modules/<kernel> exists (it does not in most containers). */
  moduleDir: boolean;
  modprobe: boolean;
  modules: KmodInfo[];
}

export const loadFilePath = (name: string) => `/etc/modules-load.d/${name}.conf`;
export const optionsFilePath = (name: string) => `/etc/modprobe.d/${name}.conf`;

/** The kernel lists modules with '_' where file names may have '-'. */
export function kernelName(name: string): string {
  return name.replace(/-/g, '_');
}

// B: the names of the modules built into the kernel, one per line, read once for every module asked.
const HEADER = [
  'k=$(uname -r)',
  'echo "@kernel $k"',
  'if [ -d "/lib/modules/$k" ]; then echo "@moddir 1"; else echo "@moddir 0"; fi',
  "nl='\n'",
  `B=; if [ -f "/lib/modules/$k/modules.builtin" ]; then B=$(sed -e 's#.*/##' -e 's#\\.ko.*$##' -e 's#-#_#g' ` +
    `"/lib/modules/$k/modules.builtin"); fi`,
  'if command -v modprobe >/dev/null 2>&1; then echo "@modprobe 1"; else echo "@modprobe 0"; fi',
];

// Each module's lines cost as few processes as they can (a loop of modules reads them all in one
// round trip, and on a no-change run each process counts): the files are read by the shell's own
// `read`, and /proc/modules is searched only when /sys/module did not already say "loaded".
function moduleLines(name: string): string[] {
  const k = kernelName(name);
  const sys = `/sys/module/${k}`;
  const file = (tag: string, path: string) =>
    sh`if [ -f ${path} ]; then echo ${tag}; ` +
    sh`while IFS= read -r l || [ -n "$l" ]; do printf '|%s\\n' "$l"; done < ${path}; fi`;
  return [
    sh`echo ${`@module ${name}`}`,
    sh`if [ -e ${sys} ]; then echo sysfs; fi; if [ -e ${`${sys}/initstate`} ]; then echo initstate; ` +
      sh`elif grep -q ${`^${k} `} /proc/modules 2>/dev/null; then echo proc; fi`,
    sh`case "$nl$B$nl" in *"$nl"${k}"$nl"*) echo builtin ;; esac`,
    file('@load', loadFilePath(name)),
    file('@options', optionsFilePath(name)),
  ];
}

export const kmodState = {
  command(names: string[]): string {
    return [...HEADER, ...names.flatMap(moduleLines)].join('\n');
  },

  parse(stdout: string): KmodState {
    const state: KmodState = { ...kmodState.default, modules: [] };
    let module: (KmodInfo & { marks: Set<string> }) | undefined;
    let into: 'loadFile' | 'optionsFile' | undefined;
    for (const line of stdout.split('\n')) {
      if (line.startsWith('|') && module && into) {
        module[into] = `${module[into] ?? ''}${line.slice(1)}\n`;
        continue;
      }
      into = undefined;
      if (line.startsWith('@kernel ')) state.kernel = line.slice(8);
      else if (line.startsWith('@moddir ')) state.moduleDir = line.endsWith('1');
      else if (line.startsWith('@modprobe ')) state.modprobe = line.endsWith('1');
      else if (line.startsWith('@module ')) {
        module = {
          name: line.slice(8),
          loaded: false,
          builtin: false,
          loadFile: null,
          optionsFile: null,
          marks: new Set(),
        };
        state.modules.push(module);
      } else if (module && (line === '@load' || line === '@options')) {
        into = line === '@load' ? 'loadFile' : 'optionsFile';
        module[into] = '';
      } else if (module && line) module.marks.add(line);
    }
    state.modules = state.modules.map((m) => finish(m as KmodInfo & { marks: Set<string> }));
    return state;
  },

  default: { kernel: '', moduleDir: false, modprobe: false, modules: [] } as KmodState,
};

function finish(m: KmodInfo & { marks: Set<string> }): KmodInfo {
  const loaded = m.marks.has('proc') || m.marks.has('initstate');
  // In /sys/module without initstate: built in (with parameters or a version), not loaded.
  const builtin = m.marks.has('builtin') || (m.marks.has('sysfs') && !loaded);
  return { name: m.name, loaded, builtin, loadFile: m.loadFile, optionsFile: m.optionsFile };
}

export async function probeKmods(conn: Connection, names: string[]): Promise<KmodState> {
  const r = await conn.exec(kmodState.command(names));
  if (r.code !== 0) {
    throw commandFailed(conn.spec.name, `inspecting kernel modules ${names.join(', ')}`, r);
  }
  return kmodState.parse(r.stdout.toString('utf8'));
}
