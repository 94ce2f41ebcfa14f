import { InputError, type SourcePlace } from '../errors.js';
import { hostsOfGroup } from './group-tree.js';
import { isIPv6 } from './host-address.js';
import type { Inventory } from './types.js';

/**
 * Hosts matched by an Ansible host pattern, optionally narrowed by a `--limit` pattern, in
 * inventory order without repeats. Terms: a host, a group, `all`, globs (`web*`, `10.0.0.*`),
 * `~regex`, `group[0]`/`group[1:3]`; joined by `:` or `,` (union), `:&` (intersection) and `:!`
 * (exclusion). Use `,` with IPv6 names, or bracket them (`[fe80::1]`). `place` is where the
 * pattern was written (a playbook line), used in errors.
 */
export function selectHosts(inventory: Inventory, pattern: string, limit?: string, place?: SourcePlace): string[] {
  let selected = evaluatePattern(inventory, pattern, place);
  if (limit !== undefined) {
    const allowed = evaluatePattern(inventory, limit, place);
    selected = new Set([...selected].filter((host) => allowed.has(host)));
  }
  return [...inventory.hosts.keys()].filter((host) => selected.has(host));
}

/** Ansible's order: plain terms (union) first, then `&` terms, then `!` terms; only & and ! means all. */
function evaluatePattern(inventory: Inventory, pattern: string, place?: SourcePlace): Set<string> {
  const terms = splitPattern(pattern);
  if (terms.length === 0) throw new InputError(place, 'empty host pattern', "name a group or host, or 'all'");
  const unions = terms.filter((term) => !term.startsWith('&') && !term.startsWith('!'));
  const ordered = [
    ...(unions.length > 0 ? unions : ['all']),
    ...terms.filter((t) => t.startsWith('&')),
    ...terms.filter((t) => t.startsWith('!')),
  ];
  let hosts = new Set<string>();
  for (const term of ordered) {
    const operator = term[0] === '&' || term[0] === '!' ? term[0] : '';
    const matched = new Set(matchTerm(inventory, unbracket(term.slice(operator.length)), pattern, place));
    if (operator === '&') hosts = new Set([...hosts].filter((host) => matched.has(host)));
    else if (operator === '!') hosts = new Set([...hosts].filter((host) => !matched.has(host)));
    else for (const host of matched) hosts.add(host);
  }
  return hosts;
}

/** Commas split always; otherwise colons split, except inside brackets and in a bare IPv6 address. */
export function splitPattern(pattern: string): string[] {
  if (pattern.includes(','))
    return pattern
      .split(',')
      .map((term) => term.trim())
      .filter((term) => term !== '');
  const bare = pattern.trim().replace(/^[&!]/, '');
  if (isIPv6(bare)) return [pattern.trim()];
  return pattern.match(/(?:[^\s:[\]]|\[[^\]]*\])+/g) ?? [];
}

/** `[fe80::1]` names the host `fe80::1`; other brackets (globs, subscripts) stay. */
function unbracket(term: string): string {
  const inner = /^\[([^\]]+)\]$/.exec(term)?.[1];
  return inner !== undefined && isIPv6(inner) ? inner : term;
}

function matchTerm(inventory: Inventory, term: string, pattern: string, place?: SourcePlace): string[] {
  if (inventory.hosts.has(term)) return [term]; // a plain host name wins, as in Ansible
  const { base, subscript } = splitSubscript(term);
  const isRegex = base.startsWith('~');
  const isGlob = !isRegex && /[*?[]/.test(base);
  const matches = isRegex
    ? regexMatcher(base.slice(1), pattern, place)
    : isGlob
      ? globMatcher(base)
      : (name: string) => name === base;
  const groups = [...inventory.groups.keys()].filter(matches);
  const hosts = groups.flatMap((group) => hostsOfGroup(inventory, group));
  // Like Ansible, globs and regexes look at host names too, plain names only when no group matched.
  if (groups.length === 0 || isRegex || isGlob) hosts.push(...[...inventory.hosts.keys()].filter(matches));
  if (hosts.length === 0 && groups.length === 0 && !isRegex && !isGlob) {
    const known = [...inventory.groups.keys()];
    throw new InputError(
      place,
      `unknown host or group '${base}' in pattern '${pattern}'`,
      `known groups: ${known.slice(0, 40).join(', ')}${known.length > 40 ? ', ...' : ''}; host names must match the ` +
        `inventory exactly`,
    );
  }
  const unique = [...new Set(hosts)];
  return subscript ? applySubscript(unique, subscript, base, place) : unique;
}

interface Subscript {
  start: number;
  end?: number; // inclusive; absent for a single index
}

function splitSubscript(term: string): { base: string; subscript?: Subscript } {
  const m = term.startsWith('~') ? null : /^(.+)\[(?:(-?\d+)|(\d+):(\d+)?)\]$/.exec(term);
  if (!m) return { base: term };
  if (m[2] !== undefined) return { base: m[1], subscript: { start: Number(m[2]) } };
  return { base: m[1], subscript: { start: Number(m[3]), end: m[4] === undefined ? -1 : Number(m[4]) } };
}

/** `group[0]`, `group[-1]`, `group[1:3]` (inclusive), `group[2:]`, over the group's own host order. */
function applySubscript(hosts: string[], subscript: Subscript, base: string, place?: SourcePlace): string[] {
  if (subscript.end === undefined) {
    const index = subscript.start < 0 ? hosts.length + subscript.start : subscript.start;
    if (index < 0 || index >= hosts.length) {
      throw new InputError(
        place,
        `index ${subscript.start} is out of range for '${base}', which has ${hosts.length} host(s)`,
        `use an index from 0 to ${hosts.length - 1}, or -1 for the last host`,
      );
    }
    return [hosts[index]];
  }
  const end = subscript.end === -1 ? hosts.length - 1 : subscript.end;
  return hosts.slice(subscript.start, end + 1);
}

function regexMatcher(source: string, pattern: string, place?: SourcePlace): (name: string) => boolean {
  let regex: RegExp;
  try {
    regex = new RegExp(`^(?:${source})`); // Python's re.match: anchored at the start only
  } catch (err) {
    throw new InputError(
      place,
      `invalid regular expression '~${source}' in pattern '${pattern}': ${(err as Error).message}`,
      "write a JavaScript regular expression after '~', e.g. ~web\\d+",
    );
  }
  return (name) => regex.test(name);
}

/** fnmatch: `*` any text, `?` one character, `[abc]`/`[!abc]` one of a set; whole name. */
function globMatcher(glob: string): (name: string) => boolean {
  let source = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    const close = c === '[' ? glob.indexOf(']', i + 2) : -1;
    if (c === '*') source += '.*';
    else if (c === '?') source += '.';
    else if (close > 0) {
      const set = glob.slice(i + 1, close).replace(/\\/g, '\\\\');
      source += set.startsWith('!') ? `[^${set.slice(1)}]` : `[${set.replace(/^\^/, '\\^')}]`;
      i = close;
    } else source += c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  }
  const regex = new RegExp(`^${source}$`, 's');
  return (name) => regex.test(name);
}
