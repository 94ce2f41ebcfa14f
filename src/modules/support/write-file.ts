/**
 * Writing a whole file's content, shared by copy, template, lineinfile and blockinfile: a pure
 * decision from the probed file and the wanted bytes (compared by sha256), and the apply that
 * carries it out atomically through conn.put, keeping a backup when asked.
 */
import { readFile } from 'node:fs/promises';
import { posix } from 'node:path';
import { FurrowError } from '../../engine/errors.js';
import type { FileInfo, FileQuery } from '../../engine/facts/files.js';
import { RECORD_MIN_BYTES, recordCommand } from '../../engine/facts/written.js';
import type { ApplyResult, Diff, ModuleContext, Plan, ValueChange } from '../../engine/module.js';
import { sh } from '../../engine/shell.js';
import { attrChanges, attrCommand, describeChanges, type WantedAttrs } from './attributes.js';
import { isText, sha256, unifiedDiff } from './content.js';
import { formatMode, resolveMode } from './modes.js';
import { runOrFail } from './run.js';

/** Largest file whose old and new text we put in a diff. */
export const DIFF_LIMIT = 256 * 1024;

export interface WantedContent {
  path: string;
  /**
   * The new bytes, or a controller file streamed at apply time (its bytes only when small enough to
   * diff; its size when the caller has stat'ed it).
   */
  source: { bytes: Buffer } | { localPath: string; size?: number; bytes?: Buffer };
  sha256: string;
  attrs: WantedAttrs;
  /** false: leave an existing file's content alone (Ansible's force: no). */
  force?: boolean;
  backup?: boolean;
  /** Secret content: diffs say "(secret changed)", and the old content is never fetched. */
  secret?: boolean;
}

export interface WriteData {
  path: string;
  /** The content the file holds once applied, and its size when known (facts/written.ts records large ones). */
  sha256: string;
  size?: number;
  /** Replace the content (mode/owner/group as given, else the old file's, so they never drift). */
  write?: { source: WantedContent['source']; mode: string; owner?: string; group?: string; backup: boolean };
  /** Content is right: fix only these attributes. */
  attrs?: ValueChange[];
}

/** The probe query for a content write: the old text comes back only when it differs and can be diffed. */
export function contentQuery(path: string, sha256: string, secret = false): FileQuery {
  return secret ? { path } : { path, content: 'if-changed', wantSha256: sha256, maxContentBytes: DIFF_LIMIT };
}

/** Pure: what to do so that `want.path` holds the wanted content and attributes. */
export function decideWrite(want: WantedContent, file: FileInfo, module: string): Plan<WriteData> {
  const { path } = want;
  if (file.type === 'directory') throw new FurrowError('module', `${module}: ${path} is a directory, not a file`);
  if (file.type === 'other')
    throw new FurrowError(
      'module',
      `${module}: ${path} is a special file (device, fifo or socket): refusing to replace it`,
    );
  if (file.type === 'file' && want.force === false) {
    return { action: 'none', reason: `${path} exists and force is false: content left alone` };
  }
  if (file.type === 'file' && file.sha256 === want.sha256) {
    const changes = attrChanges(file, want.attrs);
    if (changes.length === 0) return { action: 'none', reason: `${path} is up to date` };
    return {
      action: 'update',
      reason: describeChanges(path, changes),
      diff: { values: changes },
      data: { path, attrs: changes, sha256: want.sha256, size: file.size },
    };
  }
  const present = file.type === 'file' ? file : undefined;
  const mode = want.attrs.mode ? resolveMode(want.attrs.mode, present?.mode, false) : (present?.mode ?? 0o644);
  const owner = want.attrs.owner ?? (present ? String(present.uid) : undefined);
  const group = want.attrs.group ?? (present ? String(present.gid) : undefined);
  const write = {
    source: want.source,
    mode: formatMode(mode),
    ...(owner !== undefined ? { owner } : {}),
    ...(group !== undefined ? { group } : {}),
    backup: !!want.backup && !!present,
  };
  const size = want.source.bytes?.length ?? ('size' in want.source ? want.source.size : undefined);
  const data: WriteData = { path, write, sha256: want.sha256, ...(size !== undefined ? { size } : {}) };
  if (!present) {
    const what =
      file.type === 'link' ? `${path} is a link to ${file.target ?? '?'}: it becomes a file` : `${path} does not exist`;
    return {
      action: file.type === 'link' ? 'replace' : 'create',
      reason: what,
      diff: contentDiff(want, file, mode),
      data,
    };
  }
  const reason = `content of ${path} differs (sha256 ${short(present.sha256)} -> ${short(want.sha256)})`;
  return { action: 'update', reason, diff: contentDiff(want, file, mode), data };
}

function short(sha: string | undefined): string {
  return sha ? sha.slice(0, 12) : 'unreadable';
}

function contentDiff(want: WantedContent, file: FileInfo, newMode: number): Diff {
  const values: ValueChange[] = [];
  if (file.type !== 'file') {
    values.push({ key: 'state', before: file.type, after: 'file' });
    if (want.attrs.mode) values.push({ key: 'mode', before: null, after: formatMode(newMode) });
  } else {
    values.push(...attrChanges(file, want.attrs));
  }
  if (want.secret)
    return { values: withContent(values, { key: 'content', before: '(secret)', after: '(secret changed)' }) };
  const after = 'bytes' in want.source ? want.source.bytes : undefined;
  const before = file.type === 'file' ? file.content : Buffer.alloc(0);
  if (after && before && isText(after) && isText(before) && after.length <= DIFF_LIMIT) {
    const unified = unifiedDiff(want.path, before.toString('utf8'), after.toString('utf8'));
    return values.length ? { unified, values } : { unified };
  }
  const oldSha = file.type === 'file' ? `sha256:${file.sha256 ?? 'unreadable'}` : null;
  return { values: withContent(values, { key: 'content', before: oldSha, after: `sha256:${want.sha256}` }) };
}

/** The content change goes after a state change and before mode/owner/group. */
function withContent(values: ValueChange[], content: ValueChange): ValueChange[] {
  const state = values.filter((v) => v.key === 'state');
  return [...state, content, ...values.filter((v) => v.key !== 'state')];
}

/** Carries out exactly the planned write (or attribute fix). */
export async function applyWrite(ctx: ModuleContext, plan: Plan<WriteData>): Promise<ApplyResult> {
  const data = plan.data;
  if (!data) return {};
  const output: Record<string, unknown> = { path: data.path };
  if (data.attrs) await runOrFail(ctx, attrCommand(data.path, data.attrs), `setting attributes of ${data.path}`);
  const write = data.write;
  if (write) {
    if (write.backup) {
      const backup = backupName(data.path, new Date());
      await runOrFail(ctx, sh`cp -p -- ${data.path} ${backup}`, `backing up ${data.path}`);
      output.backup_file = backup;
    }
    const source =
      'bytes' in write.source && write.source.bytes
        ? { content: write.source.bytes }
        : { path: (write.source as { localPath: string }).localPath };
    await ctx.conn.put(data.path, source, {
      mode: write.mode,
      ...(write.owner !== undefined ? { owner: write.owner } : {}),
      ...(write.group !== undefined ? { group: write.group } : {}),
    });
  }
  // Best effort: without a record the next probe hashes the file, as it always did.
  if (ctx.written && (data.size ?? 0) >= RECORD_MIN_BYTES)
    await ctx.conn.exec(recordCommand(ctx.written, data.path, data.sha256));
  return { output };
}

/**
 * The files of one task that belong together (a certificate, its key and CA; a key pair), in
 * `mkdir` when it is missing. When more than one file's content changes, each is put under a
 * staging name beside its final one, then one command renames them all into place: a client that
 * reads the set meanwhile (etcdctl, a health check) would otherwise find a new certificate with the
 * old key for as long as a round trip takes.
 */
export async function applyWriteSet(ctx: ModuleContext, set: WriteSetData): Promise<ApplyResult> {
  const { writes, mkdir, leftover = [] } = set;
  if (mkdir) await runOrFail(ctx, sh`mkdir -p -- ${mkdir}`, `creating ${mkdir}`);
  if (leftover.length) await runOrFail(ctx, sh`rm -f -- ${leftover}`, `removing ${leftover.join(', ')}`);
  const contents = writes.filter((w) => w.write);
  const staged = contents.length > 1 ? contents : [];
  for (const write of writes) {
    const at = staged.includes(write) ? stagingPath(write.path) : write.path;
    await applyWrite(ctx, { action: 'update', reason: '', data: { ...write, path: at } });
  }
  if (staged.length) {
    const renames = staged.map((w) => sh`mv -f -- ${stagingPath(w.path)} ${w.path}`).join(' && ');
    await runOrFail(ctx, renames, `putting ${staged.map((w) => w.path).join(', ')} in place`);
  }
  return { output: { dest: writes.map((w) => w.path) } };
}

/** Where a file of a changing set waits until all are there: hidden, beside its final name. */
function stagingPath(file: string): string {
  return posix.join(posix.dirname(file), `.${posix.basename(file)}.furrow-new`);
}

/** What a task that writes a set of files applies (applyWriteSet). */
export interface WriteSetData {
  /** The destination folder does not exist yet. */
  mkdir?: string;
  writes: WriteData[];
  /** Staging files a run cut off between its puts and its rename left behind: removed first. */
  leftover?: string[];
}

/** Asks, in the set's own probe, whether any of its files has a staging file left beside it. */
export function stagingQueries(files: string[]): FileQuery[] {
  return files.map((f) => ({ path: stagingPath(f) }));
}

/**
 * A set's plan, with the staging files `found` (stagingQueries' answers) says are there removed
 * too. A run cut off between a set's puts and its rename leaves them (a key among them, mode
 * 0600); left alone, they would stay until the set next changes.
 */
export function removingLeftovers(plan: Plan<WriteSetData>, files: string[], found: FileInfo[]): Plan<WriteSetData> {
  const leftover = files.map(stagingPath).filter((_, i) => found[i]!.type !== 'absent');
  if (!leftover.length) return plan;
  const removes = `removes ${leftover.map((f) => posix.basename(f)).join(', ')}, left by a run cut off mid-write`;
  const data = { ...(plan.data ?? { writes: [] }), leftover };
  const action = plan.action === 'none' ? 'update' : plan.action;
  return { ...plan, action, reason: `${plan.reason}; ${removes}`, data };
}

/** Ansible's backup name without the pid: <path>.<YYYY-MM-DD@HH:MM:SS>~ (local time). */
export function backupName(path: string, when: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  const day = `${when.getFullYear()}-${p(when.getMonth() + 1)}-${p(when.getDate())}`;
  const stamp = `${day}@${p(when.getHours())}:${p(when.getMinutes())}:${p(when.getSeconds())}`;
  return `${path}.${stamp}~`;
}

/** A controller file as WantedContent's source: its bytes too when small enough to diff. */
export async function localSource(localPath: string, size: number): Promise<WantedContent['source']> {
  return size <= DIFF_LIMIT ? { localPath, size, bytes: await readFile(localPath) } : { localPath, size };
}

/** What lineinfile and blockinfile ask of a text edit. */
export interface TextEdit {
  module: string;
  path: string;
  attrs: WantedAttrs;
  create: boolean;
  backup: boolean;
  /** The edit only removes: a missing file is then already right. */
  removing: boolean;
  /** What there is nothing to remove from a missing file: 'line', 'block'. */
  what: string;
  edit(before: string): string;
}

/** What a text edit reads: the file's content, through links. */
export function textEditQueries(path: string): FileQuery[] {
  return [{ path, content: 'always', follow: true }];
}

/**
 * Reads the file in one round trip (through links, as Ansible: editing /etc/resolv.conf edits the
 * file it points to), applies the edit to its text, and plans a write only when the text changed.
 */
export async function planTextEdit(ctx: ModuleContext, e: TextEdit): Promise<Plan<WriteData>> {
  const [file] = await ctx.probeFiles(textEditQueries(e.path));
  if (file!.type === 'absent') {
    if (e.removing) return { action: 'none', reason: `${e.path} does not exist: no ${e.what} to remove` };
    if (!e.create)
      throw new FurrowError(
        'module',
        `${ctx.host}: ${e.module}: ${e.path} does not exist (give create: true to create it)`,
      );
  }
  if (file!.type === 'directory') throw new FurrowError('module', `${ctx.host}: ${e.module}: ${e.path} is a directory`);
  const before = file!.type === 'file' ? (file!.content ?? Buffer.alloc(0)).toString('utf8') : '';
  const bytes = Buffer.from(e.edit(before), 'utf8');
  const target = file!.type === 'file' ? (file!.resolved ?? e.path) : e.path;
  return decideWrite(
    { path: target, source: { bytes }, sha256: sha256(bytes), attrs: e.attrs, backup: e.backup },
    file!,
    `${ctx.host}: ${e.module}`,
  );
}
