import { execFileSync } from 'node:child_process';
import { quote, raw, sh } from '../../src/engine/shell.js';

/** What sh really makes of the text: its arguments, NUL-separated by printf. */
function wordsOf(shellText: string): string[] {
  const out = execFileSync('sh', ['-c', `printf '%s\\0' ${shellText}`], { encoding: 'utf8' });
  return out.split('\0').slice(0, -1);
}

describe('quote', () => {
  it('single-quotes every value, even plain words', () => {
    expect(quote('abc')).toBe("'abc'");
    expect(quote('')).toBe("''");
    expect(quote(644)).toBe("'644'");
  });

  it('escapes single quotes so sh reads the value back unchanged', () => {
    const nasty = [
      `it's`,
      `$(rm -rf /)`,
      '`id`',
      'a b\tc\nd',
      '"double"',
      '\\back',
      '*',
      '-n',
      "''",
      '$HOME ${x} !x ~',
    ];
    for (const value of nasty) expect(wordsOf(quote(value))).toEqual([value]);
  });

  it('refuses values that cannot be shell words', () => {
    expect(() => quote(undefined as unknown as string)).toThrow(/got undefined/);
    expect(() => quote(null as unknown as string)).toThrow(/got null/);
    expect(() => quote({} as unknown as string)).toThrow(/got object/);
    expect(() => quote('a\0b')).toThrow(/NUL/);
  });
});

describe('sh', () => {
  it('quotes interpolations and keeps the literal text', () => {
    expect(sh`chmod ${'0644'} ${'/etc/my file'}`).toBe(`chmod '0644' '/etc/my file'`);
  });

  it('expands arrays to one quoted word each', () => {
    expect(sh`rm -f ${['a', "b'c"]}`).toBe(`rm -f 'a' 'b'\\''c'`);
    expect(wordsOf(sh`${['x y', 'z']}`)).toEqual(['x y', 'z']);
  });

  it('inserts raw fragments as they are, for composing trusted shell', () => {
    const inner = sh`cat ${'/x y'}`;
    expect(sh`${raw(inner)} && echo ok`).toBe(`cat '/x y' && echo ok`);
  });

  it('nests: a command built by sh is one word for sh -c', () => {
    const inner = sh`printf '%s\\n' ${"it's"}`;
    const out = execFileSync('sh', ['-c', sh`sh -c ${inner}`], { encoding: 'utf8' });
    expect(out).toBe("it's\n");
  });
});
