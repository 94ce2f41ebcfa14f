/**
 * lineinfile: make sure one line is in a file (replacing the line a regexp matches) or that no
 * line matches. The file is read in the same round trip as its stat; the edit is computed on the
 * controller by the pure `editLines`, then written whole and atomically.
 */
import type { JSONSchema } from 'json-schema-to-ts';
import { InputError } from '../engine/errors.js';
import type { Module, ParamsOf } from '../engine/module.js';
import { wantedAttrs } from './support/attributes.js';
import { bareLine, compileRegex, expandMatch, splitLines } from './support/lines.js';
import {
  flagSchema,
  groupParam,
  ownerParam,
  modeParam,
  pathParam,
  pathProperties,
  pathRequired,
  toFlag,
  backupParam,
  createParam,
} from './support/param-values.js';
import { applyWrite, planTextEdit, textEditQueries, type WriteData } from './support/write-file.js';

export type LineinfileParams = ParamsOf<typeof schema>;

/** What `editLines` needs, with regexes compiled and yes/no resolved. */
export interface LineEdit {
  line?: string;
  match?: (line: string) => RegExpExecArray | boolean | null;
  state: 'present' | 'absent';
  insertAfter?: RegExp | 'EOF' | 'BOF';
  insertBefore?: RegExp | 'BOF';
  backrefs: boolean;
  firstmatch: boolean;
}

const schema = {
  type: 'object',
  properties: {
    ...pathProperties,
    // A newline would make the line two lines, never found again as one: changed on every run.
    line: {
      type: 'string',
      pattern: '^[^\\n]*$',
      description: 'one line of text (no newline; use blockinfile for several lines)',
      examples: ['net.ipv4.ip_forward = 1'],
    },
    regexp: {
      type: 'string',
      description:
        'A regex: the last line it matches is replaced by line (state present) or every matching line ' +
        'removed (absent).',
      examples: ['^net\\.ipv4\\.ip_forward'],
    },
    search_string: { type: 'string', description: 'Like regexp, but a plain substring.', examples: ['ip_forward'] },
    state: {
      enum: ['present', 'absent'],
      description: 'present makes sure the line is there; absent removes matching lines.',
      examples: ['absent'],
      default: 'present',
    },
    insertafter: {
      type: 'string',
      description: 'Where a new line goes: after the last line matching this regex, or EOF (the default).',
      examples: ['^# Furrow', 'EOF'],
    },
    insertbefore: {
      type: 'string',
      description: 'Where a new line goes: before the last line matching this regex, or BOF.',
      examples: ['BOF'],
    },
    create: createParam,
    backrefs: {
      ...flagSchema,
      description: 'With regexp: line may use its groups (\\1); a file without a match is left alone.',
      examples: [true],
      default: false,
    },
    firstmatch: {
      ...flagSchema,
      description: 'regexp (or search_string), insertafter and insertbefore use the first matching line, not the last.',
      examples: [true],
      default: false,
    },
    backup: backupParam('path'),
    mode: modeParam,
    owner: ownerParam,
    group: groupParam,
  },
  anyOf: pathRequired,
  additionalProperties: false,
} as const satisfies JSONSchema;

export const lineinfile: Module<LineinfileParams, WriteData> = {
  name: 'lineinfile',
  schema,

  fileQueries: async (_ctx, params) => textEditQueries(pathParam(params, 'lineinfile')),

  async plan(ctx, params) {
    const edit = lineEdit(params);
    return planTextEdit(ctx, {
      module: 'lineinfile',
      path: pathParam(params, 'lineinfile'),
      attrs: wantedAttrs(params, 'lineinfile'),
      create: toFlag(params.create, 'lineinfile', 'create', false),
      backup: toFlag(params.backup, 'lineinfile', 'backup', false),
      removing: edit.state === 'absent',
      what: 'line',
      edit: (before) => editLines(before, edit),
    });
  },

  apply: (ctx, plan) => applyWrite(ctx, plan),
};

/** Checks the params as Ansible does and compiles the patterns. */
/** The params an edit of the text needs: all but the file's path. */
export type LineEditParams = Omit<LineinfileParams, 'path' | 'dest' | 'name'>;

export function lineEdit(params: LineEditParams): LineEdit {
  const state = params.state ?? 'present';
  const fail = (problem: string, fix: string): never => {
    throw new InputError(undefined, `lineinfile: ${problem}`, fix);
  };
  if (params.regexp !== undefined && params.search_string !== undefined)
    fail('regexp and search_string exclude each other', 'give one of them');
  if (params.insertafter !== undefined && params.insertbefore !== undefined)
    fail('insertafter and insertbefore exclude each other', 'give one of them');
  if (state === 'present' && params.line === undefined)
    fail("'line' is required with state: present", 'add line: <the line>');
  if (toFlag(params.backrefs, 'lineinfile', 'backrefs', false) && params.regexp === undefined)
    fail("'regexp' is required with backrefs", 'add regexp: <pattern>');
  if (
    state === 'absent' &&
    params.line === undefined &&
    params.regexp === undefined &&
    params.search_string === undefined
  ) {
    fail('state: absent needs one of line, regexp or search_string', 'say which lines to remove');
  }
  const re = params.regexp !== undefined ? compileRegex(params.regexp, 'lineinfile', 'regexp') : undefined;
  const search = params.search_string;
  const match = re
    ? (l: string) => re.exec(bareLine(l))
    : search !== undefined
      ? (l: string) => l.includes(search)
      : undefined;
  const anchor = (value: string | undefined, param: string) =>
    value === undefined
      ? undefined
      : value === 'EOF' || value === 'BOF'
        ? value
        : compileRegex(value, 'lineinfile', param);
  return {
    ...(params.line !== undefined ? { line: params.line } : {}),
    ...(match ? { match } : {}),
    state,
    ...(params.insertafter !== undefined ? { insertAfter: anchor(params.insertafter, 'insertafter')! } : {}),
    ...(params.insertbefore !== undefined
      ? { insertBefore: anchor(params.insertbefore, 'insertbefore') as RegExp | 'BOF' }
      : {}),
    backrefs: toFlag(params.backrefs, 'lineinfile', 'backrefs', false),
    firstmatch: toFlag(params.firstmatch, 'lineinfile', 'firstmatch', false),
  };
}

/** Pure: the file's text after the edit, following Ansible's lineinfile rules. */
export function editLines(text: string, edit: LineEdit): string {
  const lines = splitLines(text);
  if (edit.state === 'absent') {
    const doomed = edit.match ?? ((l: string) => bareLine(l) === edit.line);
    return lines.filter((l) => !doomed(l)).join('');
  }
  const line = edit.line!;
  const matches = edit.match ?? ((l: string) => bareLine(l) === line);
  const anchorRe =
    edit.insertAfter instanceof RegExp
      ? edit.insertAfter
      : edit.insertBefore instanceof RegExp
        ? edit.insertBefore
        : undefined;
  let found = -1;
  let foundMatch: RegExpExecArray | boolean | null = null;
  let anchor = -1;
  for (let i = 0; i < lines.length; i++) {
    const m = matches(lines[i]!);
    if (m) {
      found = i;
      foundMatch = m;
      if (edit.firstmatch) break;
    } else if (anchorRe?.test(bareLine(lines[i]!))) {
      anchor = edit.insertAfter instanceof RegExp ? i + 1 : i;
      if (edit.firstmatch) break;
    }
  }
  // A regexp that matches nothing still leaves an identical line alone (Ansible >= 2.12).
  if (found < 0 && edit.match) found = lines.findIndex((l) => bareLine(l) === line);
  if (found >= 0) {
    const wanted = edit.backrefs && typeof foundMatch === 'object' && foundMatch ? expandMatch(line, foundMatch) : line;
    lines[found] = `${wanted}\n`;
    return lines.join('');
  }
  if (edit.backrefs) return text;
  return insertLine(lines, line, edit, anchor);
}

function insertLine(lines: string[], line: string, edit: LineEdit, anchor: number): string {
  if (edit.insertBefore === 'BOF' || edit.insertAfter === 'BOF') return [`${line}\n`, ...lines].join('');
  if (edit.insertAfter === undefined && edit.insertBefore === undefined) return appendLine(lines, line);
  if (edit.insertAfter === 'EOF' || anchor < 0) return appendLine(lines, line);
  // An identical line already right at the insertion point: nothing to add.
  if (edit.insertAfter && anchor < lines.length && bareLine(lines[anchor]!) === line) return lines.join('');
  if (edit.insertBefore && anchor > 0 && bareLine(lines[anchor - 1]!) === line) return lines.join('');
  lines.splice(anchor, 0, `${line}\n`);
  return lines.join('');
}

function appendLine(lines: string[], line: string): string {
  const last = lines[lines.length - 1];
  if (last !== undefined && !last.endsWith('\n')) lines[lines.length - 1] = `${last}\n`;
  return [...lines, `${line}\n`].join('');
}
