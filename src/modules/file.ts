/**
 * file: a path's state (file, directory, link, absent, touch), mode, owner and group, as Ansible's
 * file module. One probe round trip (the path as it is, the path through links, and a link's
 * src); the pure `decideFile` turns that into one shell command that apply runs.
 */
import type { JSONSchema } from 'json-schema-to-ts';
import { randomBytes } from 'node:crypto';
import { posix } from 'node:path';
import { FurrowError, InputError } from '../engine/errors.js';
import type { FileInfo, FileQuery } from '../engine/facts/files.js';
import type { Module, Plan, ValueChange, ParamsOf } from '../engine/module.js';
import { sh } from '../engine/shell.js';
import { attrChanges, attrCommand, describeChanges, wantedAttrs, type WantedAttrs } from './support/attributes.js';
import { formatMode, resolveMode } from './support/modes.js';
import {
  flagSchema,
  groupParam,
  ownerParam,
  modeParam,
  pathParam,
  pathProperties,
  pathRequired,
  toFlag,
} from './support/param-values.js';
import { runOrFail } from './support/run.js';

export type FileState = 'file' | 'directory' | 'link' | 'absent' | 'touch';

export type FileParams = ParamsOf<typeof schema>;

/** The params after checks: what `decideFile` needs. */
export interface FileWant {
  path: string;
  state?: FileState;
  attrs: WantedAttrs;
  recurse: boolean;
  src?: string;
  force: boolean;
}

/** What the probe saw: the path itself, the path through links, and (for links) the src. */
export interface FileSeen {
  self: FileInfo;
  followed: FileInfo;
  src?: FileInfo;
}

export interface FileData {
  command: string;
}

const schema = {
  type: 'object',
  properties: {
    ...pathProperties,
    state: {
      enum: ['file', 'directory', 'link', 'absent', 'touch'],
      description:
        'What path must be: file (exists already), directory (made with its parents), link (to src), absent ' +
        '(removed, folders with their content), touch (created empty when missing; an existing one keeps its ' +
        'times). Absent: directory with recurse, link with src, else what is there (file when missing).',
      examples: ['directory', 'absent'],
    },
    mode: modeParam,
    owner: ownerParam,
    group: groupParam,
    recurse: {
      ...flagSchema,
      description: 'With state directory: mode, owner and group also for everything below.',
      examples: [true],
      default: false,
    },
    src: {
      type: 'string',
      minLength: 1,
      description: 'With state link: what the link points to.',
      examples: ['/opt/kube/bin/kubectl'],
    },
    force: {
      ...flagSchema,
      description:
        'With state link: link to a src that does not exist, or replace a file or an empty folder in the way ' +
        '(another link is replaced without it).',
      examples: [true],
      default: false,
    },
  },
  anyOf: pathRequired,
  additionalProperties: false,
} as const satisfies JSONSchema;

export const file: Module<FileParams, FileData> = {
  name: 'file',
  schema,

  fileQueries: async (_ctx, params) => queriesFor(fileWant(params)),

  async plan(ctx, params) {
    const want = fileWant(params);
    const [self, followed, src] = await ctx.probeFiles(queriesFor(want));
    return decideFile(want, { self: self!, followed: followed!, ...(src ? { src } : {}) }, ctx.host);
  },

  async apply(ctx, plan) {
    if (plan.data) await runOrFail(ctx, plan.data.command, plan.reason);
    return {};
  },
};

export function fileWant(params: FileParams): FileWant {
  const attrs = wantedAttrs(params, 'file');
  const recurse = toFlag(params.recurse, 'file', 'recurse', false);
  if (recurse && attrs.mode?.kind === 'symbolic') {
    throw new InputError(
      undefined,
      `file: recurse needs an octal mode, not '${attrs.mode.text}'`,
      "give mode as e.g. '0755'",
    );
  }
  if (recurse && params.state !== undefined && params.state !== 'directory') {
    throw new InputError(
      undefined,
      `file: recurse works only with state: directory`,
      'remove recurse or set state: directory',
    );
  }
  if (params.src !== undefined && params.state !== undefined && params.state !== 'link') {
    throw new InputError(undefined, `file: src is only for state: link`, 'remove src or set state: link');
  }
  return {
    path: pathParam(params, 'file'),
    ...(params.state !== undefined ? { state: params.state } : {}),
    attrs,
    recurse,
    ...(params.src !== undefined ? { src: params.src } : {}),
    force: toFlag(params.force, 'file', 'force', false),
  };
}

export function queriesFor(want: FileWant): FileQuery[] {
  const recurse = want.recurse
    ? {
        ...(want.attrs.mode?.kind === 'octal' ? { mode: formatMode(want.attrs.mode.bits) } : {}),
        ...(want.attrs.owner !== undefined ? { owner: want.attrs.owner } : {}),
        ...(want.attrs.group !== undefined ? { group: want.attrs.group } : {}),
      }
    : undefined;
  const queries: FileQuery[] = [
    { path: want.path },
    { path: want.path, follow: true, ...(recurse ? { recurse } : {}) },
  ];
  // A relative link src is relative to the link's folder, as ln -s sees it.
  if (want.src !== undefined) queries.push({ path: posix.resolve(posix.dirname(want.path), want.src), follow: true });
  return queries;
}

/** Pure: the state Ansible's default picks, then what to change. */
export function decideFile(want: FileWant, seen: FileSeen, host: string): Plan<FileData> {
  const state = want.state ?? (want.recurse ? 'directory' : want.src !== undefined ? 'link' : defaultState(seen));
  const fail = (problem: string): never => {
    throw new FurrowError('module', `${host}: file: ${problem}`);
  };
  const { path } = want;
  switch (state) {
    case 'absent':
      if (seen.self.type === 'absent') return { action: 'none', reason: `${path} is absent` };
      return {
        action: 'delete',
        reason: `${path} exists (${seen.self.type})`,
        diff: { values: [{ key: 'state', before: seen.self.type, after: 'absent' }] },
        data: { command: sh`rm -rf -- ${path}` },
      };
    case 'link':
      return decideLink(want, seen, fail);
    case 'directory':
      if (seen.followed.type === 'absent' && seen.self.type === 'link')
        return fail(`${path} is a link to a missing target`);
      if (seen.followed.type === 'absent')
        return create(want, 'directory', sh`mkdir -p -- ${path}`, (mode) => sh`mkdir -p -m ${mode} -- ${path}`);
      if (seen.followed.type !== 'directory')
        return fail(`${path} exists and is a ${seen.followed.type}, not a directory`);
      return fixAttrs(want, seen.followed);
    case 'touch':
      if (seen.followed.type === 'absent') return create(want, 'file', sh`touch -- ${path}`);
      return fixAttrs(want, seen.followed);
    default:
      if (seen.followed.type === 'absent')
        return fail(`${path} is absent, cannot continue (state: touch creates a file)`);
      if (seen.followed.type !== 'file') return fail(`${path} is a ${seen.followed.type}, not a file`);
      return fixAttrs(want, seen.followed);
  }
}

/** Ansible's default is the current state; through a link (follow) that is its target's. */
function defaultState(seen: FileSeen): FileState {
  const t = seen.self.type === 'link' && seen.followed.type !== 'absent' ? seen.followed.type : seen.self.type;
  return t === 'directory' || t === 'link' ? t : 'file';
}

/** `withMode`: the command that also sets the mode (mkdir -m), one process less than a chmod after it. */
function create(
  want: FileWant,
  type: 'file' | 'directory',
  command: string,
  withMode?: (mode: string) => string,
): Plan<FileData> {
  const values: ValueChange[] = [
    { key: 'state', before: 'absent', after: type },
    ...attrsToSet(want, type === 'directory'),
  ];
  const mode = withMode ? values.find((v) => v.key === 'mode') : undefined;
  const made = mode ? withMode!(String(mode.after)) : command;
  const attrs = attrCommand(
    want.path,
    values.filter((v) => v !== mode),
  );
  return {
    action: 'create',
    reason: `${want.path} does not exist`,
    diff: { values },
    data: { command: attrs ? `${made} && ${attrs}` : made },
  };
}

function fixAttrs(want: FileWant, current: Exclude<FileInfo, { type: 'absent' }>): Plan<FileData> {
  const changes = attrChanges(current, want.attrs);
  const commands = changes.length ? [attrCommand(want.path, changes)] : [];
  let reason = describeChanges(want.path, changes);
  if (want.recurse && current.recurseDiffers) {
    commands.push(attrCommand(want.path, attrsToSet(want, true), { recurse: true }));
    changes.push({ key: 'recurse', before: 'some entries differ', after: 'all entries match' });
    reason = [reason, `entries below ${want.path} differ in mode, owner or group`].filter(Boolean).join('; ');
  }
  if (commands.length === 0)
    return { action: 'none', reason: `${want.path} is a ${current.type === 'file' ? 'file' : current.type} as wanted` };
  return { action: 'update', reason, diff: { values: changes }, data: { command: commands.join(' && ') } };
}

function decideLink(want: FileWant, seen: FileSeen, fail: (problem: string) => never): Plan<FileData> {
  const { path } = want;
  const self = seen.self;
  const src = want.src ?? (self.type === 'link' ? self.target : undefined);
  if (src === undefined) return fail(`state: link needs src (what ${path} should point to)`);
  if (self.type === 'link' && self.target === src) {
    const changes = attrChanges(self, want.attrs);
    if (changes.length === 0) return { action: 'none', reason: `${path} links to ${src}` };
    return {
      action: 'update',
      reason: describeChanges(path, changes),
      diff: { values: changes },
      data: { command: attrCommand(path, changes, { link: true }) },
    };
  }
  if (seen.src?.type === 'absent' && !want.force)
    return fail(`src ${src} does not exist (give force: true to link to it anyway)`);
  if ((self.type === 'file' || self.type === 'other') && !want.force)
    return fail(`${path} is a ${self.type}: refusing to replace it with a link (give force: true)`);
  if (self.type === 'directory' && !want.force)
    return fail(`${path} is a directory: refusing to replace it with a link (give force: true; it must be empty)`);
  // Make the link beside the path, then rename it over: the path is never missing.
  const tmp = posix.join(posix.dirname(path), `.${posix.basename(path)}.furrow.${randomBytes(6).toString('hex')}`);
  const steps = [
    self.type === 'directory' ? sh`rmdir -- ${path}` : '',
    sh`ln -s -- ${src} ${tmp}`,
    sh`{ mv -f -T -- ${tmp} ${path} || { rm -f -- ${tmp}; exit 1; }; }`,
  ];
  const owner = attrCommand(path, attrsToSet(want, false), { link: true });
  const command = [...steps.filter(Boolean), owner].filter(Boolean).join(' && ');
  const before = self.type === 'link' ? `link to ${self.target ?? '?'}` : self.type;
  const values: ValueChange[] = [{ key: 'state', before, after: `link to ${src}` }];
  return {
    action: self.type === 'absent' ? 'create' : 'replace',
    reason: self.type === 'absent' ? `${path} does not exist` : `${path} is ${before}`,
    diff: { values },
    data: { command },
  };
}

/** The wanted mode/owner/group as values to set, for a new path or everything below a directory. */
function attrsToSet(want: FileWant, isDirectory: boolean): ValueChange[] {
  const values: ValueChange[] = [];
  if (want.attrs.mode)
    values.push({ key: 'mode', before: null, after: formatMode(resolveMode(want.attrs.mode, undefined, isDirectory)) });
  if (want.attrs.owner !== undefined) values.push({ key: 'owner', before: null, after: want.attrs.owner });
  if (want.attrs.group !== undefined) values.push({ key: 'group', before: null, after: want.attrs.group });
  return values;
}
