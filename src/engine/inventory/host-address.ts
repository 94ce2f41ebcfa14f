import { InputError, type SourcePlace } from '../errors.js';

const HEX_GROUP = /^[0-9a-fA-F]{1,4}$/;
const IPV4 = /^\d{1,3}(?:\.\d{1,3}){3}$/;
const LETTERS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';

/** True for a bare IPv6 address (`fe80::1`, `::ffff:10.0.0.1`), whose colons are not separators. */
export function isIPv6(text: string): boolean {
  const halves = text.split('::');
  if (halves.length > 2) return false;
  const groups = halves.flatMap((half) => (half === '' ? [] : half.split(':')));
  let count = groups.length;
  const last = groups[groups.length - 1];
  if (last !== undefined && IPV4.test(last)) {
    groups.pop();
    count += 1; // an embedded IPv4 address fills two groups
  }
  if (!groups.every((group) => HEX_GROUP.test(group))) return false;
  return halves.length === 2 ? count <= 7 : count === 8 && text.includes(':');
}

/**
 * Splits an inventory host entry into its name (maybe still holding `[x:y]` ranges) and port:
 * `web:2222`, `node[01:20]:22`, `[fe80::1]:22`, bare `fe80::1` (no port: its colons belong to it).
 */
export function splitHostPort(entry: string): { name: string; port?: number } {
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(entry);
  if (bracketed && (isIPv6(bracketed[1]) || !bracketed[1].includes(':'))) {
    return { name: bracketed[1], port: bracketed[2] === undefined ? undefined : Number(bracketed[2]) };
  }
  if (isIPv6(entry)) return { name: entry };
  const colon = lastColonOutsideBrackets(entry);
  if (colon > 0 && /^\d+$/.test(entry.slice(colon + 1))) {
    return { name: entry.slice(0, colon), port: Number(entry.slice(colon + 1)) };
  }
  return { name: entry };
}

function lastColonOutsideBrackets(text: string): number {
  let depth = 0;
  for (let i = text.length - 1; i >= 0; i--) {
    if (text[i] === ']') depth++;
    else if (text[i] === '[') depth--;
    else if (text[i] === ':' && depth === 0) return i;
  }
  return -1;
}

/**
 * Expands Ansible host ranges: `node[01:20]` (zero-padded like the start), `10.0.0.[1:9]`,
 * `[a:c]`, with an optional step `[1:9:2]`; several ranges in one name multiply.
 */
export function expandHostRanges(name: string, place: SourcePlace): string[] {
  const open = name.indexOf('[');
  const colon = name.indexOf(':', open);
  const close = name.indexOf(']', open);
  if (open < 0 || colon < 0 || close < colon) return [name];
  const head = name.slice(0, open);
  const tail = name.slice(close + 1);
  return rangeValues(name.slice(open + 1, close), name, place).flatMap((value) =>
    expandHostRanges(head + value + tail, place),
  );
}

function rangeValues(range: string, name: string, place: SourcePlace): string[] {
  const fail = (problem: string): never => {
    throw new InputError(
      place,
      `bad host range in '${name}': ${problem}`,
      'write ranges as [start:end] or [start:end:step], e.g. node[01:20], 10.0.0.[1:9] or [a:c]',
    );
  };
  const bounds = range.split(':');
  if (bounds.length > 3) fail('too many parts');
  const start = bounds[0] === '' ? '0' : bounds[0];
  const end = bounds[1];
  const stepText = bounds[2] ?? '1';
  if (end === '') fail('the end is missing');
  if (!/^[1-9]\d*$/.test(stepText)) fail(`step '${stepText}' is not a positive whole number`);
  const step = Number(stepText);
  if (/^[a-zA-Z]$/.test(start) && /^[a-zA-Z]$/.test(end)) {
    const from = LETTERS.indexOf(start);
    const to = LETTERS.indexOf(end);
    if (from > to) fail(`'${start}' comes after '${end}'`);
    return Array.from({ length: Math.floor((to - from) / step) + 1 }, (_, i) => LETTERS[from + i * step]);
  }
  if (!/^\d+$/.test(start) || !/^\d+$/.test(end)) fail('bounds must both be numbers or both single letters');
  // A leading zero asks for zero-padding to the start's width (Ansible's rule).
  const width = start.length > 1 && start.startsWith('0') ? start.length : 0;
  if (width > 0 && end.length !== width) fail(`'${start}' and '${end}' must have the same width when zero-padded`);
  const from = Number(start);
  const to = Number(end);
  if (from > to) fail(`${start} is greater than ${end}`);
  return Array.from({ length: Math.floor((to - from) / step) + 1 }, (_, i) =>
    String(from + i * step).padStart(width, '0'),
  );
}
