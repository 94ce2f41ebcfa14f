/**
 * The file probe: what is at a list of paths on a host, in one round trip. For each path it
 * reports type, mode, owner, group and size, the sha256 of a regular file, the target of a link,
 * and, when asked, the content (always, or only when the sha256 differs from a wanted one, so a
 * diff can be shown without a second trip and an unchanged file is never transferred).
 */
import { createHash } from 'node:crypto';
import { commandFailed } from '../command-failure.js';
import { FurrowError } from '../errors.js';
import { quote, raw, sh } from '../shell.js';
import type { Connection } from '../connections/types.js';
import { recordPath, STAT_FORMAT, type WrittenRecords } from './written.js';

export interface FileQuery {
  path: string;
  /** Report what a link points to (type, mode, owner of the final target) instead of the link. */
  follow?: boolean;
  /** Send the content back: 'always', or only when the file's sha256 differs from `wantSha256`. */
  content?: 'always' | 'if-changed';
  wantSha256?: string;
  /** Upper bound for 'if-changed' content (a diff of a huge file helps nobody). */
  maxContentBytes?: number;
  /** Look below a directory for entries whose mode (links excepted), owner or group differ. */
  recurse?: { mode?: string; owner?: string; group?: string };
}

export type FileType = 'file' | 'directory' | 'link' | 'other';

export interface PresentFile {
  type: FileType;
  /** Permission bits including setuid/setgid/sticky, e.g. 0o644. */
  mode: number;
  uid: number;
  gid: number;
  /** Names as the host knows them ('UNKNOWN' when the id has no name). */
  owner: string;
  group: string;
  size: number;
  /** Regular files only; absent when the file could not be read. */
  sha256?: string;
  /** Links only: where the link points, as written. */
  target?: string;
  /** With `follow`, when the path is a link: the final path it leads to. */
  resolved?: string;
  content?: Buffer;
  /** With `recurse`: whether some entry below differs. */
  recurseDiffers?: boolean;
}

/** Three states, as pyinfra's File fact: absent, or present with its type (the caller judges a wrong type). */
export type FileInfo = { type: 'absent' } | PresentFile;

const DEFAULT_MAX_CONTENT = 256 * 1024;

const STAT_ARG = quote(STAT_FORMAT);

// The probe script. The execs are what a host pays for (about 1.2 ms of its CPU each on the lab,
// a round trip only about 0.4 ms), so they are shared across every query of the command, however
// many tasks those come from: types come from test builtins, then ONE stat reports every present
// path and ONE sha256sum hashes every regular file; only links, content and `recurse` take execs of
// their own; a file whose stat line is as Furrow recorded it when it wrote it is not hashed at all
// (written.ts). Output per query, parsed below:
//   @ <type> <mode> <uid> <gid> <size> <owner> <group> <dev> <inode> <mtime> <ctime>   or   @ absent
//   sha256 <hex>  |  target|resolved <bytes>\n<bytes>\n  |  content\n<base64 lines>\n\n  |  recurse <0|1>
// Content is base64 up to an empty line, not length-prefixed: a file another process appends to
// (or truncates) between a count and the read would desynchronise a length-prefixed block and turn
// the rest of the output into "unexpected line" errors. base64 lines are never empty, so the block
// ends where it ends, whatever the file did meanwhile; one exec (base64) instead of two (wc, cat).
const PROBE_FUNCTIONS = [
  "nl='\n'",
  // t: the type (through links with follow); k: 1 when the path itself is a link.
  'furrow_type() {',
  '  k=0; if [ -L "$1" ]; then k=1; fi',
  '  if [ $k = 1 ] && [ "$2" != follow ]; then t=link; elif [ -d "$1" ]; then t=directory; elif [ -f "$1" ' +
    ']; then t=file;',
  '  elif [ -e "$1" ]; then t=other; else t=absent; fi',
  '}',
  // Takes the first line of $S (or $H) into l: the batched stat and hash output, in query order.
  'furrow_pop_s() { l=${S%%"$nl"*}; case $S in *"$nl"*) S=${S#*"$nl"} ;; *) S= ;; esac; }',
  'furrow_pop_h() { l=${H%%"$nl"*}; case $H in *"$nl"*) H=${H#*"$nl"} ;; *) H= ;; esac; }',
  // $1 path, $2 follow or empty, $3 type, $4 link flag, $5 "content" when the content is sent
  // whole (the controller hashes that: no sha256sum for it), $6 its line of the batched stat,
  // $7 the sha256 a record vouches for (or empty): the lines for one query.
  'furrow_emit() {',
  '  t=$3; h=',
  '  if [ $t = absent ]; then echo "@ absent"; return 0; fi',
  `  if [ "$2" = follow ] && [ $4 = 1 ]; then s=$(stat -L -c ${STAT_ARG} -- "$1") || return 1; else s=$6; fi`,
  // z: the size, for deciding whether content is worth sending (furrow_content counts its own).
  '  echo "@ $t $s"; z=${s#* * * }; z=${z%% *}',
  // An unreadable file made the batched sha256sum fail: hash each on its own (no hash if unreadable).
  '  if [ $t = file ] && [ "$5" != content ]; then if [ -n "$7" ]; then h=$7; elif [ "$H" = - ]; then h=$(sha256sum ' +
    '< "$1" 2>/dev/null); else furrow_pop_h; h=${l#\\\\}; fi; h=${h%% *}; echo "sha256 $h"; fi',
  '  if [ $t = link ]; then l=$(readlink -- "$1"); echo "target $(printf %s "$l" | wc -c)"; printf "%s\\n" "$l"; fi',
  '  if [ "$2" = follow ] && [ $4 = 1 ]; then l=$(readlink -f -- "$1"); echo "resolved $(printf %s "$l" | wc -c)"; ' +
    'printf "%s\\n" "$l"; fi',
  '}',
  'furrow_content() {',
  '  echo content; base64 -- "$1" || return 1; echo',
  '}',
].join('\n');

/**
 * The whole probe for distinct queries: types, one stat, one sha256sum of the files no record
 * vouches for, then each query's lines. With `records`, a file whose stat line is the one recorded
 * takes the recorded sha256 (g<i>), read with the shell's own `read`: no process for it.
 */
function probeScript(queries: FileQuery[], records?: WrittenRecords): string {
  const lines = [PROBE_FUNCTIONS];
  lines.push(
    ...queries.map(
      (q, i) => `${sh`furrow_type ${q.path}`}${q.follow ? ' follow' : ''}; t${i}=$t k${i}=$k s${i}= g${i}=`,
    ),
  );
  // Followed links are stat'ed on their own (stat -L); everything else present in one stat.
  const inStat = (q: FileQuery, i: number) => `[ $t${i} != absent ]${q.follow ? ` && [ $k${i} = 0 ]` : ''}`;
  lines.push('set --');
  lines.push(...queries.map((q, i) => `${inStat(q, i)}${sh` && set -- "$@" ${q.path}`}`));
  lines.push(`S=; if [ $# -gt 0 ]; then S=$(stat -c ${STAT_ARG} -- "$@") || exit 1; fi`);
  lines.push(...queries.map((q, i) => `if ${inStat(q, i)}; then furrow_pop_s; s${i}=$l; fi`));
  lines.push('set --');
  for (const [i, q] of queries.entries()) {
    if (q.content === 'always') continue;
    const hash = sh`[ $t${raw(String(i))} = file ] && set -- "$@" ${q.path}`;
    if (!records) {
      lines.push(hash);
      continue;
    }
    const record = recordPath(records.dir, q.path);
    lines.push(
      `if [ $t${i} = file ] && [ $k${i} = 0 ]${sh` && [ -r ${record} ] && read -r c < ${record}`} && [ "\${c% *}" = ` +
        `"$s${i}" ]; then g${i}=\${c##* }; else ${hash}; fi`,
    );
  }
  lines.push('H=; if [ $# -gt 0 ]; then H=$(sha256sum -- "$@" 2>/dev/null) || H=-; fi');
  lines.push(...queries.map(queryLines));
  return lines.join('\n');
}

function queryLines(q: FileQuery, i: number): string {
  const lines = [
    `${sh`furrow_emit ${q.path} ${q.follow ? 'follow' : ''}`} $t${i} $k${i} ` +
      `${q.content === 'always' ? 'content' : "''"} "$s${i}" "$g${i}" || exit 1`,
  ];
  if (q.content === 'always') {
    lines.push(sh`if [ "$t" = file ]; then furrow_content ${q.path} || exit 1; fi`);
  } else if (q.content === 'if-changed') {
    const max = q.maxContentBytes ?? DEFAULT_MAX_CONTENT;
    lines.push(
      sh`if [ "$t" = file ] && [ "$h" != ${q.wantSha256 ?? ''} ] && [ "$z" -le ${max} ]; then furrow_content ` +
        sh`${q.path} || exit 1; fi`,
    );
  }
  if (q.recurse) lines.push(recurseCommand(q.path, q.recurse));
  return lines.join('\n');
}

function recurseCommand(path: string, want: NonNullable<FileQuery['recurse']>): string {
  const tests: string[] = [];
  if (want.mode !== undefined) tests.push(sh`\\( ! -type l ! -perm ${want.mode} \\)`);
  if (want.owner !== undefined) tests.push(sh`! -user ${want.owner}`);
  if (want.group !== undefined) tests.push(sh`! -group ${want.group}`);
  if (tests.length === 0) return '';
  // An unknown user or group makes find fail: report "differs" so apply's chown names the problem.
  return [
    sh`if [ "$t" = directory ]; then`,
    sh`  r=$(find ${path} -mindepth 1 \\( ${raw(tests.join(' -o '))} \\) -print -quit 2>/dev/null) || r=error`,
    `  if [ -n "$r" ]; then echo "recurse 1"; else echo "recurse 0"; fi`,
    'fi',
  ].join('\n');
}

export const fileStat = {
  /** One `sh` script covering every query, in order. */
  command(queries: FileQuery[], records?: WrittenRecords): string {
    return probeScript(queries, records);
  },

  /** Pure: the script's output back into one FileInfo per query, in the same order. */
  parse(stdout: Buffer | string): FileInfo[] {
    const buf = typeof stdout === 'string' ? Buffer.from(stdout, 'utf8') : stdout;
    const reader = new LineReader(buf);
    const out: FileInfo[] = [];
    for (let line = reader.line(); line !== undefined; line = reader.line()) {
      if (line.startsWith('@ ')) {
        out.push(parseHeader(line));
        continue;
      }
      const current = out[out.length - 1];
      if (!current || current.type === 'absent') throw new Error(`file probe: unexpected line '${line}'`);
      parseDetail(line, current, reader);
    }
    return out;
  },

  default: [] as FileInfo[],
};

function parseHeader(line: string): FileInfo {
  const fields = line.slice(2).split(' ');
  if (fields[0] === 'absent') return { type: 'absent' };
  const [type, mode, uid, gid, size, owner, group] = fields;
  if (
    !['file', 'directory', 'link', 'other'].includes(type ?? '') ||
    group === undefined ||
    !/^[0-7]+$/.test(mode ?? '')
  ) {
    throw new Error(`file probe: unexpected line '${line}'`);
  }
  return {
    type: type as FileType,
    mode: parseInt(mode!, 8),
    uid: Number(uid),
    gid: Number(gid),
    size: Number(size),
    owner: owner!,
    group,
  };
}

function parseDetail(line: string, file: PresentFile, reader: LineReader): void {
  const space = line.indexOf(' ');
  const key = space < 0 ? line : line.slice(0, space);
  const value = space < 0 ? '' : line.slice(space + 1);
  if (key === 'sha256') {
    if (/^[0-9a-f]{64}$/.test(value)) file.sha256 = value;
  } else if (key === 'target') {
    file.target = reader.bytes(Number(value)).toString('utf8');
  } else if (key === 'resolved') {
    file.resolved = reader.bytes(Number(value)).toString('utf8');
  } else if (key === 'content' && value === '') {
    file.content = reader.base64Block();
  } else if (key === 'recurse') {
    file.recurseDiffers = value !== '0';
  } else {
    throw new Error(`file probe: unexpected line '${line}'`);
  }
}

/**
 * Reads '\n'-terminated lines, length-prefixed byte blocks (each followed by one '\n') and
 * base64 blocks (lines up to an empty one).
 */
class LineReader {
  private pos = 0;
  constructor(private readonly buf: Buffer) {}

  line(): string | undefined {
    if (this.pos >= this.buf.length) return undefined;
    let end = this.buf.indexOf(0x0a, this.pos);
    if (end < 0) end = this.buf.length;
    const text = this.buf.subarray(this.pos, end).toString('utf8');
    this.pos = end + 1;
    return text;
  }

  bytes(n: number): Buffer {
    if (!Number.isInteger(n) || n < 0 || this.pos + n > this.buf.length)
      throw new Error('file probe: truncated output');
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n + 1;
    return Buffer.from(out);
  }

  base64Block(): Buffer {
    const parts: string[] = [];
    for (;;) {
      const line = this.line();
      if (line === undefined) throw new Error('file probe: truncated output');
      if (line === '') return Buffer.from(parts.join(''), 'base64');
      if (!/^[A-Za-z0-9+/]+=*$/.test(line)) throw new Error(`file probe: unexpected line '${line}' in content`);
      parts.push(line);
    }
  }
}

/**
 * Runs the probe for `queries` in one round trip; a query asked twice is probed once. With
 * `records`, a file Furrow wrote and nobody changed since is not hashed again (written.ts).
 */
export async function probeFiles(
  conn: Connection,
  queries: FileQuery[],
  records?: WrittenRecords,
): Promise<FileInfo[]> {
  if (queries.length === 0) return fileStat.default;
  const keys = queries.map(queryKey);
  const distinct = [...new Map(queries.map((q, i) => [keys[i]!, q])).values()];
  const result = await conn.exec(fileStat.command(distinct, records));
  if (result.code !== 0) {
    throw commandFailed(conn.spec.name, `inspecting ${distinct.map((q) => q.path).join(', ')}`, result);
  }
  const infos = fileStat.parse(result.stdout);
  if (infos.length !== distinct.length)
    throw new FurrowError(
      'module',
      `${conn.spec.name}: file probe returned ${infos.length} results for ${distinct.length} paths`,
    );
  distinct.forEach((q, i) => {
    const info = infos[i]!;
    if (q.content === 'always' && info.type === 'file' && info.content && !info.sha256)
      info.sha256 = createHash('sha256').update(info.content).digest('hex');
  });
  const byKey = new Map(distinct.map((q, i) => [queryKey(q), infos[i]!]));
  return keys.map((k) => byKey.get(k)!);
}

/** Two queries with the same key ask the same thing of the host. */
export function queryKey(q: FileQuery): string {
  return JSON.stringify([
    q.path,
    !!q.follow,
    q.content ?? '',
    q.wantSha256 ?? '',
    q.maxContentBytes ?? 0,
    q.recurse ?? null,
  ]);
}
