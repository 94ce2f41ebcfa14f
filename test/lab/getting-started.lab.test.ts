import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expectLines as expectPageLines, pageSteps, type PageStep as Step, sh } from './doc-page.js';
import { describeLab, expectExit, furrow, recap, labTestName } from './support.js';

/**
 * docs/getting-started.md, run as written: its `sh` blocks are the commands, its `text` blocks
 * lines the commands must print (timings and the lab's subnet aside), and its file listings the
 * files in docs/examples/getting-started. The only changes made to the commands: the lab is
 * named t-start (so it never meets a user's default lab), `npx furrow` is this build, and the
 * example folder is found from the repository.
 */
const NAME = labTestName('t-start');
const PAGE = path.resolve('docs/getting-started.md');
const EXAMPLE = path.resolve('docs/examples/getting-started');
const CLI = path.resolve('dist/cli/furrow.js');
const HOSTS = ['h1', 'h2', 'h3'];

/** The page's commands as this test runs them. */
function forTest(command: string): string {
  return command
    .replace(/^npx furrow /, `"${process.execPath}" "${CLI}" `)
    .replace(/ lab (up|down)$/, ` lab $1 --name ${NAME}`)
    .replaceAll('.furrow/lab/inventory.yml', `.furrow/lab-${NAME}/inventory.yml`)
    .replace('docs/examples/getting-started', EXAMPLE);
}

/** Timings and the lab's /24 differ from run to run. */
const normalize = (text: string) =>
  text
    .replace(/\(\d+ ms\)/g, '(N ms)')
    .replace(/ \d+\.\d+ s$/gm, ' N s')
    .replace(/10\.213\.(\d+|X)\./g, '10.213.X.');
const expectLines = (output: string, expected: string[]) => expectPageLines(output, expected, normalize);

const handlerRuns = (output: string) =>
  [...output.matchAll(/^(h\d+) hello \| changed: handler: Restart hello /gm)].map((m) => m[1]).sort();

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    return statSync(full).isDirectory() ? filesUnder(full).map((f) => `${name}/${f}`) : [name];
  });
}

const page = readFileSync(PAGE, 'utf8');
const steps = pageSteps(page);
const inventoryCmd = `npx furrow exec all -i .furrow/lab/inventory.yml --`;
const run = 'npx furrow run hello/site.yml -i .furrow/lab/inventory.yml';

test('getting-started.md shows exactly the example files', () => {
  const shown = [...page.matchAll(/^\*\*`hello\/([^`]+)`\*\*\n\n```\w*\n([\s\S]*?)^```$/gm)].map(
    (m) => [m[1]!, m[2]!] as const,
  );
  expect(shown.map(([file]) => file).sort()).toEqual(filesUnder(EXAMPLE).sort());
  for (const [file, text] of shown)
    expect(`${file}:\n${text}`).toBe(`${file}:\n${readFileSync(path.join(EXAMPLE, file), 'utf8')}`);
});

test('getting-started.md has the commands this test knows how to check', () => {
  expect(steps.map((s) => s.commands)).toEqual([
    ['npx furrow lab up'],
    ['cp -r docs/examples/getting-started hello'],
    [run],
    [run],
    [`${run} -e hello_greeting=Bonjour --check --diff`],
    [`${run} -e hello_greeting=Bonjour`],
    [`${inventoryCmd} cat /etc/hello/hello.conf`, `${inventoryCmd} journalctl -u hello -o cat -n 2`],
    ['npx furrow lab down'],
  ]);
});

describeLab('docs/getting-started.md on the lab', () => {
  const cwd = mkdtempSync(path.join(os.tmpdir(), 'furrow-getting-started-'));
  const inventory = path.join(cwd, '.furrow', `lab-${NAME}`, 'inventory.yml');
  const [labUp, copy, first, again, preview, change, look, labDown] = steps as [
    Step,
    Step,
    Step,
    Step,
    Step,
    Step,
    Step,
    Step,
  ];

  /** Runs one step's commands in order; each must exit 0 and the page's output lines must appear. */
  async function runStep(step: Step): Promise<string> {
    let output = '';
    for (const command of step.commands) {
      const r = await sh(forTest(command), cwd);
      expectExit(r, 0);
      output += r.stdout;
    }
    expectLines(output, step.expected);
    return output;
  }
  const onHosts = async (command: string) => {
    const r = await furrow(['exec', 'all', '-i', inventory, '--json', '--', command], { cwd });
    expectExit(r, 0);
    const rows = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { host: string; stdout: string });
    return Object.fromEntries(rows.map((row) => [row.host, row.stdout.trim()]));
  };
  const startTimes = () => onHosts('systemctl show -p ActiveEnterTimestampMonotonic --value hello.service');
  const greetings = () => onHosts('grep ^greeting: /etc/hello/hello.conf');

  beforeAll(async () => {
    await runStep(labUp);
  }, 600_000);

  afterAll(async () => {
    // The page's last command; the same, spelled out, when the page no longer parses.
    const r = await sh(forTest(labDown?.commands[0] ?? 'npx furrow lab down'), cwd);
    rmSync(cwd, { recursive: true, force: true });
    expectExit(r, 0);
  }, 120_000);

  test('the role runs, a re-run changes nothing, a preview changes nothing, -e restarts each host once', async () => {
    await runStep(copy);

    const firstOut = await runStep(first);
    for (const h of HOSTS)
      expect(recap(firstOut)[h]).toEqual({ ok: 0, changed: 4, failed: 0, skipped: 0, unreachable: 0, ignored: 0 });
    expect(await greetings()).toEqual({ h1: 'greeting: Hello', h2: 'greeting: Hello', h3: 'greeting: Hello' });
    const started = await startTimes();

    const againOut = await runStep(again);
    for (const h of HOSTS)
      expect(recap(againOut)[h]).toEqual({ ok: 3, changed: 0, failed: 0, skipped: 0, unreachable: 0, ignored: 0 });
    expect(handlerRuns(againOut)).toEqual([]);
    expect(await startTimes()).toEqual(started);

    const previewOut = await runStep(preview);
    for (const h of HOSTS) expect(previewOut).toContain(`    +greeting: Bonjour\n     host: ${h}\n`);
    expect(await greetings()).toEqual({ h1: 'greeting: Hello', h2: 'greeting: Hello', h3: 'greeting: Hello' });
    expect(await startTimes()).toEqual(started);

    const changeOut = await runStep(change);
    expect(handlerRuns(changeOut)).toEqual(HOSTS);
    for (const h of HOSTS)
      expect(recap(changeOut)[h]).toEqual({ ok: 2, changed: 2, failed: 0, skipped: 0, unreachable: 0, ignored: 0 });
    const restarted = await startTimes();
    for (const h of HOSTS) expect(restarted[h]).not.toBe(started[h]);

    const lookOut = await runStep(look);
    for (const h of HOSTS) expect(lookOut).toContain(`${h} | greeting: Bonjour\n${h} | host: ${h}\n`);
  }, 300_000);
});
