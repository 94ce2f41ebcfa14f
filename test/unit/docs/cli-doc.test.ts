import { readFileSync } from 'node:fs';
import path from 'node:path';
import { EXIT } from '../../../src/engine/errors.js';
import { expectExit, furrow } from '../../lab/support.js';

/** docs/cli.md kept in step with the command itself: its options, its exit codes, its events. */
const doc = readFileSync(path.resolve('docs/cli.md'), 'utf8');

/** The text of `## furrow NAME` up to the next `## ` heading. */
function section(name: string): string {
  const start = doc.indexOf(`\n## furrow ${name}\n`);
  if (start < 0) throw new Error(`docs/cli.md has no section '## furrow ${name}': add one (its options, what it does)`);
  const end = doc.indexOf('\n## ', start + 1);
  return doc.slice(start, end < 0 ? undefined : end);
}

/** Rows of the first table after `heading` in `text`: the first cell of each, backticks removed. */
function firstCells(text: string, heading: string): string[] {
  const from = text.indexOf(heading);
  const table = text
    .slice(from)
    .split('\n\n')
    .find((block) => block.startsWith('|'))!;
  return table
    .split('\n')
    .slice(2)
    .map((row) => row.split('|')[1]!.trim().replace(/`/g, ''));
}

async function longOptions(args: string[]): Promise<string[]> {
  const r = await furrow([...args, '--help']);
  expectExit(r, 0);
  const options = r.stdout.slice(r.stdout.indexOf('Options:'));
  return [...new Set([...options.matchAll(/(?:^|[ ,])(--[a-z][a-z-]*)/gm)].map((m) => m[1]!))].filter(
    (o) => o !== '--help',
  );
}

/** Commands a help text lists under `Commands:`, without `help`. */
function commandsIn(help: string): string[] {
  const at = help.indexOf('Commands:');
  return at < 0
    ? []
    : [...help.slice(at).matchAll(/^ {2}([a-z][a-z-]*)\b/gm)].map((m) => m[1]!).filter((c) => c !== 'help');
}

describe('docs/cli.md', () => {
  test('has a section for every command, naming each of its long options', async () => {
    const top = await furrow(['--help']);
    expectExit(top, 0);
    const commands = commandsIn(top.stdout);
    expect(commands).toEqual(expect.arrayContaining(['run', 'exec', 'modules', 'lab', 'demo']));
    const missing: string[] = [];
    for (const command of commands) {
      const text = section(command);
      const help = await furrow([command, '--help']);
      expectExit(help, 0);
      const invocations = [[command], ...commandsIn(help.stdout).map((sub) => [command, sub])];
      for (const args of invocations) {
        for (const option of await longOptions(args))
          if (!text.includes(option)) missing.push(`furrow ${args.join(' ')} ${option}`);
      }
    }
    expect(missing).toEqual([]);
  });

  test('furrow run --help has the options this test looks for', async () => {
    expect(await longOptions(['run'])).toEqual(
      expect.arrayContaining([
        '--inventory',
        '--check',
        '--diff',
        '--limit',
        '--tags',
        '--skip-tags',
        '--extra-vars',
        '--forks',
        '--start-at-task',
        '--resume',
        '--json',
      ]),
    );
  });

  test('the exit status table is the EXIT codes of src/engine/errors.ts', () => {
    expect(firstCells(doc, '## Exit status').map(Number)).toEqual(Object.values(EXIT));
  });

  test('the JSON events table lists every RunEvent kind of src/engine/events.ts', () => {
    const source = readFileSync(path.resolve('src/engine/events.ts'), 'utf8');
    const kinds = [...source.matchAll(/kind: '([a-z_]+)'/g)].map((m) => m[1]);
    expect(kinds.length).toBeGreaterThan(5);
    expect(firstCells(section('run'), '### JSON events')).toEqual(kinds);
  });
});
