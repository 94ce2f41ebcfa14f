/** Lines and Python regular expressions as lineinfile and blockinfile read them. */
import { InputError } from '../../engine/errors.js';

/** Python's `readlines()`: each line keeps its '\n', the last may have none. */
export function splitLines(text: string): string[] {
  return text === '' ? [] : text.split(/(?<=\n)/);
}

/** A line without its line ending, as Ansible compares (`rstrip('\r\n')`). */
export function bareLine(line: string): string {
  return line.replace(/[\r\n]+$/, '');
}

/**
 * Compiles an Ansible (Python) regular expression as JavaScript: named groups `(?P<n>...)` and
 * `(?P=n)` are rewritten; anything else JavaScript rejects is an input error naming the param.
 */
export function compileRegex(pattern: string, module: string, param: string): RegExp {
  const js = pattern.replace(/\(\?P</g, '(?<').replace(/\(\?P=(\w+)\)/g, '\\k<$1>');
  try {
    return new RegExp(js);
  } catch (err) {
    throw new InputError(
      undefined,
      `${module}: ${param} ${JSON.stringify(pattern)} is not a valid regular expression (${(err as Error).message})`,
      'fix the pattern (JavaScript regular expression syntax)',
    );
  }
}

/** Python's `match.expand(template)`: \1, \g<1>, \g<name>, and \n \t \\ escapes. */
export function expandMatch(template: string, match: RegExpExecArray): string {
  return template.replace(
    /\\(?:g<(\w+)>|(\d{1,2})|([\s\S]))/g,
    (whole, ref: string | undefined, num: string | undefined, esc: string | undefined) => {
      if (ref !== undefined) return (/^\d+$/.test(ref) ? match[Number(ref)] : match.groups?.[ref]) ?? '';
      if (num !== undefined) return match[Number(num)] ?? '';
      const escapes: Record<string, string> = { n: '\n', t: '\t', r: '\r', '\\': '\\' };
      return escapes[esc!] ?? whole;
    },
  );
}
