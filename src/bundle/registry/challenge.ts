/**
 * WWW-Authenticate challenges (RFC 7235): a scheme and its auth-params, several challenges in one
 * header separated by commas. Registries answer `Bearer realm="…",service="…",scope="…"` (token
 * auth, where the scope itself holds commas: "repository:x:pull,push") or `Basic realm="…"`.
 */
export interface Challenge {
  /** Lowercase: 'bearer', 'basic', ... */
  scheme: string;
  /** Parameter names lowercased, values unquoted. */
  params: Record<string, string>;
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+/;

export function parseChallenges(header: string | null | undefined): Challenge[] {
  const out: Challenge[] = [];
  if (!header) return out;
  let s = header;
  const skip = (re: RegExp) => {
    s = s.replace(re, '');
  };
  let current: Challenge | undefined;
  while (s.length) {
    skip(/^[\s,]+/);
    const word = TOKEN.exec(s)?.[0];
    if (!word) {
      if (s.length) s = s.slice(1); // junk: skip a character rather than fail
      continue;
    }
    const after = s.slice(word.length);
    const param = /^\s*=\s*/.exec(after);
    if (current && param) {
      s = after.slice(param[0].length);
      let value: string;
      if (s.startsWith('"')) {
        let i = 1;
        value = '';
        while (i < s.length && s[i] !== '"') {
          if (s[i] === '\\' && i + 1 < s.length) i++;
          value += s[i];
          i++;
        }
        s = s.slice(i + 1);
      } else {
        // Unquoted: a token by the RFC, but some servers send URLs unquoted; take all up to a comma.
        value = /^[^,\s]*/.exec(s)![0];
        s = s.slice(value.length);
      }
      current.params[word.toLowerCase()] = value;
      continue;
    }
    current = { scheme: word.toLowerCase(), params: {} };
    out.push(current);
    s = after;
  }
  return out;
}
