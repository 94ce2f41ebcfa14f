/**
 * Templates: Handlebars, strict. Any undefined variable is an InputError that names the file,
 * the line and the variable. Templates are compiled once per text and cached.
 *
 * Options, and why:
 * - noEscape: these are config files, not HTML.
 * - strict: a typo must fail, not render as "". strict-paths.ts extends the check to helper
 *   arguments and nested paths, which Handlebars' strict mode misses.
 * - compat: inside `{{#each}}` a name is also looked up in the enclosing contexts, so
 *   `{{#each nodes}}{{this}}:{{etcd_port}}{{/each}}` sees the top-level `etcd_port`.
 */
import Handlebars from 'handlebars';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { packagePath } from '../package-root.js';
import { InputError, type SourcePlace } from './errors.js';
import { registerHelpers, TemplateFault, type TemplatePosition } from './template/helpers.js';
import {
  guardPaths,
  keepSingleValue,
  KEEP_HELPER,
  REQUIRED_HELPER,
  TEXT_HELPER,
  VALUE_HELPER,
} from './template/strict-paths.js';

/** Where a template comes from, for messages. */
export interface TemplateSource {
  file: string;
  /** For a string inside a YAML file: the file line of the template's first line. Omit it for a
   * template file; errors then give the line and column within the file. */
  line?: number;
  /** A string inside `file` at a line not known: errors name the file alone. */
  embedded?: boolean;
  /** What is being rendered, e.g. "the value of 'x'". */
  context?: string;
  /** The text is secret (a no_log task): errors give the place and the problem, never the text. */
  secret?: boolean;
}

export interface CompiledTemplate {
  /** Top-level names the template may read: the variables to resolve before rendering. */
  readonly names: ReadonlySet<string>;
  /** Names it cannot render without (read outside blocks, not through default/defined). */
  readonly required: ReadonlySet<string>;
  render(vars: Record<string, unknown>): string;
  /** Like render, but a template that is exactly one expression (`{{ nodes }}`) keeps its type. */
  value(vars: Record<string, unknown>): unknown;
}

interface Compiled {
  text: string;
  names: ReadonlySet<string>;
  required: ReadonlySet<string>;
  render: Handlebars.TemplateDelegate;
  /** Renders the single expression into the holder; null when the text is not one expression,
   * undefined until first needed (template files never are). */
  single?: Handlebars.TemplateDelegate | null;
}

const COMPILE_OPTIONS = { noEscape: true, strict: true, compat: true } as const;
const CACHE_LIMIT = 10_000;
const cache = new Map<string, Compiled>();
const handlebars = createHandlebars();

/** True when a string holds template syntax and must be rendered. */
export function isTemplate(text: string): boolean {
  return text.includes('{{');
}

export function renderTemplate(text: string, vars: Record<string, unknown>, source: TemplateSource): string {
  return compileTemplate(text, source).render(vars);
}

/** Renders a value template: exactly one expression keeps its type, anything else is a string. */
export function renderTemplateValue(text: string, vars: Record<string, unknown>, source: TemplateSource): unknown {
  return compileTemplate(text, source).value(vars);
}

export function compileTemplate(text: string, source: TemplateSource): CompiledTemplate {
  const compiled = compileCached(text, source);
  return {
    names: compiled.names,
    required: compiled.required,
    render: (vars) => run(() => compiled.render(vars), source),
    value: (vars) => {
      const single = singleOf(compiled);
      if (!single) return run(() => compiled.render(vars), source);
      const holder: { value?: unknown } = {};
      run(() => single(vars, { data: { [KEEP_HELPER]: holder } }), source);
      return holder.value;
    },
  };
}

function compileCached(text: string, source: TemplateSource): Compiled {
  const hit = cache.get(text);
  if (hit) return hit;
  const compiled = run(() => compile(text), source);
  if (cache.size >= CACHE_LIMIT) cache.clear();
  cache.set(text, compiled);
  return compiled;
}

function compile(text: string): Compiled {
  const table = precompiledTemplates();
  const built = table && Object.hasOwn(table, text) ? table[text] : undefined;
  if (built)
    return {
      text,
      names: new Set(built.names),
      required: new Set(built.required),
      render: handlebars.template(built.render),
      single: built.single ? handlebars.template(built.single) : null,
    };
  const { program, names, required } = guardPaths(
    handlebars.parseWithoutProcessing(text),
    Object.keys(handlebars.helpers),
  );
  return { text, names, required, render: handlebars.compile(program, COMPILE_OPTIONS) };
}

/**
 * The roles' templates, compiled when Furrow is built (scripts/precompile-templates.mjs into
 * dist/templates.cjs), by their text: Handlebars' compiler writing each one's code was about
 * 0.2 s of every deploy all. Another text is compiled here as before.
 */
interface PrecompiledTemplate {
  names: string[];
  required: string[];
  render: TemplateSpecification;
  single: TemplateSpecification | null;
}
type TemplateSpecification = Parameters<typeof Handlebars.template>[0];
let precompiled: Record<string, PrecompiledTemplate> | null | undefined;

/** The source files whose code decides what a text compiles to, as built into dist/src. */
const COMPILER_FILES = [
  ['engine', 'template.js'],
  ['engine', 'template', 'strict-paths.js'],
];

/**
 * What the compiled code of a text depends on: Handlebars' version, the options, the helpers'
 * names (a name that is a helper is not a variable) and the code that rewrites the template. The
 * table is used only when it was built with the same; undefined when that cannot be told.
 */
export function templateCompilerStamp(): string | undefined {
  const hash = createHash('sha256')
    .update(`${handlebars.VERSION}\n${JSON.stringify(COMPILE_OPTIONS)}\n`)
    .update(`${Object.keys(handlebars.helpers).sort().join(',')}\n`);
  try {
    for (const parts of COMPILER_FILES) hash.update(readFileSync(packagePath('dist', 'src', ...parts)));
  } catch {
    return undefined;
  }
  return hash.digest('hex');
}

function precompiledTemplates(): Record<string, PrecompiledTemplate> | null {
  if (precompiled === undefined) {
    precompiled = null;
    try {
      const table = createRequire(import.meta.url)(packagePath('dist', 'templates.cjs')) as {
        stamp: string;
        templates: Record<string, PrecompiledTemplate>;
      };
      if (table.stamp === templateCompilerStamp()) precompiled = table.templates;
    } catch {
      // not built (a test run straight after tsc): compiled as they come
    }
  }
  return precompiled;
}

/**
 * What the build stores for a text: its names and the source of its compiled code, for render
 * and, when the text is one expression, for value(). Undefined when it does not compile.
 */
export function precompileTemplate(
  text: string,
): { names: string[]; required: string[]; render: string; single: string | null } | undefined {
  const helpers = Object.keys(handlebars.helpers);
  try {
    const { program, names, required } = guardPaths(handlebars.parseWithoutProcessing(text), helpers);
    const render = handlebars.precompile(program, COMPILE_OPTIONS) as string;
    const { program: own } = guardPaths(handlebars.parseWithoutProcessing(text), helpers);
    const single = keepSingleValue(own) ? (handlebars.precompile(own, COMPILE_OPTIONS) as string) : null;
    return { names: [...names], required: [...required], render, single };
  } catch {
    return undefined;
  }
}

/** Whether `text` is compiled from the build's table (for tests). */
export function isPrecompiled(text: string): boolean {
  const table = precompiledTemplates();
  return !!table && Object.hasOwn(table, text);
}

function singleOf(compiled: Compiled): Handlebars.TemplateDelegate | null {
  if (compiled.single === undefined) {
    // Its own AST: compile() keeps (and compiles lazily) the one it was given for render.
    const { program } = guardPaths(handlebars.parseWithoutProcessing(compiled.text), Object.keys(handlebars.helpers));
    compiled.single = keepSingleValue(program) ? handlebars.compile(program, COMPILE_OPTIONS) : null;
  }
  return compiled.single;
}

function createHandlebars(): typeof Handlebars {
  const instance = Handlebars.create();
  registerHelpers((name, fn) => instance.registerHelper(name, fn));
  instance.registerHelper(
    REQUIRED_HELPER,
    function (this: unknown, value: unknown, name: string, options: HelperOptions) {
      return definedOrFail(value, name, this, options);
    },
  );
  instance.registerHelper(VALUE_HELPER, function (this: unknown, value: unknown, name: string, options: HelperOptions) {
    return asText(definedOrFail(value, name, this, options));
  });
  instance.registerHelper(TEXT_HELPER, (value: unknown) => asText(value));
  instance.registerHelper(KEEP_HELPER, (value: unknown, options: HelperOptions) => {
    (options.data[KEEP_HELPER] as { value?: unknown }).value = value;
    return '';
  });
  return instance;
}

interface HelperOptions {
  loc?: { start: TemplatePosition };
  data: Record<string, unknown>;
}

/**
 * Compat lookup (see the top) treats null as missing, so a name that is undefined here may be a
 * null in the current or the root context: that is a value, not an undefined variable.
 */
function definedOrFail(value: unknown, name: string, context: unknown, options: HelperOptions): unknown {
  if (value !== undefined) return value;
  if (isNullIn(context, name) || isNullIn(options.data.root, name)) return null;
  throw new TemplateFault(`undefined variable '${name}'`, options.loc?.start, name);
}

function isNullIn(context: unknown, name: string): boolean {
  return (
    context !== null &&
    typeof context === 'object' &&
    Object.hasOwn(context, name) &&
    (context as Record<string, unknown>)[name] === null
  );
}

/** Lists and maps print as JSON, never as "a,b" or "[object Object]"; null prints as "". */
function asText(value: unknown): string {
  if (value === undefined || value === null) return '';
  return typeof value === 'object' ? JSON.stringify(value) : String(value);
}

function run<T>(work: () => T, source: TemplateSource): T {
  try {
    return work();
  } catch (err) {
    throw toInputError(err, source);
  }
}

function toInputError(err: unknown, source: TemplateSource): Error {
  if (err instanceof InputError) return err;
  const message = err instanceof Error ? err.message : String(err);
  const context = source.context ? ` in ${source.context}` : '';
  if (err instanceof TemplateFault) {
    const fix = err.undefinedName ? defineFix(err.undefinedName) : undefined;
    return new InputError(placeOf(source, err.position), `${err.message}${context}`, fix);
  }
  const handlebarsError = err as { lineNumber?: number; column?: number };
  const strictMiss = /^"([^"]+)" not defined in /.exec(message);
  if (strictMiss) {
    const position = { line: handlebarsError.lineNumber ?? 1, column: handlebarsError.column ?? 0 };
    return new InputError(
      placeOf(source, position),
      `undefined variable '${strictMiss[1]}'${context}`,
      defineFix(strictMiss[1]),
    );
  }
  const parse = /^(?:Parse|Lexical) error on line (\d+)[:.]/.exec(message);
  if (parse) {
    const problem = `template syntax error${context}: ${shortenParseError(message, !!source.secret)}`;
    return new InputError(
      placeOf(source, { line: Number(parse[1]), column: -1 }),
      problem,
      'check the {{ }} around this place; write \\{{ for a literal {{',
    );
  }
  const position = handlebarsError.lineNumber
    ? { line: handlebarsError.lineNumber, column: handlebarsError.column ?? 0 }
    : undefined;
  return new InputError(placeOf(source, position), `template error${context}: ${message.replace(/ - \d+:\d+$/, '')}`);
}

function defineFix(name: string): string {
  return `define it in vars, group_vars or defaults, or use (default ${name} 'value')`;
}

/** Handlebars lists every token it would accept; the snippet and what it got say enough. */
function shortenParseError(message: string, secret: boolean): string {
  const lines = message.split('\n').slice(1);
  const expecting = lines.findIndex((line) => line.startsWith('Expecting '));
  if (expecting >= 0) lines[expecting] = lines[expecting].replace(/^Expecting .*, got /, 'unexpected ');
  // The first two lines quote the template and point into it: not for a secret's text.
  return (secret ? lines.slice(2) : lines).join('\n');
}

/** A template position as a file place: lines add to the template's own first line. */
function placeOf(source: TemplateSource, position: TemplatePosition | undefined): SourcePlace {
  if (!position || (source.embedded && source.line === undefined)) return { file: source.file, line: source.line };
  if (source.line !== undefined) return { file: source.file, line: source.line + position.line - 1 };
  return { file: source.file, line: position.line, column: position.column >= 0 ? position.column + 1 : undefined };
}
