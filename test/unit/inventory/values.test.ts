import { splitHostPort, expandHostRanges, isIPv6 } from '../../../src/engine/inventory/host-address.js';
import { parseIniValue } from '../../../src/engine/inventory/python-literal.js';
import { splitShellWords } from '../../../src/engine/inventory/shell-words.js';

describe('INI values read like Python literal_eval (Ansible)', () => {
  test.each<[string, unknown]>([
    ['6443', 6443],
    ['"6443"', '6443'],
    ["'master-01'", 'master-01'],
    ["''", ''],
    ['-5', -5],
    ['1_000', 1000],
    ['0x1F', 31],
    ['0o17', 15],
    ['1.5', 1.5],
    ['.5', 0.5],
    ['1e3', 1000],
    ['True', true],
    ['False', false],
    ['None', null],
    ['[1, "a", [True]]', [1, 'a', [true]]],
    ['(1,)', [1]],
    ['(1)', 1],
    ["{'a': 1, 'b': [2]}", { a: 1, b: [2] }],
    ['{1, 2}', [1, 2]],
    ['"a" \'b\'', 'ab'],
    ['"tab\\there"', 'tab\there'],
    ["r'C:\\new'", 'C:\\new'],
    ['"6443" # port', '6443'],
    // Not Python literals: the raw text, as Ansible keeps it.
    ['yes', 'yes'],
    ['false', 'false'],
    ['0755', '0755'],
    ['10.0.0.1', '10.0.0.1'],
    ['30000-32767', '30000-32767'],
    ['/opt/kube/bin', '/opt/kube/bin'],
    ['{{ base_dir }}/clusters', '{{ base_dir }}/clusters'],
    ['"unterminated', '"unterminated'],
    ['[1, 2', '[1, 2'],
    ['1j', '1j'],
    ['12345678901234567890', '12345678901234567890'],
  ])('%s', (raw, expected) => {
    expect(parseIniValue(raw)).toEqual(expected);
  });
});

describe('host line words (shlex rules)', () => {
  test('quotes group and disappear, backslash escapes, # ends the line', () => {
    expect(splitShellWords(`h a="x y" b='p q' c=\\# d="q\\"t" e='' # f=1`)).toEqual([
      'h',
      'a=x y',
      'b=p q',
      'c=#',
      'd=q"t',
      'e=',
    ]);
    // In double quotes only \\ and \" are escapes, as in Python's shlex.
    expect(splitShellWords('h g="\\$x" k=a#b')).toEqual(['h', 'g=\\$x', 'k=a']);
  });
  test('unclosed quotes are refused', () => {
    expect(() => splitShellWords("h a='x")).toThrow('no closing quotation');
  });
});

describe('host addresses', () => {
  test.each<[string, { name: string; port?: number }]>([
    ['web1', { name: 'web1' }],
    ['web1:2222', { name: 'web1', port: 2222 }],
    ['node[01:20]:22', { name: 'node[01:20]', port: 22 }],
    ['10.0.0.[1:9]', { name: '10.0.0.[1:9]' }],
    ['fe80::1', { name: 'fe80::1' }],
    ['[fe80::1]:2222', { name: 'fe80::1', port: 2222 }],
    ['[db.lab]:5022', { name: 'db.lab', port: 5022 }],
    ['::ffff:10.0.0.1', { name: '::ffff:10.0.0.1' }],
  ])('%s', (entry, expected) => {
    expect(splitHostPort(entry)).toEqual(expected);
  });

  test('IPv6 detection does not mistake group unions for addresses', () => {
    expect([
      isIPv6('fe80::1'),
      isIPv6('1:2:3:4:5:6:7:8'),
      isIPv6('::'),
      isIPv6('a:b:c'),
      isIPv6('web:db'),
      isIPv6('1:2:3:4:5:6:7:8:9'),
    ]).toEqual([true, true, true, false, false, false]);
  });

  test('ranges expand with padding, steps and letters', () => {
    const place = { file: 'hosts', line: 1 };
    expect(expandHostRanges('db[08:10]', place)).toEqual(['db08', 'db09', 'db10']);
    expect(expandHostRanges('db[:2]', place)).toEqual(['db0', 'db1', 'db2']);
    expect(expandHostRanges('[x:Z:25]', place)).toEqual(['x', 'W']);
    expect(expandHostRanges('[y:B]', place)).toEqual(['y', 'z', 'A', 'B']);
    expect(() => expandHostRanges('db[1:]', place)).toThrow("hosts:1: bad host range in 'db[1:]': the end is missing");
    expect(() => expandHostRanges('db[1:3:0]', place)).toThrow("step '0' is not a positive whole number");
  });
});
