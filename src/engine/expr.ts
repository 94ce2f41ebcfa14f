/**
 * Conditions (when, failed_when, changed_when, until): CEL, evaluated without eval by
 * @marcbachmann/cel-js. Common Ansible forms are read too (see template/ansible-condition.ts):
 * `x is defined`, `a not in b`, `and`/`or`/`not`. `"needle" in text` searches a string, as in
 * Jinja. Every problem is an InputError naming the place, the expression and what is wrong.
 */
import { Environment } from '@marcbachmann/cel-js';
import { InputError, type SourcePlace } from './errors.js';
import { ConditionSyntaxError, maskStrings, translateCondition, type VarPath } from './template/ansible-condition.js';

/** What a condition reads variables from: a VarScope, or a plain record. */
export interface VarSource {
  has(name: string): boolean;
  get(name: string): unknown;
}

export type Condition = string | boolean;

const environment = new Environment({
  unlistedVariablesAreDyn: true,
  homogeneousAggregateLiterals: false,
  enableOptionalTypes: true,
}).registerOperator('string in string', (needle: string, haystack: string) => haystack.includes(needle));

type Program = ReturnType<Environment['parse']>;
const PROGRAM_CACHE_LIMIT = 10_000;
const programs = new Map<string, Program>();

/** True when the condition holds; a list holds when every item does (Ansible's `when: [a, b]`). */
export function evaluateCondition(
  condition: Condition | readonly Condition[],
  vars: VarSource | Record<string, unknown>,
  source: SourcePlace,
): boolean {
  const source_ = toVarSource(vars);
  const conditions = Array.isArray(condition) ? condition : [condition];
  // Like Ansible, stop at the first false one: later items may rely on earlier `is defined` checks.
  return conditions.every((item) => evaluateOne(item, source_, source));
}

function evaluateOne(condition: unknown, vars: VarSource, place: SourcePlace): boolean {
  if (typeof condition === 'boolean') return condition;
  const expr = checkedText(condition, place);
  const cel = aliasTypeNames(translate(expr, vars, place), vars);
  const result = run(cel, expr, contextFor(cel, vars), place);
  if (typeof result !== 'boolean') {
    throw new InputError(
      place,
      `condition '${expr}' gave ${describe(result)}, not true or false`,
      'compare the value: x == "a", size(x) > 0, has(x.y)',
    );
  }
  return result;
}

function checkedText(condition: unknown, place: SourcePlace): string {
  if (typeof condition !== 'string') {
    throw new InputError(
      place,
      `a condition must be an expression string or true/false, got ${JSON.stringify(condition)}`,
      'write it as a string, e.g. when: x == "a"',
    );
  }
  const expr = condition.trim();
  if (expr === '')
    throw new InputError(place, 'the condition is empty', 'write an expression such as x == "a", or remove the key');
  if (expr.includes('{{')) {
    throw new InputError(
      place,
      `condition '${expr}' holds template syntax {{ }}`,
      'conditions are expressions already: write x == "a", not {{ x }} == "a"',
    );
  }
  return expr;
}

/**
 * The condition's syntax problem, if it has one, found without any variable (at load, before any
 * host). `x is defined` is read as if x were defined: either way the rest must parse.
 */
export function conditionSyntaxProblem(condition: unknown, place: SourcePlace): InputError | undefined {
  if (typeof condition === 'boolean') return undefined;
  try {
    const expr = checkedText(condition, place);
    const cel = translate(expr, { has: () => true, get: () => undefined }, place);
    try {
      programFor(cel);
    } catch (err) {
      return celProblem(err as CelError, cel, expr, place);
    }
    return undefined;
  } catch (err) {
    if (err instanceof InputError) return err;
    throw err;
  }
}

/**
 * The variables a condition reads (identifiers not after a dot, not functions, not in strings),
 * leaving out those it only tests with `is defined` / `is undefined`, and macro variables.
 */
export function conditionNames(condition: Condition): string[] {
  if (typeof condition !== 'string') return [];
  let cel: string;
  try {
    cel = translateCondition(condition, () => true);
  } catch {
    return [];
  }
  const masked = maskStrings(cel);
  const bound = new Set(
    [...masked.matchAll(/\.(?:all|exists|exists_one|map|filter)\(\s*([A-Za-z_]\w*)\s*,/g)].map((m) => m[1]!),
  );
  const names = new Set<string>();
  for (const [name] of masked.matchAll(/(?<![\w.])[A-Za-z_]\w*(?!\w|\s*\()/g)) {
    if (!CEL_WORDS.has(name) && !bound.has(name)) names.add(name);
  }
  return [...names];
}

const CEL_WORDS = new Set(['true', 'false', 'null', 'in']);

function translate(expr: string, vars: VarSource, place: SourcePlace): string {
  try {
    return translateCondition(expr, (path) => isDefined(vars, path));
  } catch (err) {
    if (err instanceof ConditionSyntaxError)
      throw new InputError(place, `condition '${expr}': ${err.message}`, err.fix);
    throw err;
  }
}

function run(cel: string, expr: string, context: Record<string, unknown>, place: SourcePlace): unknown {
  try {
    return programFor(cel)(context);
  } catch (err) {
    if (err instanceof InputError) throw err;
    throw celProblem(err as CelError, cel, expr, place);
  }
}

function programFor(cel: string): Program {
  let program = programs.get(cel);
  if (!program) {
    program = environment.parse(cel);
    if (programs.size >= PROGRAM_CACHE_LIMIT) programs.clear();
    programs.set(cel, program);
  }
  return program;
}

interface CelError extends Error {
  code?: string;
  summary?: string;
}

function celProblem(err: CelError, cel: string, expr: string, place: SourcePlace): InputError {
  const summary = err.summary ?? err.message.split('\n')[0];
  const readAs = cel === expr ? '' : ` (read as CEL: ${cel})`;
  const unknown = /^Unknown variable: (.+)$/.exec(summary);
  if (unknown) {
    return new InputError(
      place,
      `condition '${expr}' uses undefined variable '${unknown[1]}'${readAs}`,
      `define it in vars, group_vars or defaults, or guard it: ${unknown[1]} is defined and ...`,
    );
  }
  const noKey = /^No such key: (.+)$/.exec(summary);
  if (noKey) {
    return new InputError(
      place,
      `condition '${expr}': no key '${noKey[1]}'${readAs}`,
      `guard it with has(x.${noKey[1]}) or 'x.${noKey[1]} is defined', or read it with x.?${noKey[1]}.orValue(default)`,
    );
  }
  const kind = err.code === undefined || err.name === 'ParseError' ? 'syntax error' : 'error';
  return new InputError(
    place,
    `condition '${expr}': ${kind}: ${summary}${readAs}\n${highlight(err.message)}`,
    'conditions are CEL expressions (docs/templates.md, "Conditions")',
  );
}

/** The source excerpt cel-js prints under its message, if any. */
function highlight(message: string): string {
  return message
    .split('\n')
    .slice(1)
    .filter((line) => line.trim() !== '')
    .join('\n');
}

/** CEL's type names; a variable that has one of these names is renamed so CEL reads the variable. */
const CEL_TYPE_NAMES = new Set([
  'int',
  'uint',
  'double',
  'bool',
  'string',
  'bytes',
  'list',
  'map',
  'null_type',
  'type',
  'dyn',
]);
const ALIAS_PREFIX = '_furrow_var_';

function aliasTypeNames(cel: string, vars: VarSource): string {
  const masked = maskStrings(cel);
  return cel.replace(/(?<![\w.])[A-Za-z_]\w*(?!\w|\s*\()/g, (name, offset: number) =>
    CEL_TYPE_NAMES.has(name) && masked.startsWith(name, offset) && vars.has(name) ? ALIAS_PREFIX + name : name,
  );
}

/** The variables an expression may read (identifiers not after a dot), converted for CEL. */
function contextFor(cel: string, vars: VarSource): Record<string, unknown> {
  const context: Record<string, unknown> = {};
  for (const [name] of maskStrings(cel).matchAll(/(?<![\w.])[A-Za-z_]\w*/g)) {
    const variable = name.startsWith(ALIAS_PREFIX) ? name.slice(ALIAS_PREFIX.length) : name;
    if (!(name in context) && vars.has(variable)) context[name] = toCel(vars.get(variable));
  }
  return context;
}

/**
 * CEL tells int from double; YAML and JSON do not. Whole numbers become CEL ints (bigint) so that
 * `rc != 0` and `count + 1 > 2` type-check; other numbers stay doubles.
 */
export function toCel(value: unknown): unknown {
  if (typeof value === 'number') return Number.isInteger(value) ? BigInt(value) : value;
  if (Array.isArray(value)) return value.map(toCel);
  if (value !== null && typeof value === 'object' && isPlain(value)) {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) if (item !== undefined) out[key] = toCel(item);
    return out;
  }
  return value;
}

function isPlain(value: object): boolean {
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function isDefined(vars: VarSource, path: VarPath): boolean {
  const [head, ...rest] = path;
  if (typeof head !== 'string' || !vars.has(head)) return false;
  if (rest.length === 0) return true; // defined even if its value fails to render: that error comes on use
  let value: unknown = vars.get(head);
  for (const key of rest) {
    if (value === null || typeof value !== 'object' || !Object.hasOwn(value, key)) return false;
    value = (value as Record<string | number, unknown>)[key];
  }
  return value !== undefined;
}

function toVarSource(vars: VarSource | Record<string, unknown>): VarSource {
  if (typeof vars.has === 'function' && typeof vars.get === 'function') return vars as VarSource;
  const record = vars as Record<string, unknown>;
  return { has: (name) => Object.hasOwn(record, name), get: (name) => record[name] };
}

function describe(value: unknown): string {
  if (typeof value === 'bigint') return `the number ${value}`;
  if (typeof value === 'string') return `the string ${JSON.stringify(value)}`;
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  return typeof value === 'object' ? 'a map' : `${typeof value} ${String(value)}`;
}
