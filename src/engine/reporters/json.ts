import type { Reporter, RunEvent } from '../events.js';

/** `--json`: one JSON object per event per line on stdout. */
export class JsonLinesReporter implements Reporter {
  constructor(private readonly out: NodeJS.WritableStream = process.stdout) {}
  onEvent(event: RunEvent): void {
    this.out.write(`${JSON.stringify(event)}\n`);
  }
}
