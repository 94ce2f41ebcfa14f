/**
 * INI inventory values, read the way Ansible reads them: Python's `ast.literal_eval`, and the raw
 * text when that fails. So `6443` is a number, `"6443"` a string, `True` a boolean, `[1, 2]` a
 * list, while `yes`, `false` and `/opt/kube/bin` stay strings, as under Ansible.
 */
export function parseIniValue(raw: string): unknown {
  try {
    const reader = new LiteralReader(raw);
    const value = reader.value();
    reader.expectEnd();
    return value;
  } catch (err) {
    if (err instanceof NotALiteral) return raw;
    throw err;
  }
}

class NotALiteral extends Error {}

const FLOAT =
  /^(?:(?:(?:\d(?:_?\d)*)?\.\d(?:_?\d)*|\d(?:_?\d)*\.)(?:[eE][+-]?\d(?:_?\d)*)?|\d(?:_?\d)*[eE][+-]?\d(?:_?\d)*)/;
const INT = /^(?:0[xX](?:_?[0-9a-fA-F])+|0[oO](?:_?[0-7])+|0[bB](?:_?[01])+|[1-9](?:_?\d)*|0(?:_?0)*)/;
const SIMPLE_ESCAPES: Record<string, string> = {
  '\n': '',
  '\\': '\\',
  "'": "'",
  '"': '"',
  a: '\x07',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
  v: '\v',
};

class LiteralReader {
  private pos = 0;
  constructor(private readonly text: string) {}

  value(): unknown {
    this.skipSpace();
    const rest = this.text.slice(this.pos);
    const c = rest[0];
    if (c === '[') return this.sequence(']');
    if (c === '(') return this.tuple();
    if (c === '{') return this.dictOrSet();
    const word = /^[A-Za-z_]\w*/.exec(rest)?.[0];
    if (word === 'True' || word === 'False' || word === 'None') {
      this.pos += word.length;
      return word === 'True' ? true : word === 'False' ? false : null;
    }
    if (/^[rRuUbB]{0,2}['"]/.test(rest)) return this.strings();
    return this.number();
  }

  expectEnd(): void {
    this.skipSpace();
    if (this.pos !== this.text.length) throw new NotALiteral();
  }

  private skipSpace(): void {
    while (this.pos < this.text.length && /\s/.test(this.text[this.pos])) this.pos++;
    if (this.text[this.pos] === '#') this.pos = this.text.length; // a Python comment ends the value
  }

  private take(char: string): boolean {
    this.skipSpace();
    if (this.text[this.pos] !== char) return false;
    this.pos++;
    return true;
  }

  private number(): number | string {
    const sign = /^[+-]/.exec(this.text.slice(this.pos))?.[0] ?? '';
    this.pos += sign.length;
    this.skipSpace();
    const rest = this.text.slice(this.pos);
    const float = FLOAT.exec(rest)?.[0];
    const int = float === undefined ? INT.exec(rest)?.[0] : undefined;
    const literal = float ?? int;
    if (literal === undefined || /^[\w.]/.test(rest.slice(literal.length))) throw new NotALiteral();
    this.pos += literal.length;
    const clean = literal.replace(/_/g, '');
    const value = float === undefined ? Number(clean.replace(/^0+(?=\d)/, '')) : Number(clean);
    // Python ints are exact; keep digits a JavaScript number would round as text.
    if (float === undefined && !Number.isSafeInteger(value)) return sign + literal;
    return sign === '-' ? -value : value;
  }

  /** One or more adjacent string literals, joined as Python joins them. */
  private strings(): string {
    let result = '';
    do {
      const prefix = /^[rRuUbB]*/.exec(this.text.slice(this.pos))![0];
      this.pos += prefix.length;
      result += this.quoted(/r/i.test(prefix));
      this.skipSpace();
    } while (/^[rRuUbB]{0,2}['"]/.test(this.text.slice(this.pos)));
    return result;
  }

  private quoted(raw: boolean): string {
    const quote = this.text[this.pos++];
    let out = '';
    while (this.pos < this.text.length) {
      const c = this.text[this.pos++];
      if (c === quote) return out;
      if (c !== '\\' || this.pos >= this.text.length) {
        out += c;
        continue;
      }
      const next = this.text[this.pos++];
      if (raw) out += c + next;
      else out += this.escape(next);
    }
    throw new NotALiteral(); // unterminated string
  }

  private escape(next: string): string {
    if (next in SIMPLE_ESCAPES) return SIMPLE_ESCAPES[next];
    const width = next === 'x' ? 2 : next === 'u' ? 4 : next === 'U' ? 8 : 0;
    if (width > 0) {
      const hex = this.text.slice(this.pos, this.pos + width);
      if (!new RegExp(`^[0-9a-fA-F]{${width}}$`).test(hex)) throw new NotALiteral();
      this.pos += width;
      return String.fromCodePoint(parseInt(hex, 16));
    }
    const octal = /^[0-7]{1,3}/.exec(next + this.text.slice(this.pos, this.pos + 2))?.[0];
    if (octal) {
      this.pos += octal.length - 1;
      return String.fromCodePoint(parseInt(octal, 8));
    }
    return `\\${next}`; // Python keeps unknown escapes as written
  }

  private sequence(close: string): unknown[] {
    this.pos++; // the opening bracket
    return this.itemsUntil(close);
  }

  /** Comma-separated values up to `close` (a trailing comma is fine, as in Python). */
  private itemsUntil(close: string): unknown[] {
    const items: unknown[] = [];
    while (!this.take(close)) {
      items.push(this.value());
      if (!this.take(',')) {
        if (!this.take(close)) throw new NotALiteral();
        break;
      }
    }
    return items;
  }

  /** `(x)` is just x; `()`, `(x,)` and `(x, y)` are tuples, given as arrays. */
  private tuple(): unknown {
    const start = this.pos;
    this.pos++;
    if (this.take(')')) return [];
    const first = this.value();
    if (this.take(')')) return first;
    this.pos = start;
    return this.sequence(')');
  }

  private dictOrSet(): unknown {
    this.pos++;
    if (this.take('}')) return {};
    const first = this.value();
    if (!this.take(':')) {
      const rest = this.take(',') ? this.itemsUntil('}') : this.take('}') ? [] : undefined;
      if (!rest) throw new NotALiteral();
      return [first, ...rest];
    }
    const dict: Record<string, unknown> = {};
    dict[this.key(first)] = this.value();
    while (this.take(',')) {
      if (this.take('}')) return dict;
      const key = this.key(this.value());
      if (!this.take(':')) throw new NotALiteral();
      dict[key] = this.value();
    }
    if (!this.take('}')) throw new NotALiteral();
    return dict;
  }

  private key(value: unknown): string {
    if (value !== null && typeof value === 'object') throw new NotALiteral(); // unhashable in Python
    return String(value);
  }
}
