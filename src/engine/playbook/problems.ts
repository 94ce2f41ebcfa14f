import { InputError } from '../errors.js';

/** How many problems one load reports before it stops listing them. */
export const MAX_PROBLEMS = 20;

/**
 * Several input problems reported together, so a user fixes a file in one pass instead of one
 * error per run. It is an InputError (exit 2); `problems` holds each one with its own place.
 */
export class InputErrors extends InputError {
  constructor(
    readonly problems: InputError[],
    omitted: number,
    what = 'the playbook',
  ) {
    const more = omitted > 0 ? `\n(and ${omitted} more)` : '';
    super(
      undefined,
      `${problems.length + omitted} problems in ${what}:\n${problems.map((p) => p.message).join('\n')}${more}`,
    );
    this.name = 'InputErrors';
  }
}

/** Collects the problems of one load; `throwIfAny` reports them all at once. */
export class Problems {
  private readonly list: InputError[] = [];
  private omitted = 0;
  private readonly seen = new Set<string>();

  /** A task file read twice (a role run with two sets of params) reports its problems once. */
  add(error: InputError): void {
    if (this.seen.has(error.message)) return;
    this.seen.add(error.message);
    if (this.list.length >= MAX_PROBLEMS) this.omitted++;
    else this.list.push(error);
  }

  addAll(errors: InputError[]): void {
    for (const e of errors) this.add(e);
  }

  get count(): number {
    return this.list.length + this.omitted;
  }

  throwIfAny(): void {
    if (this.list.length === 1) throw this.list[0];
    if (this.list.length > 1) throw new InputErrors(inFileOrder(this.list), this.omitted);
  }
}

/** Files in the order they were first reported, each file's problems top to bottom. */
function inFileOrder(errors: InputError[]): InputError[] {
  const files = [...new Set(errors.map((e) => e.place?.file ?? ''))];
  const rank = (e: InputError) => [files.indexOf(e.place?.file ?? ''), e.place?.line ?? 0, e.place?.column ?? 0];
  return [...errors].sort((a, b) => {
    const [ra, rb] = [rank(a), rank(b)];
    return ra[0] - rb[0] || ra[1] - rb[1] || ra[2] - rb[2];
  });
}

/** The closest candidate to a mistyped name, if it is close enough to be what was meant. */
export function closest(name: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const d = editDistance(name.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  return best !== undefined && bestDistance <= Math.max(2, Math.floor(name.length / 3)) ? best : undefined;
}

export function didYouMean(name: string, candidates: Iterable<string>): string | undefined {
  const guess = closest(name, candidates);
  return guess === undefined ? undefined : `did you mean '${guess}'?`;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length];
}
