/**
 * Building POSIX sh text safely. Every value interpolated into `sh` is single-quoted, so a path,
 * a user name or a variable from the inventory can never become shell syntax. All shell text the
 * engine builds goes through here (STYLE: "Build shell only with the quoting `sh` template").
 */

/** A piece of shell text that is already safe and is inserted as it is (see `raw`). */
export class RawShell {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

/** Values `sh` accepts: strings and numbers are quoted, arrays become one quoted word per item. */
export type ShellValue = string | number | bigint | RawShell | readonly ShellValue[];

/**
 * Quote one value as a single POSIX sh word. Always quotes (even `abc` becomes `'abc'`) so the
 * result never depends on which characters happen to be in the value.
 */
export function quote(value: string | number | bigint): string {
  if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'bigint') {
    // A missing variable must fail loudly here, not become the word 'undefined' on a host.
    throw new TypeError(`shell quote: expected a string or number, got ${describe(value)}`);
  }
  const text = String(value);
  if (text.includes('\0')) throw new TypeError('shell quote: a shell word cannot contain a NUL byte');
  // Inside single quotes nothing is special except the quote itself: close, add \', reopen.
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

/**
 * Mark trusted shell text (an operator, a fragment built by `sh`) to be inserted unquoted.
 * Never pass anything derived from input to `raw`.
 */
export function raw(text: string): RawShell {
  return new RawShell(text);
}

/**
 * Tagged template: the literal parts are shell text written by us, every `${value}` is quoted.
 *   sh`install -m ${mode} ${src} ${dest}`  ->  install -m '0644' 'a b' '/etc/x'
 * Arrays expand to space-separated quoted words; `raw(...)` is inserted as it is.
 */
export function sh(strings: TemplateStringsArray, ...values: ShellValue[]): string {
  let out = strings[0] ?? '';
  values.forEach((value, i) => {
    out += render(value) + (strings[i + 1] ?? '');
  });
  return out;
}

function render(value: ShellValue): string {
  if (value instanceof RawShell) return value.text;
  if (Array.isArray(value)) return value.map((item: ShellValue) => render(item)).join(' ');
  return quote(value as string | number | bigint);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value;
}
