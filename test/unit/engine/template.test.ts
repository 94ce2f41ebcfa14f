import { compileTemplate, renderTemplate, renderTemplateValue } from '../../../src/engine/template.js';
import { inputErrorOf } from '../../support/errors.js';

const file = { file: 'roles/etcd/templates/etcd.service.hbs' };
const render = (text: string, vars: Record<string, unknown> = {}) => renderTemplate(text, vars, file);

describe('rendering', () => {
  test('variables, nested paths, Ansible-style spaces and no HTML escaping', () => {
    expect(
      render('{{ bin_dir }}/etcd --name={{node.name}} <&"\'>', { bin_dir: '/opt/kube/bin', node: { name: 'n1' } }),
    ).toBe('/opt/kube/bin/etcd --name=n1 <&"\'>');
  });

  test('lists and maps print as JSON, null as empty, numbers side by side as text', () => {
    expect(render('{{l}}|{{m}}|{{n}}|', { l: ['a', 1], m: { k: true }, n: null })).toBe('["a",1]|{"k":true}||');
    expect(render('{{a}}{{b}}{{length l}}{{length l}}', { a: 1, b: 2, l: [1] })).toBe('1211');
  });

  test('each sees the enclosing vars; @index, @root, ../ and block params work', () => {
    const vars = { nodes: [{ name: 'a' }, { name: 'b' }], port: 2379 };
    expect(render('{{#each nodes}}{{@index}}:{{name}}:{{port}}:{{@root.port}}:{{../port}} {{/each}}', vars)).toBe(
      '0:a:2379:2379:2379 1:b:2379:2379:2379 ',
    );
    expect(render('{{#each nodes as |n|}}{{n.name}}{{/each}}', vars)).toBe('ab');
  });

  test('block tags on their own line leave no blank lines', () => {
    expect(render('hosts:\n{{#each hosts}}\n  - {{this}}\n{{/each}}\nend\n', { hosts: ['h1', 'h2'] })).toBe(
      'hosts:\n  - h1\n  - h2\nend\n',
    );
  });

  test('groups with dashes are reachable with segment literals', () => {
    expect(render('{{groups.[kube-master].[0]}}', { groups: { 'kube-master': ['m1'] } })).toBe('m1');
  });

  test('\\{{ writes a literal {{', () => {
    expect(render('docker ps --format \\{{.Names}}')).toBe('docker ps --format {{.Names}}');
  });

  test('compiled templates are cached by text and report the names they read', () => {
    const a = compileTemplate('{{x}} {{#each l}}{{y}}{{/each}} {{default z "d"}} {{@root.w}}', file);
    expect([...a.names].sort()).toEqual(['l', 'w', 'x', 'y', 'z']);
    expect(compileTemplate('{{x}} {{#each l}}{{y}}{{/each}} {{default z "d"}} {{@root.w}}', file).names).toBe(a.names);
  });
});

describe('strict: undefined variables are input errors with file, line and name', () => {
  test('a plain variable, with line and column in a template file', () => {
    const err = inputErrorOf(() => render('[Service]\nExecStart={{ bin_dir }}/etcd\n'));
    expect(err.message).toBe(
      "roles/etcd/templates/etcd.service.hbs:2:11: undefined variable 'bin_dir'\n" +
        "  fix: define it in vars, group_vars or defaults, or use (default bin_dir 'value')",
    );
    expect(err.place).toEqual({ file: 'roles/etcd/templates/etcd.service.hbs', line: 2, column: 11 });
  });

  test("a template string inside a YAML file counts lines from the string's own line", () => {
    const err = inputErrorOf(() =>
      renderTemplate('first\nsecond {{ nope }}', {}, { file: 'roles/x/tasks/main.yml', line: 40 }),
    );
    expect(err.place).toEqual({ file: 'roles/x/tasks/main.yml', line: 41 });
    expect(err.problem).toBe("undefined variable 'nope'");
  });

  test('the context names what was being rendered', () => {
    const err = inputErrorOf(() =>
      renderTemplate('{{ y }}', {}, { file: 'group_vars/all.yml', embedded: true, context: "the value of 'x'" }),
    );
    expect(err.message).toMatch(/^group_vars\/all\.yml: undefined variable 'y' in the value of 'x'\n/);
  });

  test('a nested path whose head is missing names the whole path (no TypeError)', () => {
    expect(inputErrorOf(() => render('{{ etcd.data_dir }}')).problem).toBe("undefined variable 'etcd.data_dir'");
    expect(inputErrorOf(() => render('{{ etcd.data_dir }}', { etcd: {} })).problem).toBe(
      "undefined variable 'etcd.data_dir'",
    );
  });

  test('helper arguments, #if, #each and sections are checked too', () => {
    expect(inputErrorOf(() => render('{{join servers ","}}')).message).toMatch(/:1:8: undefined variable 'servers'/);
    expect(inputErrorOf(() => render('a\n{{#if enable_x}}x{{/if}}')).message).toMatch(
      /:2:7: undefined variable 'enable_x'/,
    );
    expect(inputErrorOf(() => render('{{#each nodes}}{{/each}}')).problem).toBe("undefined variable 'nodes'");
    expect(inputErrorOf(() => render('{{#each nodes}}{{name}}{{/each}}', { nodes: [{ name: 'a' }, {}] })).problem).toBe(
      "undefined variable 'name'",
    );
    expect(inputErrorOf(() => render('{{#section}}x{{/section}}')).problem).toBe("undefined variable 'section'");
  });

  test('null is a value, not undefined', () => {
    expect(render('[{{x}}]{{#if x}}yes{{else}}no{{/if}}', { x: null })).toBe('[]no');
  });

  test('an unknown helper, a syntax error and a helper failure are input errors with the line', () => {
    expect(inputErrorOf(() => render('\n{{ frobnicate x }}', { x: 1 })).message).toMatch(
      /hbs:2:1: unknown helper 'frobnicate'$/,
    );
    const syntax = inputErrorOf(() => render('ok\n{{ x }'));
    expect(syntax.place).toEqual({ file: file.file, line: 2, column: undefined });
    expect(syntax.problem).toContain('template syntax error');
    expect(syntax.problem).toContain("unexpected 'INVALID'");
    expect(inputErrorOf(() => render('{{#if x}}\n{{/each}}', { x: 1 })).problem).toBe(
      "template error: if doesn't match each",
    );
    expect(inputErrorOf(() => render('{{cidrhost "10.0.0.0/30" 4}}')).message).toMatch(
      /^roles\/etcd\/templates\/etcd\.service\.hbs:1:1: cidrhost: 10\.0\.0\.0\/30 has 4 addresses: host number 4 /,
    );
    expect(inputErrorOf(() => render('{{> partial}}')).problem).toBe(
      'partials and decorators are not supported in Furrow templates',
    );
  });
});

describe('default and defined work with undefined values', () => {
  test('default takes the fallback for undefined, missing nested keys and null', () => {
    expect(
      render("{{default x 'v'}}|{{default a.b.c 'w'}}|{{default n 'z'}}|{{default s 'u'}}", { n: null, s: '' }),
    ).toBe('v|w|z|');
    expect(render("{{default a.b 'w'}}", { a: { b: 0 } })).toBe('0');
    expect(render('{{#if (default flag false)}}on{{else}}off{{/if}}')).toBe('off');
  });

  test('default can fall back to another variable', () => {
    expect(render('{{default custom_port port}}', { port: 2379 })).toBe('2379');
  });

  test('defined says whether a value exists', () => {
    expect(render('{{defined x}} {{defined y.z}} {{defined a}}', { x: 0, a: false })).toBe('true false true');
  });
});

describe('helpers', () => {
  const cases: Array<[string, Record<string, unknown>, string]> = [
    ['{{eq a "x"}} {{eq a "y"}} {{eq l m}}', { a: 'x', l: [1, 2], m: [1, 2] }, 'true false true'],
    ['{{ne a "x"}} {{ne a "y"}}', { a: 'x' }, 'false true'],
    [
      '{{lt 1 2}} {{lt 2 2}} {{gt 3 2}} {{gt 2 2}} {{le 2 2}} {{le 3 2}} {{ge 2 2}} {{ge 1 2}}',
      {},
      'true false true false true false true false',
    ],
    ['{{lt "a" "b"}}', {}, 'true'],
    ['{{and true 1 "x"}} {{and true 0}} {{and true list}}', { list: [] }, 'true false false'],
    ['{{or false 0 ""}} {{or false "x"}}', {}, 'false true'],
    ['{{not true}} {{not ""}} {{not list}}', { list: [] }, 'false true true'],
    ['{{#if (and (eq role "master") (not skip))}}M{{else}}N{{/if}}', { role: 'master', skip: false }, 'M'],
    ['{{join l ","}}|{{join l}}', { l: ['a', 'b', 3] }, 'a,b,3|ab3'],
    ['{{json m}}|{{json m 2}}', { m: { a: [1] } }, '{"a":[1]}|{\n  "a": [\n    1\n  ]\n}'],
    ['{{yaml m}}', { m: { a: [1, 'x'], b: { c: true } } }, 'a:\n  - 1\n  - x\nb:\n  c: true'],
    ['x:\n{{indent 2 (yaml m)}}\n', { m: { a: 1, b: [2] } }, 'x:\n  a: 1\n  b:\n    - 2\n'],
    ['[{{indent 4 "a\n\nb"}}]', {}, '[    a\n\n    b]'],
    ['{{base64 "hello: é"}} {{b64encode "a"}} {{b64decode "aGVsbG86IMOp"}}', {}, 'aGVsbG86IMOp YQ== hello: é'],
    ['{{upper "abC"}} {{lower "AbC"}}', {}, 'ABC abc'],
    ['{{replace "a-b-c" "-" "_"}} {{replace "x.y" "." ""}}', {}, 'a_b_c xy'],
    ['{{join (split "a,b,c" ",") "|"}} {{length (split "a,b" ",")}}', {}, 'a|b|c 2'],
    ['{{first l}} {{last l}} {{first "xyz"}} {{last "xyz"}}', { l: [1, 2, 3] }, '1 3 x z'],
    [
      '{{contains l "b"}} {{contains l "z"}} {{contains "hello" "ell"}} {{includes m "k"}} {{includes m "q"}}',
      { l: ['a', 'b'], m: { k: 1 } },
      'true false true true false',
    ],
    ['{{join (range 3) ","}} {{join (range 2 5) ","}} {{join (range 10 0 -3) ","}}', {}, '0,1,2 2,3,4 10,7,4,1'],
    ['{{length l}} {{length "abcd"}} {{length m}}', { l: [1, 2], m: { a: 1 } }, '2 4 1'],
    [
      '{{cidrhost "10.68.0.0/16" 2}} {{cidrhost "10.68.0.0/16" -1}} {{cidrhost "10.1.2.240/28" 1}} ' +
        '{{cidrhost net "3"}}',
      { net: '192.168.1.0/24' },
      '10.68.0.2 10.68.255.255 10.1.2.241 192.168.1.3',
    ],
    [
      '{{cidrhost "fd00::/64" 10}} {{cidrhost "2001:db8::/32" -1}} {{cidrhost "::ffff:10.0.0.0/120" 5}}',
      {},
      'fd00::a 2001:db8:ffff:ffff:ffff:ffff:ffff:ffff ::ffff:a00:5',
    ],
    [
      '{{cidrnetmask "10.68.0.0/16"}} {{cidrnetmask "10.0.0.0/8"}} {{cidrnetmask "1.2.3.4/32"}} ' +
        '{{cidrnetmask "0.0.0.0/0"}}',
      {},
      '255.255.0.0 255.0.0.0 255.255.255.255 0.0.0.0',
    ],
    ['{{cidrprefix "10.68.0.0/16"}} {{cidrprefix "fd00::/48"}}', {}, '16 48'],
    [
      'https://{{ipwrap a}}:2379 {{ipwrap "10.0.0.1"}}:6443 {{ipwrap "h1.example"}}:6443 {{ipwrap "::ffff:10.0.0.1"}}',
      { a: 'fd00::11' },
      'https://[fd00::11]:2379 10.0.0.1:6443 h1.example:6443 [::ffff:10.0.0.1]',
    ],
    [
      '{{version v "<" "1.24"}} {{version v ">=" "1.20"}} {{version "1.31.13" ">" "1.31.2"}} {{version "1.24" "==" ' +
        '"1.24.0"}} {{version "1.9" "<" "1.10"}} {{version 1.2 "!=" "1.2"}}',
      { v: 'v1.20.2' },
      'true true true true true false',
    ],
  ];
  test.each(cases)('%s', (text, vars, expected) => {
    expect(render(text, vars)).toBe(expected);
  });

  test('helpers reject wrong input with a message naming the helper', () => {
    expect(inputErrorOf(() => render('{{lt 1 "2"}}')).problem).toBe(
      'lt compares two numbers or two strings, got number 1 and string "2"',
    );
    expect(inputErrorOf(() => render('{{join s ","}}', { s: 'abc' })).problem).toBe(
      'join expects a list, got string "abc"',
    );
    expect(inputErrorOf(() => render('{{cidrhost "10.0.0.0" 1}}')).problem).toBe(
      'cidrhost: \'10.0.0.0\' is not a CIDR: expected address/prefix such as "10.0.0.0/16"',
    );
    expect(inputErrorOf(() => render('{{cidrhost "10.0.0.300/8" 1}}')).problem).toBe(
      "cidrhost: '10.0.0.300' in '10.0.0.300/8' is not an IPv4 or IPv6 address",
    );
    expect(inputErrorOf(() => render('{{cidrhost "10.0.0.0/33" 1}}')).problem).toBe(
      "cidrhost: prefix /33 in '10.0.0.0/33' is longer than 32 bits",
    );
    expect(inputErrorOf(() => render('{{cidrnetmask "fd00::/64"}}')).problem).toBe(
      'cidrnetmask only applies to IPv4, not fd00::/64',
    );
    expect(inputErrorOf(() => render('{{range 1 5 0}}')).problem).toBe('range step must not be 0');
    expect(inputErrorOf(() => render('{{version "1.20" "~" "1.2"}}')).problem).toBe(
      "version: operator '~' is not one of < <= > >= == !=",
    );
    expect(inputErrorOf(() => render('{{version "latest" "<" "1.2"}}')).problem).toBe(
      "version: 'latest' is not a version such as 1.20.2",
    );
    expect(inputErrorOf(() => render('{{indent "x" "a"}}')).problem).toBe(
      'indent expects a whole number, got string "x"',
    );
  });
});

describe('single-expression values keep their type', () => {
  const value = (text: string, vars: Record<string, unknown>) => renderTemplateValue(text, vars, file);

  test('a list, a map, a number, a boolean, null and a helper result', () => {
    expect(value('{{ groups.etcd }}', { groups: { etcd: ['a', 'b'] } })).toEqual(['a', 'b']);
    expect(value('{{m}}', { m: { a: 1 } })).toEqual({ a: 1 });
    expect(value('{{ port }}', { port: 2379 })).toBe(2379);
    expect(value('{{ on }}', { on: false })).toBe(false);
    expect(value('{{ n }}', { n: null })).toBe(null);
    expect(value('{{ split "a,b" "," }}', {})).toEqual(['a', 'b']);
    expect(value('{{ default missing 8 }}', {})).toBe(8);
    expect(value('{{ cidrhost net 1 }}', { net: '10.0.0.0/8' })).toBe('10.0.0.1');
  });

  test('anything more than one expression renders to a string', () => {
    expect(value('{{ port }}/tcp', { port: 2379 })).toBe('2379/tcp');
    expect(value(' {{ port }}', { port: 2379 })).toBe(' 2379');
    expect(value('{{a}}{{b}}', { a: 1, b: 2 })).toBe('12');
  });

  test('an undefined single expression is still an error', () => {
    expect(inputErrorOf(() => value('{{ nope }}', {})).problem).toBe("undefined variable 'nope'");
  });
});
