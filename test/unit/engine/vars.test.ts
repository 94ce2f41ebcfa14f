import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InputError } from '../../../src/engine/errors.js';
import {
  parseExtraVars,
  typedValue,
  VAR_LEVELS,
  VarScope,
  type VarLayer,
  type VarLevel,
} from '../../../src/engine/vars.js';
import { inputErrorOf } from '../../support/errors.js';

describe('precedence', () => {
  test('the levels, lowest first, are the documented order', () => {
    expect(VAR_LEVELS).toEqual(['role_defaults', 'inventory', 'facts', 'play', 'role', 'task', 'registered', 'extra']);
  });

  test('each level overrides every level below it', () => {
    // Layers are given highest first to show the order is the level's, not the argument order.
    const layers: VarLayer[] = [...VAR_LEVELS]
      .reverse()
      .map((level) => ({ level, vars: { x: level, [`only_${level}`]: level } }));
    for (let top = 0; top < VAR_LEVELS.length; top++) {
      const scope = new VarScope(layers.filter((layer) => VAR_LEVELS.indexOf(layer.level) <= top));
      expect(scope.get('x')).toBe(VAR_LEVELS[top]);
    }
    const all = new VarScope(layers);
    for (const level of VAR_LEVELS) expect(all.get(`only_${level}`)).toBe(level);
  });

  test('within one level the later layer wins; with() places a layer by its level', () => {
    const scope = new VarScope([
      { level: 'role', vars: { x: 'role vars' } },
      { level: 'role', vars: { x: 'role params' } },
    ]);
    expect(scope.get('x')).toBe('role params');
    const withTask = scope.with({ level: 'task', vars: { x: 'task', loop_item: 1 } });
    expect(withTask.get('x')).toBe('task');
    const withFact = withTask.with({ level: 'registered', vars: { x: 'set_fact' } });
    expect(withFact.get('x')).toBe('set_fact');
    expect(withFact.with({ level: 'play', vars: { x: 'play' } }).get('x')).toBe('set_fact');
    expect(withFact.with({ level: 'extra', vars: { x: 'extra' } }).get('x')).toBe('extra');
    // with() leaves the original alone
    expect(scope.get('x')).toBe('role params');
  });

  test('a higher layer replaces a map whole (no deep merge)', () => {
    const scope = new VarScope([
      { level: 'role_defaults', vars: { etcd: { port: 2379, dir: '/var/lib/etcd' } } },
      { level: 'inventory', vars: { etcd: { port: 12379 } } },
    ]);
    expect(scope.get('etcd')).toEqual({ port: 12379 });
  });

  test('has, get of an unknown name and names', () => {
    const scope = new VarScope([
      { level: 'play', vars: { a: 1, n: null } },
      { level: 'task', vars: { a: 2, b: 3 } },
    ]);
    expect(scope.has('a')).toBe(true);
    expect(scope.has('n')).toBe(true);
    expect(scope.has('zz')).toBe(false);
    expect(scope.get('zz')).toBeUndefined();
    expect(scope.get('n')).toBeNull();
    expect(scope.names().sort()).toEqual(['a', 'b', 'n']);
    expect(scope.resolveAll()).toEqual({ a: 2, b: 3, n: null });
  });
});

describe('lazy resolution', () => {
  test('templates in values resolve against the whole scope, through lists and maps', () => {
    const scope = new VarScope([
      {
        level: 'role_defaults',
        vars: {
          data_dir: '{{ base_dir }}/etcd',
          urls: ['https://{{ ip }}:{{ port }}'],
          cfg: { dirs: { data: '{{ data_dir }}' } },
          port: 2379,
        },
      },
      { level: 'inventory', vars: { base_dir: '/var/lib', ip: '10.0.0.1' } },
      { level: 'extra', vars: { port: 12379 } },
    ]);
    expect(scope.get('data_dir')).toBe('/var/lib/etcd');
    expect(scope.get('urls')).toEqual(['https://10.0.0.1:12379']);
    expect(scope.get('cfg')).toEqual({ dirs: { data: '/var/lib/etcd' } });
  });

  test("a lower layer's template sees a higher layer's value (resolution is late)", () => {
    const base = new VarScope([{ level: 'role_defaults', vars: { url: 'http://{{ host }}', host: 'default' } }]);
    expect(base.get('url')).toBe('http://default');
    expect(base.with({ level: 'task', vars: { host: 'task-host' } }).get('url')).toBe('http://task-host');
  });

  test('a value that is exactly one expression keeps its type', () => {
    const scope = new VarScope([
      {
        level: 'play',
        vars: {
          nodes: ['a', 'b'],
          all_nodes: '{{ nodes }}',
          port: 2379,
          port_copy: '{{ port }}',
          port_text: '{{ port }}/tcp',
          m: { k: 1 },
          m_copy: '{{m}}',
          flag: true,
          flag_copy: '{{ flag }}',
        },
      },
    ]);
    expect(scope.get('all_nodes')).toEqual(['a', 'b']);
    expect(scope.get('port_copy')).toBe(2379);
    expect(scope.get('port_text')).toBe('2379/tcp');
    expect(scope.get('m_copy')).toEqual({ k: 1 });
    expect(scope.get('flag_copy')).toBe(true);
  });

  test('values are resolved once per scope and only when read', () => {
    const scope = new VarScope([{ level: 'play', vars: { broken: '{{ nope }}', fine: 'x', list: ['a'] } }]);
    expect(scope.get('fine')).toBe('x');
    expect(scope.get('list')).toBe(scope.get('list'));
    expect(() => scope.get('broken')).toThrow(InputError);
  });

  test('a cycle is an input error listing it', () => {
    const scope = new VarScope([
      {
        level: 'play',
        vars: { a: '{{ b }}/x', b: '{{ c }}', c: 'pre-{{ a }}', self: '{{ self }}:more' },
        source: 'play.yml',
      },
    ]);
    const err = inputErrorOf(() => scope.get('a'));
    expect(err.message).toBe(
      'play.yml: variable cycle: a -> b -> c -> a\n  fix: give one of these variables a value that does not refer ' +
        'back to the others',
    );
    expect(inputErrorOf(() => scope.get('b')).problem).toBe('variable cycle: b -> c -> a -> b');
    expect(inputErrorOf(() => scope.get('self')).problem).toBe('variable cycle: self -> self');
  });

  test('an undefined variable inside a value names the value and its file', () => {
    const scope = new VarScope([
      { level: 'role_defaults', vars: { dir: '{{ base }}/etcd' }, source: 'roles/etcd/defaults/main.yml' },
    ]);
    const err = inputErrorOf(() => scope.get('dir'));
    expect(err.message).toBe(
      "roles/etcd/defaults/main.yml: undefined variable 'base' in the value of 'dir'\n" +
        "  fix: define it in vars, group_vars or defaults, or use (default base 'value')",
    );
  });

  test('a layer without a source is named by its level', () => {
    const scope = new VarScope([{ level: 'task', vars: { x: '{{ y }}' } }]);
    expect(inputErrorOf(() => scope.get('x')).place).toEqual({ file: 'task vars', line: undefined });
  });

  test('render and resolveValue use the scope', () => {
    const scope = new VarScope([
      { level: 'play', vars: { bin_dir: '{{ base }}/bin', base: '/opt/kube', nodes: ['n1', 'n2'] } },
    ]);
    expect(scope.render('ExecStart={{ bin_dir }}/etcd {{join nodes ","}}', { file: 'etcd.service.hbs' })).toBe(
      'ExecStart=/opt/kube/bin/etcd n1,n2',
    );
    expect(scope.render('no templates here', { file: 'x' })).toBe('no templates here');
    expect(
      scope.resolveValue(
        { dest: '{{ bin_dir }}/etcd', mode: '0755', list: '{{ nodes }}', n: 3 },
        { file: 'tasks.yml', line: 4 },
      ),
    ).toEqual({
      dest: '/opt/kube/bin/etcd',
      mode: '0755',
      list: ['n1', 'n2'],
      n: 3,
    });
    const err = inputErrorOf(() => scope.resolveValue({ a: ['x', '{{ missing }}'] }, { file: 'tasks.yml', line: 4 }));
    expect(err.place).toEqual({ file: 'tasks.yml', line: 4 });
  });

  test('template-free data is returned as is, not copied', () => {
    const list = [{ a: 1 }, 'b'];
    const scope = new VarScope([{ level: 'play', vars: { list } }]);
    expect(scope.get('list')).toBe(list);
  });
});

describe('extra vars', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'furrow-extra-vars-'));
    writeFileSync(join(dir, 'vars.yml'), 'version: "1.29"\nnodes:\n  - a\n  - b\n');
    writeFileSync(join(dir, 'vars.json'), '{"port": 2379, "nested": {"x": true}}');
    writeFileSync(join(dir, 'list.yml'), '- a\n');
    writeFileSync(join(dir, 'broken.yml'), 'a: 1\nb: [\n');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('k=v pairs, several per argument, with quotes', () => {
    expect(parseExtraVars(['a=1 b=text', 'msg="hello world" c=\'x y\'', 'empty='], dir)).toEqual({
      a: 1,
      b: 'text',
      msg: 'hello world',
      c: 'x y',
      empty: '',
    });
  });

  test('values are YAML-typed when they read back as written', () => {
    expect(typedValue('3')).toBe(3);
    expect(typedValue('-7')).toBe(-7);
    expect(typedValue('2.5')).toBe(2.5);
    expect(typedValue('true')).toBe(true);
    expect(typedValue('false')).toBe(false);
    expect(typedValue('null')).toBe(null);
    expect(typedValue('[a, 1]')).toEqual(['a', 1]);
    expect(typedValue('{a: 1}')).toEqual({ a: 1 });
    expect(typedValue('1.20')).toBe('1.20');
    expect(typedValue('007')).toBe('007');
    expect(typedValue('yes')).toBe('yes');
    expect(typedValue('True')).toBe('True');
    expect(typedValue('10.0.0.1')).toBe('10.0.0.1');
    expect(typedValue('a: b')).toBe('a: b');
    expect(typedValue('[unclosed')).toBe('[unclosed');
  });

  test('@file loads YAML or JSON relative to cwd; JSON objects inline; later arguments win', () => {
    expect(
      parseExtraVars(['@vars.yml', `@${join(dir, 'vars.json')}`, '{"port": 1, "inline": [1]}', 'port=9'], dir),
    ).toEqual({
      version: '1.29',
      nodes: ['a', 'b'],
      port: 9,
      nested: { x: true },
      inline: [1],
    });
  });

  test('bad input is an input error saying what to write', () => {
    expect(inputErrorOf(() => parseExtraVars(['novalue'], dir)).message).toBe(
      "-e 'novalue': 'novalue' is not key=value with a variable name as key\n  fix: write -e name=value, -e " +
        '@vars.yml or -e \'{"name": "value"}\'',
    );
    expect(inputErrorOf(() => parseExtraVars(['1x=2'], dir)).problem).toBe(
      "-e '1x=2': '1x=2' is not key=value with a variable name as key",
    );
    expect(inputErrorOf(() => parseExtraVars(['a="open'], dir)).problem).toBe('-e \'a="open\': no closing "');
    expect(inputErrorOf(() => parseExtraVars(['@missing.yml'], dir)).place).toEqual({ file: join(dir, 'missing.yml') });
    expect(inputErrorOf(() => parseExtraVars(['@list.yml'], dir)).problem).toBe(
      'extra vars must be a mapping of names to values, got a list',
    );
    const broken = inputErrorOf(() => parseExtraVars(['@broken.yml'], dir));
    expect(broken.place?.file).toBe(join(dir, 'broken.yml'));
    expect(broken.place?.line).toBe(3);
    expect(broken.problem).toMatch(/^extra vars are not valid YAML or JSON: /);
  });
});

test('VarLevel covers every level', () => {
  const level: VarLevel = 'registered';
  expect(VAR_LEVELS).toContain(level);
});
