import { YamlSource } from '../../../src/engine/playbook/yaml-source.js';

function parse(text: string): unknown {
  const { source, errors } = YamlSource.parse('t.yml', text);
  expect(errors).toEqual([]);
  return source!.data;
}

describe('YAML as Ansible reads it', () => {
  test('YAML 1.1 booleans and octal like PyYAML, but y/n stay strings and 22:22 is not base 60', () => {
    expect(parse('a: yes\nb: No\nc: on\nd: OFF\ne: 0644\nf: y\nn: n\ng: 22:22\nh: 2024-01-02\ni: "yes"\n')).toEqual({
      a: true,
      b: false,
      c: true,
      d: false,
      e: 0o644,
      f: 'y',
      n: 'n',
      g: '22:22',
      h: '2024-01-02',
      i: 'yes',
    });
  });

  test('merge keys and anchors', () => {
    expect(parse('base: &b {x: 1, y: 2}\nother:\n  <<: *b\n  y: 3\n')).toEqual({
      base: { x: 1, y: 2 },
      other: { x: 1, y: 3 },
    });
  });

  test('places of keys and values, and of the nearest existing parent for paths beyond the text', () => {
    const { source } = YamlSource.parse('t.yml', '- hosts: all\n  tasks:\n    - copy: {dest: /x}\n');
    expect(source!.place([0, 'tasks', 0, 'copy', 'dest'])).toEqual({ file: 't.yml', line: 3, column: 20 });
    expect(source!.place([0, 'tasks', 0, 'copy', 'dest'], 'key')).toEqual({ file: 't.yml', line: 3, column: 14 });
    expect(source!.place([0, 'tasks', 0, 'copy', 'mode'])).toEqual({ file: 't.yml', line: 3, column: 13 });
    expect(source!.place([0, 'tasks', 5])).toEqual({ file: 't.yml', line: 3, column: 5 });
  });

  test('duplicate keys and syntax errors are reported with their place', () => {
    const { errors } = YamlSource.parse('t.yml', 'a: 1\na: 2\n');
    expect(errors.map((e) => [e.place, e.problem])).toEqual([
      [{ file: 't.yml', line: 2, column: 1 }, 'broken YAML: Map keys must be unique'],
    ]);
  });

  // The parser reports an unclosed bracket or quote where it ran out of text, three times over.
  const unclosed = (text: string) =>
    YamlSource.parse('t.yml', text).errors.map((e) => [e.place?.line, e.place?.column, e.problem]);
  const PLAY =
    '- hosts: all\n  gather_facts: false\n  tasks:\n    - name: a\n      command: "true"\n    - name: b\n      file:\n';

  test("an unclosed '{' is one problem at the brace, saying what is unclosed", () => {
    expect(unclosed(`${PLAY}        path: {x: 1\n    - name: c\n      command: "true"\n`)).toEqual([
      [8, 15, "broken YAML: '{' opened here is never closed: the mapping needs a '}'"],
    ]);
  });

  test("an unclosed '[' and an unclosed quote likewise", () => {
    expect(unclosed('a: [1, 2\nb: 3\n')).toEqual([
      [1, 4, "broken YAML: '[' opened here is never closed: the list needs a ']'"],
    ]);
    expect(unclosed('a: ok\nb: "abc\nc: 3\n')).toEqual([
      [2, 4, 'broken YAML: the double quote opened here is never closed'],
    ]);
    expect(unclosed("a: 'abc\nc: 3\n")).toEqual([[1, 4, 'broken YAML: the single quote opened here is never closed']]);
  });

  test("closed brackets spread over lines are no problem, and other syntax errors keep the parser's words", () => {
    expect(unclosed('a: {x: 1,\n  y: 2}\nb: [1,\n  2]\n')).toEqual([]);
    expect(unclosed('a:\n  b: 1\n c: 2\n')).toEqual([[3, 1, expect.stringMatching(/^broken YAML: /)]]);
  });
});
