/**
 * blockinfile: keep a block of lines between two marker lines in a file (or remove it). The file
 * is read in the same round trip as its stat; the pure `editBlock` computes the new text.
 */
import type { JSONSchema } from 'json-schema-to-ts';
import { InputError } from '../engine/errors.js';
import type { Module, ParamsOf } from '../engine/module.js';
import { wantedAttrs } from './support/attributes.js';
import { bareLine, compileRegex, splitLines } from './support/lines.js';
import {
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

export const DEFAULT_MARKER = '# {mark} FURROW MANAGED BLOCK';

export type BlockinfileParams = ParamsOf<typeof schema>;

export interface BlockEdit {
  begin: string;
  end: string;
  /** The block's lines; empty removes the block (as state: absent does). */
  lines: string[];
  insertAfter?: RegExp | 'EOF';
  insertBefore?: RegExp | 'BOF';
}

const schema = {
  type: 'object',
  properties: {
    ...pathProperties,
    block: {
      type: 'string',
      description: 'The lines to keep between the markers; empty removes the block.',
      examples: ['10.0.0.11 h1\n10.0.0.12 h2\n'],
    },
    marker: {
      type: 'string',
      minLength: 1,
      description:
        'The marker line template; {mark} becomes marker_begin or marker_end. Keep it unique per block in a file.',
      examples: ['# {mark} FURROW CLUSTER HOSTS'],
      default: DEFAULT_MARKER,
    },
    marker_begin: {
      type: 'string',
      description: 'What {mark} becomes in the first marker line.',
      examples: ['BEGIN'],
      default: 'BEGIN',
    },
    marker_end: {
      type: 'string',
      description: 'What {mark} becomes in the last marker line.',
      examples: ['END'],
      default: 'END',
    },
    insertafter: {
      type: 'string',
      description: 'Where a new block goes: after the last line matching this regex, or EOF (the default).',
      examples: ['^127\\.0\\.0\\.1', 'EOF'],
    },
    insertbefore: {
      type: 'string',
      description: 'Where a new block goes: before the last line matching this regex, or BOF.',
      examples: ['BOF'],
    },
    state: {
      enum: ['present', 'absent'],
      description: 'present keeps the block in the file; absent removes it with its markers.',
      examples: ['absent'],
      default: 'present',
    },
    create: createParam,
    backup: backupParam('path'),
    mode: modeParam,
    owner: ownerParam,
    group: groupParam,
  },
  anyOf: pathRequired,
  additionalProperties: false,
} as const satisfies JSONSchema;

export const blockinfile: Module<BlockinfileParams, WriteData> = {
  name: 'blockinfile',
  schema,

  fileQueries: async (_ctx, params) => textEditQueries(pathParam(params, 'blockinfile')),

  async plan(ctx, params) {
    const edit = blockEdit(params);
    return planTextEdit(ctx, {
      module: 'blockinfile',
      path: pathParam(params, 'blockinfile'),
      attrs: wantedAttrs(params, 'blockinfile'),
      create: toFlag(params.create, 'blockinfile', 'create', false),
      backup: toFlag(params.backup, 'blockinfile', 'backup', false),
      removing: edit.lines.length === 0,
      what: 'block',
      edit: (before) => editBlock(before, edit),
    });
  },

  apply: (ctx, plan) => applyWrite(ctx, plan),
};

/** The params an edit of the text needs: all but the file's path. */
export type BlockEditParams = Omit<BlockinfileParams, 'path' | 'dest' | 'name'>;

export function blockEdit(params: BlockEditParams): BlockEdit {
  if (params.insertafter !== undefined && params.insertbefore !== undefined) {
    throw new InputError(undefined, 'blockinfile: insertafter and insertbefore exclude each other', 'give one of them');
  }
  const marker = params.marker ?? DEFAULT_MARKER;
  const block = params.block ?? '';
  const present = (params.state ?? 'present') === 'present';
  const anchor = (value: string, param: string) => compileRegex(value, 'blockinfile', param);
  return {
    begin: marker.replaceAll('{mark}', params.marker_begin ?? 'BEGIN'),
    end: marker.replaceAll('{mark}', params.marker_end ?? 'END'),
    lines: present && block !== '' ? block.replace(/\r?\n$/, '').split(/\r?\n/) : [],
    ...(params.insertafter !== undefined
      ? { insertAfter: params.insertafter === 'EOF' ? 'EOF' : anchor(params.insertafter, 'insertafter') }
      : {}),
    ...(params.insertbefore !== undefined
      ? { insertBefore: params.insertbefore === 'BOF' ? 'BOF' : anchor(params.insertbefore, 'insertbefore') }
      : {}),
  };
}

/** Pure: the file's text with the marked block in place (or removed), by Ansible's rules. */
export function editBlock(text: string, edit: BlockEdit): string {
  const lines = splitLines(text);
  let begin = -1;
  let end = -1;
  lines.forEach((l, i) => {
    if (bareLine(l) === edit.begin) begin = i;
    if (bareLine(l) === edit.end) end = i;
  });
  let at: number;
  if (begin < 0 || end < 0) {
    at = insertionPoint(lines, edit);
  } else {
    // The old block goes, markers included; the new one takes its place.
    at = Math.min(begin, end);
    lines.splice(at, Math.abs(end - begin) + 1);
  }
  const blockLines = edit.lines.length ? [edit.begin, ...edit.lines, edit.end].map((l) => `${l}\n`) : [];
  if (blockLines.length && at > 0 && !lines[at - 1]!.endsWith('\n')) lines[at - 1] += '\n';
  lines.splice(at, 0, ...blockLines);
  return lines.join('');
}

function insertionPoint(lines: string[], edit: BlockEdit): number {
  const re =
    edit.insertAfter instanceof RegExp
      ? edit.insertAfter
      : edit.insertBefore instanceof RegExp
        ? edit.insertBefore
        : undefined;
  if (re) {
    let last = -1;
    lines.forEach((l, i) => {
      if (re.test(bareLine(l))) last = i;
    });
    if (last < 0) return lines.length;
    return edit.insertAfter instanceof RegExp ? last + 1 : last;
  }
  return edit.insertBefore === 'BOF' ? 0 : lines.length;
}
