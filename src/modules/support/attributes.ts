/**
 * A file's mode, owner and group: the wanted ones from the params, what differs on the host, and
 * the chmod/chown that fixes it (file-family modules, get_url, cert, service_account_key).
 */
import type { PresentFile } from '../../engine/facts/files.js';
import type { ValueChange } from '../../engine/module.js';
import { sh } from '../../engine/shell.js';
import { formatMode, parseMode, resolveMode, type ModeSpec } from './modes.js';

export interface WantedAttrs {
  mode?: ModeSpec;
  owner?: string;
  group?: string;
}

export function wantedAttrs(
  params: { mode?: string | number; owner?: string | number; group?: string | number },
  module: string,
): WantedAttrs {
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
  if (want.owner !== undefined && !idMatches(want.owner, file.owner, file.uid))
    changes.push({ key: 'owner', before: file.owner, after: want.owner });
  if (want.group !== undefined && !idMatches(want.group, file.group, file.gid))
    changes.push({ key: 'group', before: file.group, after: want.group });
  return changes;
}

/**
 * chmod/chown for the given changes. They follow a link to its target, as Ansible's file does
 * by default; `link: true` changes the link itself (chown -h; a link has no mode of its own).
 */
export function attrCommand(
  path: string,
  changes: ValueChange[],
  opts: { recurse?: boolean; link?: boolean } = {},
): string {
  const get = (key: string) => changes.find((c) => c.key === key)?.after as string | undefined;
  const flags = `${opts.recurse ? '-R ' : ''}${opts.link ? '-h ' : ''}`;
  const lines: string[] = [];
  const mode = get('mode');
  if (mode !== undefined && !opts.link) lines.push(`chmod ${opts.recurse ? '-R ' : ''}${sh`${mode} -- ${path}`}`);
  const owner = get('owner');
  const group = get('group');
  if (owner !== undefined)
    lines.push(`chown ${flags}${sh`${group !== undefined ? `${owner}:${group}` : owner} -- ${path}`}`);
  else if (group !== undefined) lines.push(`chgrp ${flags}${sh`${group} -- ${path}`}`);
  return lines.join(' && ');
}

export function describeChanges(path: string, changes: ValueChange[]): string {
  return changes.map((c) => `${c.key} of ${path} is ${String(c.before)}, wants ${String(c.after)}`).join('; ');
}
