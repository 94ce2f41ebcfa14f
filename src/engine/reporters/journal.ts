import { chmodSync, closeSync, mkdirSync, openSync, readdirSync, writeSync } from 'node:fs';
import path from 'node:path';
import type { Reporter, RunEvent } from '../events.js';

/**
 * The run journal, `.furrow/runs/<id>.jsonl`: what `--resume` needs, written as it happens
 * (synchronously, so a killed run still leaves what it did). It never holds file contents: diffs
 * and printed output stay out, and the journal is 0600 in 0700 folders, because a copied file may
 * be a private key and a failure message may quote a host's output. The file stays open for the
 * run: one write per event instead of an open, a write and a close.
 */
export class JournalReporter implements Reporter {
  readonly file: string;
  private fd: number | undefined;
  constructor(dir: string, runId: string) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    privateFolders(dir);
    this.file = path.join(dir, `${runId}.jsonl`);
  }
  onEvent(event: RunEvent): void {
    this.fd ??= openSync(this.file, 'a', 0o600);
    writeSync(this.fd, `${JSON.stringify({ ...journalled(event), t: Date.now() })}\n`);
  }
  async close(): Promise<void> {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}

/** The event as the journal keeps it: without diffs and output the user asked to see (debug's msg is that output). */
export function journalled(event: RunEvent): RunEvent {
  if (event.kind !== 'task_result') return event;
  const { diff: _diff, print, msg, ...kept } = event;
  return print === undefined && msg !== undefined ? { ...kept, msg } : kept;
}

/**
 * The runs folder and a `.furrow` above it are 0700, and journals an older version left 0644
 * become 0600: other local users have no business reading them.
 */
function privateFolders(dir: string): void {
  const parent = path.dirname(dir);
  const paths = [dir, ...(path.basename(parent) === '.furrow' ? [parent] : [])];
  for (const p of paths) tryChmod(p, 0o700);
  for (const name of readdirSync(dir)) if (name.endsWith('.jsonl')) tryChmod(path.join(dir, name), 0o600);
}

/** Another user's folder is theirs to guard: not a reason to refuse the run. */
function tryChmod(file: string, mode: number): void {
  try {
    chmodSync(file, mode);
  } catch {
    // EPERM on a file we do not own
  }
}
