/** File modes as Ansible users write them (octal, symbolic, YAML 1.1 or 1.2 numbers) and as chmod sets them. */
import { InputError } from '../../engine/errors.js';

export type ModeSpec = { kind: 'octal'; bits: number } | { kind: 'symbolic'; text: string };

const SYMBOLIC = /^[ugoa]*(?:[-+=][rwxXst]*)+$/;

/**
 * Strings: '0644', '644', '0o644', or symbolic 'u=rw,g=r,o=r'. Numbers: `mode: 0644` reaches us
 * as 420 from a YAML 1.1 loader (ours: src/engine/yaml.ts) and as 644 from a
 * YAML 1.2 one, so both must mean 0644 (see `numericMode`).
 */
export function parseMode(input: string | number, module: string): ModeSpec {
  const fail = (): never => {
    throw new InputError(
      undefined,
      `${module}: mode ${JSON.stringify(input)} is not a file mode`,
      `give an octal mode such as '0644' or a symbolic one such as 'u=rw,g=r,o=r'`,
    );
  };
  if (typeof input === 'number') {
    const bits = numericMode(input);
    return bits === undefined ? fail() : { kind: 'octal', bits };
  }
  const text = input.trim();
  if (/^0?[0-7]{1,4}$/.test(text) || /^0o[0-7]{1,4}$/.test(text))
    return { kind: 'octal', bits: parseInt(text.replace(/^0o/, ''), 8) };
  if (text.split(',').every((clause) => SYMBOLIC.test(clause))) return { kind: 'symbolic', text };
  return fail();
}

/**
 * A number as a mode. Up to 0o777 it is its value (0644 read by YAML 1.1, 0o644 from code). A
 * number written with octal digits that would otherwise set setuid/sticky bits (644, 755, 600:
 * YAML 1.2's reading of 0644, or a bare 644) means those octal digits, which is what the user
 * wrote; setuid/sticky modes from YAML 1.1 (04755 -> 2541) keep their value.
 */
export function numericMode(n: number): number | undefined {
  if (!Number.isInteger(n) || n < 0) return undefined;
  const octalDigits = /^[0-7]+$/.test(String(n)) ? parseInt(String(n), 8) : undefined;
  if (n <= 0o777) return n;
  if (n <= 777 && octalDigits !== undefined) return octalDigits;
  if (n <= 0o7777) return n;
  return octalDigits !== undefined && octalDigits <= 0o7777 ? octalDigits : undefined;
}

/** The mode a file ends up with: symbolic modes apply to its current mode (or a new file's default). */
export function resolveMode(spec: ModeSpec, current: number | undefined, isDirectory: boolean): number {
  if (spec.kind === 'octal') return spec.bits;
  let mode = current ?? (isDirectory ? 0o755 : 0o644);
  for (const clause of spec.text.split(',')) {
    const who = /^[ugoa]*/.exec(clause)![0] || 'a';
    const scope = [...who].reduce((m, w) => m | WHO_BITS[w as keyof typeof WHO_BITS], 0);
    for (const [, op, perms] of clause.slice(/^[ugoa]*/.exec(clause)![0].length).matchAll(/([-+=])([rwxXst]*)/g)) {
      let bits = 0;
      for (const p of perms ?? '')
        bits |= p === 'X' ? (isDirectory || mode & 0o111 ? 0o111 : 0) : PERM_BITS[p as keyof typeof PERM_BITS];
      bits &= scope;
      if (op === '+') mode |= bits;
      else if (op === '-') mode &= ~bits;
      else mode = (mode & ~scope) | bits;
    }
  }
  return mode;
}

const WHO_BITS = { u: 0o4700, g: 0o2070, o: 0o1007, a: 0o7777 };
const PERM_BITS = { r: 0o444, w: 0o222, x: 0o111, s: 0o6000, t: 0o1000 };

export function formatMode(bits: number): string {
  return bits.toString(8).padStart(4, '0');
}
