import { compileRegex, expandMatch, splitLines } from '../../../src/modules/support/lines.js';
import { numericMode, parseMode, resolveMode } from '../../../src/modules/support/modes.js';
import { backupName } from '../../../src/modules/support/write-file.js';

describe('modes as Ansible users write them', () => {
  test.each([
    ['0644', 0o644],
    ['644', 0o644],
    ['0o640', 0o640],
    ['04755', 0o4755],
    ['1777', 0o1777],
    [0o644, 0o644], // from code, or `mode: 0644` read by a YAML 1.1 loader (420)
    [644, 0o644], // `mode: 0644` read by a YAML 1.2 loader, or a bare 644
    [755, 0o755],
    [600, 0o600],
    [0o4755, 0o4755], // YAML 1.1 `04755` -> 2541 keeps its value
    [4755, 0o4755], // too big as a value: the digits are octal
  ] as [string | number, number][])('%p -> %s', (input, bits) => {
    expect(parseMode(input, 'file')).toEqual({ kind: 'octal', bits });
  });

  test.each(['rw-r--r--', '0999', '', 'u=rw;g=r'])('%p is refused with the fix', (input) => {
    expect(() => parseMode(input, 'copy')).toThrow(
      `copy: mode ${JSON.stringify(input)} is not a file mode\n  fix: give an octal mode such as '0644' or a ` +
        `symbolic one such as 'u=rw,g=r,o=r'`,
    );
  });

  test.each([-1, 1.5, 99999])('number %p is refused', (n) => {
    expect(numericMode(n)).toBeUndefined();
  });

  test.each([
    ['u=rw,g=r,o=r', 0o777, false, 0o644],
    ['u+x', 0o644, false, 0o744],
    ['go-rwx', 0o755, false, 0o700],
    ['a+X', 0o644, false, 0o644],
    ['a+X', 0o744, false, 0o755],
    ['a+X', 0o600, true, 0o711],
    ['u+s,+t', 0o755, false, 0o5755],
    ['=r', 0o777, false, 0o444],
  ] as [string, number, boolean, number][])('%s on %s (dir %s) -> %s', (text, current, dir, expected) => {
    expect(resolveMode({ kind: 'symbolic', text }, current, dir)).toBe(expected);
  });

  test('a new file starts from 0644, a new directory from 0755', () => {
    expect(resolveMode({ kind: 'symbolic', text: 'g+w' }, undefined, false)).toBe(0o664);
    expect(resolveMode({ kind: 'symbolic', text: 'g+w' }, undefined, true)).toBe(0o775);
  });
});

describe('small helpers', () => {
  test('splitLines keeps line endings like readlines()', () => {
    expect(splitLines('a\nb\r\nc')).toEqual(['a\n', 'b\r\n', 'c']);
    expect(splitLines('')).toEqual([]);
  });

  test('Python named groups and match.expand', () => {
    const m = compileRegex('^(?P<k>\\w+)=(?P=k)$', 'lineinfile', 'regexp').exec('ab=ab')!;
    expect(expandMatch('\\g<k>:\\1:\\g<1>\\n\\\\\\q', m)).toBe('ab:ab:ab\n\\\\q');
  });

  test("backup names are Ansible's without the pid", () => {
    expect(backupName('/etc/x', new Date(2024, 0, 2, 3, 4, 5))).toBe('/etc/x.2024-01-02@03:04:05~');
  });
});
