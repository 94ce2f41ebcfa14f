/**
 * The helpers templates may call. Each is a plain function of its arguments; `registerHelpers`
 * wraps them so Handlebars' trailing `options` argument is dropped and a thrown Error becomes a
 * TemplateFault that carries the helper's line and column.
 */
import { Buffer } from 'node:buffer';
import { isIPv6 } from 'node:net';
import { isDeepStrictEqual } from 'node:util';
import YAML from 'yaml';
import { cidrHost, cidrNetmask, cidrPrefix } from './cidr.js';

/** Where in the template text (line 1-based, column 0-based, as Handlebars counts). */
export interface TemplatePosition {
  line: number;
  column: number;
}

/** A failure inside a template; the template layer turns it into an InputError with the place. */
export class TemplateFault extends Error {
  constructor(
    message: string,
    readonly position?: TemplatePosition,
    readonly undefinedName?: string,
  ) {
    super(message);
  }
}

type Helper = (...args: unknown[]) => unknown;

/** Python/Jinja truthiness, so `and`/`or`/`not` read as they do in Ansible. */
export function isTruthy(value: unknown): boolean {
  if (Array.isArray(value) || typeof value === 'string') return value.length > 0;
  if (value && typeof value === 'object') return Object.keys(value).length > 0;
  return Boolean(value);
}

const compare =
  (name: string, test: (order: number) => boolean): Helper =>
  (a, b) => {
    const bothNumbers = typeof a === 'number' && typeof b === 'number';
    const bothStrings = typeof a === 'string' && typeof b === 'string';
    if (!bothNumbers && !bothStrings)
      throw new Error(`${name} compares two numbers or two strings, got ${typeName(a)} and ${typeName(b)}`);
    return test(a < b ? -1 : a > b ? 1 : 0);
  };

export const HELPERS: Record<string, Helper> = {
  eq: (a, b) => isDeepStrictEqual(a, b),
  ne: (a, b) => !isDeepStrictEqual(a, b),
  lt: compare('lt', (o) => o < 0),
  gt: compare('gt', (o) => o > 0),
  le: compare('le', (o) => o <= 0),
  ge: compare('ge', (o) => o >= 0),
  and: (...values) => values.every(isTruthy),
  or: (...values) => values.some(isTruthy),
  not: (value) => !isTruthy(value),
  default: (value, fallback) => (value === undefined || value === null ? fallback : value),
  defined: (value) => value !== undefined,
  join: (list, separator = '') => asList('join', list).map(String).join(asString('join', separator)),
  json: (value, spaces) => JSON.stringify(value, null, spaces === undefined ? undefined : asInteger('json', spaces)),
  yaml: (value) => YAML.stringify(value).replace(/\n$/, ''),
  indent: (width, text) => indentLines(asInteger('indent', width), asString('indent', text)),
  base64: (text) => Buffer.from(asString('base64', text), 'utf8').toString('base64'),
  b64decode: (text) => Buffer.from(asString('b64decode', text), 'base64').toString('utf8'),
  upper: (text) => asString('upper', text).toUpperCase(),
  lower: (text) => asString('lower', text).toLowerCase(),
  replace: (text, from, to) => asString('replace', text).split(asString('replace', from)).join(asString('replace', to)),
  split: (text, separator) => asString('split', text).split(asString('split', separator)),
  first: (list) => asSequence('first', list)[0],
  last: (list) => asSequence('last', list).at(-1),
  length: (value) => sizeOf(value),
  contains: (haystack, needle) => contains(haystack, needle),
  range: (...bounds) => range(bounds.map((b) => asInteger('range', b))),
  cidrhost: (cidr, hostNumber) => cidrHost(cidr as string, asInteger('cidrhost', hostNumber)),
  cidrnetmask: (cidr) => cidrNetmask(cidr as string),
  cidrprefix: (cidr) => cidrPrefix(cidr as string),
  // Ansible's ipwrap: an IPv6 address in brackets, as URLs and host:port need it; names and IPv4 as they are.
  ipwrap: (address) => {
    const text = asString('ipwrap', address);
    return isIPv6(text) ? `[${text}]` : text;
  },
  version: (a, op, b) => versionTest(a, asString('version', op), b),
};
HELPERS.includes = HELPERS.contains;
HELPERS.b64encode = HELPERS.base64;

/** Helpers whose first argument may be undefined: they exist to handle it. */
export const UNDEFINED_TOLERANT = new Set(['default', 'defined']);

/** Registers every helper on a Handlebars instance (its `registerHelper`). */
export function registerHelpers(register: (name: string, fn: (...args: unknown[]) => unknown) => void): void {
  for (const [name, fn] of Object.entries(HELPERS)) register(name, wrapHelper(name, fn));
}

function wrapHelper(name: string, fn: Helper) {
  return (...args: unknown[]): unknown => {
    const options = args.pop() as { loc?: { start: TemplatePosition } };
    try {
      return fn(...args);
    } catch (err) {
      if (err instanceof TemplateFault) throw err;
      const message = (err as Error).message;
      throw new TemplateFault(
        message.startsWith(`${name} `) || message.startsWith(`${name}:`) ? message : `${name}: ${message}`,
        options.loc?.start,
      );
    }
  };
}

const VERSION_OPS: Record<string, (order: number) => boolean> = {
  '<': (o) => o < 0,
  '<=': (o) => o <= 0,
  '>': (o) => o > 0,
  '>=': (o) => o >= 0,
  '==': (o) => o === 0,
  '!=': (o) => o !== 0,
};

/** Ansible's `version` test: dotted release numbers compared part by part ('v1.20.2' < '1.24'; a missing part is 0). */
function versionTest(a: unknown, op: string, b: unknown): boolean {
  const test = VERSION_OPS[op];
  if (!test) throw new Error(`operator '${op}' is not one of ${Object.keys(VERSION_OPS).join(' ')}`);
  const [x, y] = [versionParts(a), versionParts(b)];
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const d = (x[i] ?? 0) - (y[i] ?? 0);
    if (d !== 0) return test(d);
  }
  return test(0);
}

function versionParts(value: unknown): number[] {
  const text = typeof value === 'number' ? String(value) : asString('version', value);
  const match = /^v?(\d+(?:\.\d+)*)/.exec(text.trim());
  if (!match) throw new Error(`'${text}' is not a version such as 1.20.2`);
  return match[1]!.split('.').map(Number);
}

function indentLines(width: number, text: string): string {
  const pad = ' '.repeat(width);
  // Blank lines stay empty so the output carries no trailing whitespace.
  return text
    .split('\n')
    .map((line) => (line === '' ? line : pad + line))
    .join('\n');
}

function contains(haystack: unknown, needle: unknown): boolean {
  if (typeof haystack === 'string') return haystack.includes(asString('contains', needle));
  if (Array.isArray(haystack)) return haystack.some((item) => isDeepStrictEqual(item, needle));
  if (haystack && typeof haystack === 'object') return Object.hasOwn(haystack, String(needle));
  throw new Error(`contains looks in a string, list or map, got ${typeName(haystack)}`);
}

/** `range end`, `range start end` or `range start end step`, end excluded (Python's range). */
function range(bounds: number[]): number[] {
  if (bounds.length < 1 || bounds.length > 3) throw new Error('range takes end, start end, or start end step');
  const [start, end, step] = bounds.length === 1 ? [0, bounds[0], 1] : [bounds[0], bounds[1], bounds[2] ?? 1];
  if (step === 0) throw new Error('range step must not be 0');
  const out: number[] = [];
  for (let i = start; step > 0 ? i < end : i > end; i += step) out.push(i);
  return out;
}

function sizeOf(value: unknown): number {
  if (typeof value === 'string' || Array.isArray(value)) return value.length;
  if (value && typeof value === 'object') return Object.keys(value).length;
  throw new Error(`length measures a string, list or map, got ${typeName(value)}`);
}

function asList(helper: string, value: unknown): unknown[] {
  if (!Array.isArray(value)) throw new Error(`${helper} expects a list, got ${typeName(value)}`);
  return value;
}

function asSequence(helper: string, value: unknown): unknown[] | string {
  if (typeof value === 'string' || Array.isArray(value)) return value;
  throw new Error(`${helper} expects a list or a string, got ${typeName(value)}`);
}

function asString(helper: string, value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  throw new Error(`${helper} expects a string, got ${typeName(value)}`);
}

function asInteger(helper: string, value: unknown): number {
  const number = typeof value === 'string' && /^-?\d+$/.test(value.trim()) ? Number(value) : value;
  if (typeof number !== 'number' || !Number.isInteger(number))
    throw new Error(`${helper} expects a whole number, got ${typeName(value)}`);
  return number;
}

export function typeName(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a map';
  return `${typeof value} ${JSON.stringify(value)}`;
}
