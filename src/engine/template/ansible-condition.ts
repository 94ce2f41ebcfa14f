/**
 * Reads the Ansible (Jinja) forms that conditions commonly use as CEL, by small textual rewrites
 * that never touch string literals:
 *   x is defined / is not defined / is undefined   -> true or false, decided here from the vars
 *   x is none                                      -> x == null
 *   r is changed / failed / skipped / succeeded    -> tests on r's fields
 *   a not in b                                     -> !(a in b)
 *   and / or                                       -> && / ||
 *   not a == b                                     -> !(a == b)  (Jinja's `not` binds loosely)
 *   True / False / None                            -> true / false / null
 * Anything Jinja-only that remains (other `is` tests, `|` filters) is an error with the CEL way.
 */

/** A variable path as written: `a.b['c'][0]` is ['a', 'b', 'c', 0]. */
export type VarPath = Array<string | number>;

const PATH = String.raw`[A-Za-z_]\w*(?:\.[A-Za-z_]\w*|\[\s*(?:'[^']*'|"[^"]*"|\d+)\s*\])*`;
const NOT_AFTER = String.raw`(?<![\w.\])'"])`;
const OPERAND = String.raw`(?:${PATH}|'[^']*'|"[^"]*"|-?\d+(?:\.\d+)?)`;
const IS_TEST = new RegExp(
  String.raw`${NOT_AFTER}(${PATH})\s+is\s+(not\s+)?(defined|undefined|none|changed|failed|skipped|succeeded|success)\b`,
  'dg',
);
const NOT_IN = new RegExp(String.raw`${NOT_AFTER}(${OPERAND})\s+not\s+in\s+(${OPERAND})(?![\w.[])`, 'dg');
const WORD_OPERATOR = /(?<![\w.])(and|or|True|False|None)(?!\w)/dg;
const CEL_WORDS: Record<string, string> = { and: '&&', or: '||', True: 'true', False: 'false', None: 'null' };
const NOT = /(?<![\w.])not(?!\w)/;

export class ConditionSyntaxError extends Error {
  constructor(
    message: string,
    readonly fix: string,
  ) {
    super(message);
  }
}

export function translateCondition(expr: string, isDefined: (path: VarPath) => boolean): string {
  let text = rewrite(expr, IS_TEST, ([, path, negated, test]) => isTest(path, test, Boolean(negated), isDefined));
  text = rewrite(text, NOT_IN, ([, needle, haystack]) => `!(${needle} in ${haystack})`);
  if (/(?<![\w.])not\s+in(?!\w)/.test(maskStrings(text))) {
    throw new ConditionSyntaxError("'not in' is supported between variables and literals only", 'write !(x in y)');
  }
  text = rewrite(text, WORD_OPERATOR, ([word]) => CEL_WORDS[word]);
  text = rewriteNot(text);
  rejectJinjaLeftovers(maskStrings(text));
  return text;
}

function isTest(path: string, test: string, negated: boolean, isDefined: (path: VarPath) => boolean): string {
  const not = (cel: string) => (negated ? `!(${cel})` : `(${cel})`);
  switch (test) {
    case 'defined':
      return String(isDefined(parsePath(path)) !== negated);
    case 'undefined':
      return String(isDefined(parsePath(path)) === negated);
    case 'none':
      return not(`${path} == null`);
    case 'succeeded':
    case 'success':
      return not(`!(has(${path}.failed) && ${path}.failed == true)`);
    default:
      return not(`has(${path}.${test}) && ${path}.${test} == true`);
  }
}

function rejectJinjaLeftovers(masked: string): void {
  const isTestLeft = /(?<![\w.])is\s+(not\s+)?(\w+)/.exec(masked);
  if (isTestLeft) {
    throw new ConditionSyntaxError(
      `the Jinja test 'is ${isTestLeft[1] ?? ''}${isTestLeft[2]}' is not supported here`,
      'use a CEL expression (x == "a", size(x) > 0, has(x.y)); tests read as CEL are: defined, undefined, none, ' +
        'changed, failed, skipped, succeeded, on a variable path',
    );
  }
  if (/(?<!\|)\|(?!\|)/.test(masked)) {
    throw new ConditionSyntaxError(
      'Jinja filters (|) are not supported in conditions',
      'use CEL: size(x) for length, int(x) and string(x) to convert, x.contains("y") or "y" in x to search, ' +
        'x.matches("re") for a regex',
    );
  }
}

/**
 * Jinja's `not` binds looser than comparisons (`not a == b` is `not (a == b)`), CEL's `!` tighter,
 * so `not X` becomes `!(X)` where X runs to the next &&, ||, comma, ?, : or closing bracket.
 */
function rewriteNot(text: string): string {
  for (;;) {
    const masked = maskStrings(text);
    const match = NOT.exec(masked);
    if (!match) return text;
    const start = match.index + match[0].length;
    const end = operandEnd(masked, start);
    const operand = text.slice(start, end);
    const trailing = /\s*$/.exec(operand)![0];
    text = `${text.slice(0, match.index)}!(${operand.trim()})${trailing}${text.slice(end)}`;
  }
}

function operandEnd(masked: string, from: number): number {
  let depth = 0;
  for (let i = from; i < masked.length; i++) {
    const char = masked[i];
    if ('([{'.includes(char)) depth++;
    else if (')]}'.includes(char)) {
      if (depth === 0) return i;
      depth--;
    } else if (depth === 0 && (masked.startsWith('&&', i) || masked.startsWith('||', i) || ',?:'.includes(char)))
      return i;
  }
  return masked.length;
}

/** Replaces each match found outside string literals; `replace` gets the groups from `text`. */
function rewrite(text: string, pattern: RegExp, replace: (groups: string[]) => string): string {
  const masked = maskStrings(text);
  let out = '';
  let last = 0;
  for (const match of masked.matchAll(pattern)) {
    const indices = match.indices!;
    const groups = indices.map((span) => (span ? text.slice(span[0], span[1]) : ''));
    out += text.slice(last, indices[0][0]) + replace(groups);
    last = indices[0][1];
  }
  return out + text.slice(last);
}

/**
 * The text with the inside of every string literal blanked out (same length), so rewrites and
 * checks see only code. Handles '', "", triple quotes, escapes and r'' raw strings.
 */
export function maskStrings(text: string): string {
  let out = '';
  let i = 0;
  while (i < text.length) {
    const char = text[i];
    if (char !== '"' && char !== "'") {
      out += char;
      i++;
      continue;
    }
    const quote = text.startsWith(char.repeat(3), i) ? char.repeat(3) : char;
    const raw = /[rR]/.test(text[i - 1] ?? '') && !/\w/.test(text[i - 2] ?? '');
    let end = i + quote.length;
    while (end < text.length && !text.startsWith(quote, end)) end += !raw && text[end] === '\\' ? 2 : 1;
    end = Math.min(end, text.length);
    out += quote + '\0'.repeat(end - i - quote.length);
    if (end < text.length) out += quote;
    i = Math.min(end + quote.length, text.length);
  }
  return out.slice(0, text.length);
}

/** `a.b['c'][0]` as ['a', 'b', 'c', 0]. */
export function parsePath(text: string): VarPath {
  const path: VarPath = [];
  const segment = /\.?([A-Za-z_]\w*)|\[\s*(?:'([^']*)'|"([^"]*)"|(\d+))\s*\]/gy;
  for (let match = segment.exec(text); match; match = segment.exec(text)) {
    path.push(match[4] !== undefined ? Number(match[4]) : (match[1] ?? match[2] ?? match[3]));
  }
  return path;
}
