import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import path from 'node:path';
import type { Reporter, RunEvent } from '../events.js';

/**
 * The run journal, `.furrow/runs/<id>.jsonl`: every event, written as it happens (synchronously,
 * so a killed run still leaves what it did), read back by `--resume`. The file stays open for the
 * run: one write per event instead of an open, a write and a close.
 */
export class JournalReporter implements Reporter {
  readonly file: string;
  private fd: number | undefined;
  constructor(dir: string, runId: string) {
    mkdirSync(dir, { recursive: true });
    this.file = path.join(dir, `${runId}.jsonl`);
  }
  onEvent(event: RunEvent): void {
    this.fd ??= openSync(this.file, 'a');
    writeSync(this.fd, `${JSON.stringify({ ...event, t: Date.now() })}\n`);
  }
  async close(): Promise<void> {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}
