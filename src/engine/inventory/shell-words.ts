/**
 * Splits an INI host line into words like Python's `shlex.split(line, comments=True)`, which is
 * what Ansible uses: quotes group and are removed, a backslash escapes, `#` starts a comment.
 * Throws an Error whose message says what is wrong (the caller adds the place).
 */
export function splitShellWords(line: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let i = 0;
  while (i < line.length) {
    const c = line[i];
    if (/\s/.test(c)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
      i++;
      continue;
    }
    if (c === '#') break;
    inWord = true;
    if (c === "'") {
      const end = line.indexOf("'", i + 1);
      if (end < 0) throw new Error('no closing quotation');
      word += line.slice(i + 1, end);
      i = end + 1;
    } else if (c === '"') {
      [word, i] = readDoubleQuoted(line, i + 1, word);
    } else if (c === '\\') {
      if (i + 1 >= line.length) throw new Error('nothing after the final backslash');
      word += line[i + 1];
      i += 2;
    } else {
      word += c;
      i++;
    }
  }
  if (inWord) words.push(word);
  return words;
}

/** Inside double quotes a backslash escapes only \ and " (shlex's rule; $ and ` are plain). */
function readDoubleQuoted(line: string, start: number, word: string): [string, number] {
  let i = start;
  while (i < line.length && line[i] !== '"') {
    if (line[i] === '\\' && i + 1 < line.length && '\\"'.includes(line[i + 1])) {
      word += line[i + 1];
      i += 2;
    } else {
      word += line[i];
      i++;
    }
  }
  if (i >= line.length) throw new Error('no closing quotation');
  return [word, i + 1];
}
