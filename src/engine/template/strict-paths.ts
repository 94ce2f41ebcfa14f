/**
 * Rewrites a parsed Handlebars template so that every variable it uses is checked, by name and
 * position, and collects the top-level names it reads (so variables can be resolved lazily).
 *
 * Why: Handlebars' strict mode checks `{{x}}` but not helper arguments (`{{join x ","}}` gets
 * undefined), and it crashes with a bare TypeError on `x.y` when `x` is missing. So each path
 * `a.b.c` becomes `(lookup (lookup a "b") "c")`, which yields undefined instead of throwing, and
 * is wrapped in `(__required ... "a.b.c")`, which throws a TemplateFault naming the path, unless
 * the helper exists to handle undefined (`default`, `defined`). Plain output `{{a.b}}` becomes
 * `{{__value ... "a.b"}}`, which also checks; `{{helper ...}}` becomes `{{__text (helper ...)}}`.
 * Both print text: lists and maps as JSON, null as "".
 */
import type { TemplatePosition } from './helpers.js';
import { TemplateFault, UNDEFINED_TOLERANT } from './helpers.js';

type Node = hbs.AST.Node;
type Expression = hbs.AST.Expression;
type Path = hbs.AST.PathExpression;
type Call = hbs.AST.MustacheStatement | hbs.AST.BlockStatement | hbs.AST.SubExpression;

export const VALUE_HELPER = '__value';
export const REQUIRED_HELPER = '__required';
export const KEEP_HELPER = '__keep';
export const TEXT_HELPER = '__text';

/** Handlebars' own helpers that the rewrite may leave in place or produce. */
const BUILTIN_HELPERS = ['if', 'unless', 'each', 'with', 'lookup', 'log'];

export interface GuardedTemplate {
  program: hbs.AST.Program;
  /** First segment of every path the template reads at the top level: the variables it may use. */
  names: Set<string>;
  /**
   * Names the template cannot render without: read outside every block and not through a helper
   * that tolerates undefined (default, defined). What a run can check before touching a host.
   */
  required: Set<string>;
}

export function guardPaths(program: hbs.AST.Program, helperNames: Iterable<string>): GuardedTemplate {
  const rewriter = new PathGuard(new Set([...helperNames, ...BUILTIN_HELPERS]));
  rewriter.program(program);
  return { program, names: rewriter.names, required: rewriter.required };
}

/**
 * Turns a guarded single-expression template (`{{x}}`, `{{cidrhost net 2}}`) into one that hands
 * the expression's value, with its type, to the `__keep` helper. Returns false when the template
 * is not exactly one expression.
 */
export function keepSingleValue(program: hbs.AST.Program): boolean {
  const [only] = program.body;
  if (program.body.length !== 1 || only.type !== 'MustacheStatement') return false;
  const mustache = only as hbs.AST.MustacheStatement;
  const helper = mustache.path.type === 'PathExpression' ? (mustache.path as Path).original : undefined;
  if (helper === VALUE_HELPER) {
    mustache.params = [subExpression(REQUIRED_HELPER, mustache.params, mustache.loc)];
  } else if (helper === TEXT_HELPER) {
    // params already hold the call as a subexpression
  } else if (helper !== undefined) {
    mustache.params = [
      {
        type: 'SubExpression',
        path: mustache.path,
        params: mustache.params,
        hash: mustache.hash,
        loc: mustache.loc,
      } as hbs.AST.SubExpression,
    ];
  } else {
    mustache.params = [mustache.path];
  }
  mustache.path = pathTo(KEEP_HELPER, mustache.loc);
  mustache.hash = emptyHash(mustache.loc);
  return true;
}

class PathGuard {
  readonly names = new Set<string>();
  readonly required = new Set<string>();
  /** Inside a block, names may be the block's own context (each item, with): not required. */
  private blockDepth = 0;
  constructor(private readonly helpers: Set<string>) {}

  program(program: hbs.AST.Program | undefined): void {
    for (const statement of program?.body ?? []) this.statement(statement);
  }

  private statement(node: Node): void {
    switch (node.type) {
      case 'MustacheStatement':
        return this.mustache(node as hbs.AST.MustacheStatement);
      case 'BlockStatement': {
        const block = node as hbs.AST.BlockStatement;
        if (isCall(block)) this.call(block);
        else this.collect(block.path);
        this.blockDepth++;
        this.program(block.program);
        this.program(block.inverse);
        this.blockDepth--;
        return;
      }
      case 'PartialStatement':
      case 'PartialBlockStatement':
      case 'DecoratorBlock':
      case 'Decorator':
        throw new TemplateFault('partials and decorators are not supported in Furrow templates', start(node));
    }
  }

  private mustache(node: hbs.AST.MustacheStatement): void {
    if (node.path.type !== 'PathExpression') return;
    const path = node.path as Path;
    if (isCall(node)) {
      this.call(node);
      // With noEscape, Handlebars joins raw values with `+`: {{length a}}{{length b}} would add.
      node.params = [
        { type: 'SubExpression', path, params: node.params, hash: node.hash, loc: node.loc } as hbs.AST.SubExpression,
      ];
      node.path = pathTo(TEXT_HELPER, node.loc);
      node.hash = emptyHash(node.loc);
      return;
    }
    if (this.helpers.has(path.original)) return;
    this.collect(path, true);
    node.params = [safeChain(path), stringLiteral(path.original, path.loc)];
    node.path = pathTo(VALUE_HELPER, path.loc);
  }

  private call(node: Call): void {
    const helper = (node.path as Path).original;
    if (!this.helpers.has(helper)) {
      throw new TemplateFault(`unknown helper '${helper}'`, start(node), undefined);
    }
    node.params = node.params.map((param, index) =>
      this.argument(param, index === 0 && UNDEFINED_TOLERANT.has(helper)),
    );
    for (const pair of node.hash?.pairs ?? []) pair.value = this.argument(pair.value, false);
  }

  private argument(node: Expression, mayBeUndefined: boolean): Expression {
    if (node.type === 'SubExpression') {
      this.call(node as hbs.AST.SubExpression);
      return node;
    }
    if (node.type !== 'PathExpression') return node;
    const path = node as Path;
    this.collect(path, !mayBeUndefined);
    if (path.parts.length === 0) return path; // `this`
    const chain = safeChain(path);
    return mayBeUndefined
      ? chain
      : subExpression(REQUIRED_HELPER, [chain, stringLiteral(path.original, path.loc)], path.loc);
  }

  private collect(path: Path, required = false): void {
    if (path.depth > 0) return;
    const name = path.data ? (path.parts[0] === 'root' ? path.parts[1] : undefined) : path.parts[0];
    if (name === undefined) return;
    this.names.add(name);
    if (required && this.blockDepth === 0) this.required.add(name);
  }
}

function isCall(node: Call): boolean {
  return node.params.length > 0 || (node.hash?.pairs.length ?? 0) > 0;
}

/** `a.b.c` as `(lookup (lookup a "b") "c")`: undefined, not a TypeError, when `a` is missing. */
function safeChain(path: Path): Expression {
  if (path.parts.length <= 1) return path;
  // Keep `this.`/`./` so the head stays scoped: compat mode would otherwise search parent contexts.
  const scoped = /^(?:this[./]|\.\/)/.exec(path.original)?.[0] ?? '';
  const prefix = (path.data ? '@' : '') + '../'.repeat(path.depth) + scoped;
  let chain: Expression = { ...path, parts: [path.parts[0]], original: prefix + path.parts[0] } as Path;
  for (const part of path.parts.slice(1)) {
    chain = subExpression('lookup', [chain, stringLiteral(part, path.loc)], path.loc);
  }
  return chain;
}

function subExpression(helper: string, params: Expression[], loc: hbs.AST.SourceLocation): hbs.AST.SubExpression {
  return { type: 'SubExpression', path: pathTo(helper, loc), params, hash: emptyHash(loc), loc };
}

function pathTo(name: string, loc: hbs.AST.SourceLocation): Path {
  return { type: 'PathExpression', data: false, depth: 0, parts: [name], original: name, loc };
}

function stringLiteral(value: string, loc: hbs.AST.SourceLocation): hbs.AST.StringLiteral {
  return { type: 'StringLiteral', value, original: value, loc };
}

function emptyHash(loc: hbs.AST.SourceLocation): hbs.AST.Hash {
  return { type: 'Hash', pairs: [], loc };
}

function start(node: Node): TemplatePosition | undefined {
  return node.loc ? { line: node.loc.start.line, column: node.loc.start.column } : undefined;
}
