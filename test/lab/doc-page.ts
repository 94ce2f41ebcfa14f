import { spawn } from 'node:child_process';
import type { CliResult } from './support.js';

/**
 * A documentation page run as written: its `sh` blocks are commands, and a `text` block right
 * after one holds lines those commands must print. The lab tests of docs/getting-started.md and
 * docs/cluster.md read their pages through this.
 */
export interface PageStep {
  commands: string[];
  /** Lines of the `text` block that follows, if any. */
  expected: string[];
}

interface Block {
  lang: string;
  body: string;
  end: number;
}

function blocksOf(markdown: string): Block[] {
  return [...markdown.matchAll(/^```(\w*)\n([\s\S]*?)^```$/gm)].map((m) => ({
    lang: m[1]!,
    body: m[2]!,
    end: m.index! + m[0].length,
  }));
}

/** The page's `sh` blocks, each with the `text` block right after it. */
export function pageSteps(markdown: string): PageStep[] {
  const blocks = blocksOf(markdown);
  const steps: PageStep[] = [];
  blocks.forEach((block, i) => {
    if (block.lang !== 'sh') return;
    const next = blocks[i + 1];
    const between = next ? markdown.slice(block.end, markdown.indexOf(`\`\`\`${next.lang}`, block.end)) : '';
    const follows = next?.lang === 'text' && between.trim() === '' ? next.body : '';
    steps.push({
      commands: block.body.split('\n').filter((l) => l.trim()),
      expected: follows.split('\n').filter((l) => l.trim()),
    });
  });
  return steps;
}

/** A `sh -c` command in `cwd`, with its output; `env` adds to the environment. */
export function sh(command: string, cwd: string, env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('sh', ['-c', command], {
      cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...env },
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    child.on('error', reject);
    child.on('close', (code) =>
      resolve({ code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() }),
    );
  });
}

/** Fails naming every line the page shows that `output` lacks, both compared after `normalize`. */
export function expectLines(output: string, expected: string[], normalize: (text: string) => string): void {
  const have = new Set(normalize(output).split('\n'));
  const missing = expected.map(normalize).filter((line) => !have.has(line));
  if (missing.length)
    throw new Error(`the page shows lines the command did not print:\n${missing.join('\n')}\n--- output\n${output}`);
}
