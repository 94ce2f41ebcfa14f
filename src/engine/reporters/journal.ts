import { appendFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Reporter, RunEvent } from '../events.js';

/**
 * The run journal, `.furrow/runs/<id>.jsonl`: every event, written as it happens (synchronously,
 * so a killed run still leaves what it did), read back by `--resume`.
 */
export class JournalReporter implements Reporter {
  readonly file: string;
  constructor(dir: string, runId: string) {
    mkdirSync(dir, { recursive: true });
    this.file = path.join(dir, `${runId}.jsonl`);
  }
  onEvent(event: RunEvent): void {
    appendFileSync(this.file, `${JSON.stringify({ ...event, t: Date.now() })}\n`);
  }
}
