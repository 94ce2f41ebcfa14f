import { evaluateCondition, toCel } from '../../../src/engine/expr.js';
import { maskStrings, parsePath, translateCondition } from '../../../src/engine/template/ansible-condition.js';
import { VarScope } from '../../../src/engine/vars.js';
import { inputErrorOf } from '../../support/errors.js';

const place = { file: 'roles/etcd/tasks/main.yml', line: 12, column: 11 };

const scope = new VarScope([
  {
    level: 'inventory',
    vars: {
      inventory_hostname: 'node1',
      groups: { etcd: ['node1', 'node2'], kube_node: ['node3'], 'kube-master': ['node1'] },
      hostvars: { node1: { ip: '10.0.0.1' } },
      os: 'debian',
      count: 3,
      ratio: 0.5,
      nothing: null,
      flags: { enabled: true },
      list: [1, 2],
    },
  },
  { level: 'play', vars: { base: '/opt', bin_dir: '{{ base }}/bin', etcd_nodes: '{{ groups.etcd }}' } },
  {
    level: 'registered',
    vars: {
      result: { rc: 1, stdout: 'active (running)', stderr: '', changed: true, failed: false },
      skipped_result: { skipped: true, changed: false },
      failed_result: { rc: 2, failed: true },
    },
  },
]);

const holds = (condition: string | boolean | Array<string | boolean>) => evaluateCondition(condition, scope, place);

describe('conditions', () => {
  test.each([
    ['os == "debian"', true],
    ["os == 'ubuntu'", false],
    ['os != "debian"', false],
    ['inventory_hostname in groups["etcd"]', true],
    ["inventory_hostname in groups['kube_node']", false],
    ["groups['kube-master'][0] == inventory_hostname", true],
    ['size(groups.etcd) == 2', true],
    ["hostvars[inventory_hostname].ip == '10.0.0.1'", true],
    ['result.rc != 0', true],
    ['result.rc == 1 && result.stderr == ""', true],
    ['count > 2 && count + 1 == 4', true],
    ['ratio < 1 && ratio == 0.5', true],
    ['nothing == null', true],
    ['flags.enabled', true],
    ['"running" in result.stdout', true],
    ['"stopped" in result.stdout', false],
    ['result.stdout.contains("active")', true],
    ['result.stdout.startsWith("active") && result.stdout.matches("run+ing")', true],
    ['2 in list', true],
    ['"etcd" in groups', true],
    ['bin_dir == "/opt/bin"', true],
    ['etcd_nodes == ["node1", "node2"]', true],
    ['has(result.rc) && !has(result.missing)', true],
    ['result.?missing.orValue("x") == "x"', true],
  ])('%s is %s', (condition, expected) => {
    expect(holds(condition)).toBe(expected);
  });

  test('booleans pass through; a list is an AND that stops at the first false', () => {
    expect(holds(true)).toBe(true);
    expect(holds(false)).toBe(false);
    expect(holds(['os == "debian"', 'count == 3'])).toBe(true);
    expect(holds(['os == "debian"', 'count == 4'])).toBe(false);
    expect(holds(['undefined_thing is defined', 'undefined_thing == 1'])).toBe(false);
    expect(holds([])).toBe(true);
  });

  test('a plain record works as the variables', () => {
    expect(evaluateCondition('x == 1 && y.z == "a"', { x: 1, y: { z: 'a' } }, place)).toBe(true);
    expect(evaluateCondition('x is defined', {}, place)).toBe(false);
  });

  test('a variable named like a CEL type is still read as the variable', () => {
    expect(
      evaluateCondition(
        'size(list) == 2 && map.k == 1 && "list" in names',
        { list: [1, 2], map: { k: 1 }, names: ['list'] },
        place,
      ),
    ).toBe(true);
  });
});

describe('Ansible forms', () => {
  test.each([
    ['count is defined', true],
    ['missing is defined', false],
    ['missing is not defined', true],
    ['missing is undefined', true],
    ['count is undefined', false],
    ['nothing is defined', true],
    ['result.rc is defined', true],
    ['result.nope is defined', false],
    ["groups['etcd'] is defined", true],
    ["groups['etcd'][1] is defined", true],
    ["groups['etcd'][5] is defined", false],
    ['missing is defined and missing == 1', false],
    ['missing is not defined or missing == 1', true],
    ['nothing is none', true],
    ['count is not none', true],
    ['result is changed', true],
    ['result is not changed', false],
    ['result is failed', false],
    ['failed_result is failed', true],
    ['result is succeeded', true],
    ['failed_result is success', false],
    ['skipped_result is skipped', true],
    ['result is skipped', false],
    ["inventory_hostname not in groups['kube_node']", true],
    ["'node9' not in groups.etcd", true],
    ["not inventory_hostname in groups['kube_node']", true],
    ["not os == 'debian'", false],
    ['os == "debian" and count == 3', true],
    ['os == "x" or count == 3', true],
    ['not (os == "x") and not flags.enabled', false],
    ['flags.enabled == True and nothing == None', true],
    ['os != "and or not" and os != "is defined" and os == "debian"', true],
  ])('%s is %s', (condition, expected) => {
    expect(holds(condition)).toBe(expected);
  });

  test('the rewrite leaves string literals alone and reads the forms as CEL', () => {
    const defined = (path: Array<string | number>) => path[0] === 'x';
    expect(translateCondition('x is defined and y is not defined', defined)).toBe('true && true');
    expect(translateCondition("a not in b['c'] or not d == 'not in'", defined)).toBe(
      "!(a in b['c']) || !(d == 'not in')",
    );
    expect(translateCondition('r is changed', defined)).toBe('(has(r.changed) && r.changed == true)');
    expect(translateCondition('r is not succeeded', defined)).toBe('!(!(has(r.failed) && r.failed == true))');
    expect(translateCondition('"x is defined" == s', defined)).toBe('"x is defined" == s');
    expect(translateCondition('not a and (not b or c)', defined)).toBe('!(a) && (!(b) || c)');
  });

  test('helpers of the rewrite', () => {
    expect(maskStrings(`a == "x y" && b == 'it\\'s' || r"\\" == c`)).toBe(
      `a == "\0\0\0" && b == '\0\0\0\0\0' || r"\0" == c`,
    );
    expect(parsePath("groups['kube-master'][0].name")).toEqual(['groups', 'kube-master', 0, 'name']);
    expect(toCel({ a: 1, b: 1.5, c: [2, 'x', null], d: { e: 3 } })).toEqual({
      a: 1n,
      b: 1.5,
      c: [2n, 'x', null],
      d: { e: 3n },
    });
  });
});

describe('errors name the place, the expression and the problem', () => {
  test('an undefined variable', () => {
    expect(inputErrorOf(() => holds('missing == 1')).message).toBe(
      "roles/etcd/tasks/main.yml:12:11: condition 'missing == 1' uses undefined variable 'missing'\n" +
        '  fix: define it in vars, group_vars or defaults, or guard it: missing is defined and ...',
    );
  });

  test('a missing key', () => {
    expect(inputErrorOf(() => holds('result.nope == 1')).problem).toBe("condition 'result.nope == 1': no key 'nope'");
  });

  test('a syntax error shows the place in the expression', () => {
    const err = inputErrorOf(() => holds('count == '));
    expect(err.place).toEqual(place);
    expect(err.problem).toMatch(
      /^condition 'count ==': syntax error: Unexpected token: EOF\n> {4}1 \| count ==\n\s+\^$/,
    );
  });

  test('a rewritten expression says how it was read', () => {
    expect(inputErrorOf(() => holds('count is defined and missing == 1')).problem).toBe(
      "condition 'count is defined and missing == 1' uses undefined variable 'missing' (read as CEL: true " +
        '&& missing == 1)',
    );
  });

  test('a result that is not a boolean', () => {
    expect(inputErrorOf(() => holds('os')).message).toBe(
      'roles/etcd/tasks/main.yml:12:11: condition \'os\' gave the string "debian", not true or false\n' +
        '  fix: compare the value: x == "a", size(x) > 0, has(x.y)',
    );
    expect(inputErrorOf(() => holds('count')).problem).toBe("condition 'count' gave the number 3, not true or false");
    expect(inputErrorOf(() => holds('list')).problem).toBe("condition 'list' gave a list, not true or false");
  });

  test('template syntax is rejected', () => {
    expect(inputErrorOf(() => holds('{{ os }} == "debian"')).message).toBe(
      'roles/etcd/tasks/main.yml:12:11: condition \'{{ os }} == "debian"\' holds template syntax {{ }}\n' +
        '  fix: conditions are expressions already: write x == "a", not {{ x }} == "a"',
    );
  });

  test('Jinja filters and other tests say what to write instead', () => {
    const filter = inputErrorOf(() => holds('result.stdout | length > 0'));
    expect(filter.problem).toBe(
      "condition 'result.stdout | length > 0': Jinja filters (|) are not supported in conditions",
    );
    expect(filter.fix).toMatch(/size\(x\) for length/);
    expect(inputErrorOf(() => holds('os is string')).problem).toBe(
      "condition 'os is string': the Jinja test 'is string' is not supported here",
    );
    expect(inputErrorOf(() => holds('size(list) not in [1]')).problem).toBe(
      "condition 'size(list) not in [1]': 'not in' is supported between variables and literals only",
    );
  });

  test('an empty condition, or one of the wrong type', () => {
    expect(inputErrorOf(() => holds('  ')).problem).toBe('the condition is empty');
    expect(inputErrorOf(() => evaluateCondition(3 as unknown as string, scope, place)).problem).toBe(
      'a condition must be an expression string or true/false, got 3',
    );
  });

  test('an undefined variable inside a variable the condition reads is reported from there', () => {
    const broken = scope.with({ level: 'task', vars: { url: 'http://{{ host }}' }, source: 'play.yml' });
    expect(inputErrorOf(() => evaluateCondition('url == "x"', broken, place)).message).toMatch(
      /^play\.yml: undefined variable 'host' in the value of 'url'\n/,
    );
  });
});
