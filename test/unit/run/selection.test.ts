import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Task } from '../../../src/engine/playbook/types.js';
import { ProgressBoard, RunOnce } from '../../../src/engine/run/joins.js';
import { planResume } from '../../../src/engine/run/resume.js';
import {
  selectTasks,
  serialBatches,
  startAtTask,
  startAtTaskId,
  taskSelected,
} from '../../../src/engine/run/selection.js';

function task(name: string, tags: string[] = [], extra: Partial<Task> = {}): Task {
  return {
    id: `site.yml:${name}`,
    name,
    module: 'command',
    params: {},
    when: [],
    loopVar: 'item',
    notify: [],
    listen: [],
    tags,
    runOnce: false,
    ignoreErrors: false,
    noLog: false,
    vars: {},
    waitFor: [],
    playbookDir: '/p',
    place: { file: '/p/site.yml', line: 1, column: 1 },
    ...extra,
  };
}

describe('tags', () => {
  const sel = (tags: string[], skipTags: string[] = []) => ({ tags, skipTags });
  test('no --tags runs everything but never-tagged tasks', () => {
    expect(taskSelected(task('a'), sel([]))).toBe(true);
    expect(taskSelected(task('a', ['never']), sel([]))).toBe(false);
  });
  test('--tags picks tagged tasks plus always; never only when one of its tags is asked for', () => {
    expect(taskSelected(task('a', ['config']), sel(['config']))).toBe(true);
    expect(taskSelected(task('a', ['install']), sel(['config']))).toBe(false);
    expect(taskSelected(task('a', ['always']), sel(['config']))).toBe(true);
    expect(taskSelected(task('a', ['never', 'debug']), sel(['debug']))).toBe(true);
    expect(taskSelected(task('a', ['never', 'debug']), sel(['all']))).toBe(false);
  });
  test('--skip-tags wins, even over always', () => {
    expect(taskSelected(task('a', ['config']), sel([], ['config']))).toBe(false);
    expect(taskSelected(task('a', ['always']), sel(['x'], ['always']))).toBe(false);
  });
  test('a block keeps only its selected tasks and disappears when none is left', () => {
    const block = task('b', [], {
      module: 'block',
      block: { tasks: [task('in', ['x']), task('out', ['y'])], rescue: [], always: [] },
    });
    const kept = selectTasks([block, task('z', ['y'])], sel(['x']));
    expect(kept).toHaveLength(1);
    expect(kept[0]!.block!.tasks.map((t) => t.name)).toEqual(['in']);
  });
});

describe('--start-at-task and resume points', () => {
  const tasks = [
    task('one'),
    task('b', [], { module: 'block', block: { tasks: [task('two'), task('three')], rescue: [], always: [] } }),
    task('four'),
  ];
  test('starts at a named task, also inside a block', () => {
    expect(startAtTask(tasks, 'four').tasks.map((t) => t.name)).toEqual(['four']);
    const inBlock = startAtTask(tasks, 'three');
    expect(inBlock.found).toBe(true);
    expect(inBlock.tasks[0]!.block!.tasks.map((t) => t.name)).toEqual(['three']);
    expect(inBlock.tasks.map((t) => t.name)).toEqual(['b', 'four']);
    expect(startAtTask(tasks, 'nope').found).toBe(false);
  });
  test('starts at a task id', () => {
    expect(startAtTaskId(tasks, 'site.yml:two')[0]!.block!.tasks.map((t) => t.name)).toEqual(['two', 'three']);
    expect(startAtTaskId(tasks, 'site.yml:missing')).toEqual([]);
  });
});

describe('serial batches', () => {
  const hosts = ['h1', 'h2', 'h3', 'h4', 'h5'];
  test('none: one batch of all', () => expect(serialBatches(hosts, undefined, 'x')).toEqual([hosts]));
  test('a number', () => expect(serialBatches(hosts, [2], 'x')).toEqual([['h1', 'h2'], ['h3', 'h4'], ['h5']]));
  test('a percentage, at least one host', () =>
    expect(serialBatches(hosts, ['40%'], 'x')).toEqual([['h1', 'h2'], ['h3', 'h4'], ['h5']]));
  test('a list grows, the last size repeats', () =>
    expect(serialBatches(hosts, [1, 2], 'x')).toEqual([['h1'], ['h2', 'h3'], ['h4', 'h5']]));
  test('a bad size is bad input naming the file', () =>
    expect(() => serialBatches(hosts, ['lots'], '/p/site.yml')).toThrow(/\/p\/site.yml: serial: 'lots'/));
});

describe('joins', () => {
  test('run_once: the first host runs, the others get its result', async () => {
    const once = new RunOnce<string>();
    let runs = 0;
    const a = once.once('k', async () => `ran ${++runs}`);
    const b = once.once('k', async () => `ran ${++runs}`);
    expect([a.ranHere, b.ranHere]).toEqual([true, false]);
    expect(await b.promise).toBe('ran 1');
    expect(runs).toBe(1);
  });
  test('a cross-host wait resolves once every host is past the marker or has ended', async () => {
    const board = new ProgressBoard();
    let done = false;
    const wait = board.waitFor(['h1', 'h2'], 3).then(() => (done = true));
    board.advance('h1', 3);
    await Promise.resolve();
    expect(done).toBe(false);
    board.end('h2');
    await wait;
    expect(done).toBe(true);
  });
});

describe('--resume', () => {
  test('a failed host resumes at its failed task, a finished one is left out', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'furrow-resume-'));
    const ev = (e: object) => JSON.stringify(e);
    writeFileSync(
      path.join(dir, '2026-01-01T00-00-00-aaaaaa.jsonl'),
      [
        ev({ kind: 'run_start', runId: 'a', playbook: '/p/site.yml', inventory: '/p/hosts', check: false, at: '' }),
        ev({ kind: 'task_result', host: 'h1', taskId: 't1', task: 'one', status: 'ok', handler: false, durationMs: 1 }),
        ev({ kind: 'task_result', host: 'h2', taskId: 't1', task: 'one', status: 'ok', handler: false, durationMs: 1 }),
        ev({
          kind: 'task_result',
          host: 'h2',
          taskId: 't2',
          task: 'two',
          status: 'failed',
          handler: false,
          durationMs: 1,
        }),
        ev({ kind: 'run_end', recap: {}, durationMs: 3 }),
      ].join('\n'),
    );
    writeFileSync(
      path.join(dir, '2026-01-02T00-00-00-bbbbbb.jsonl'),
      ev({ kind: 'run_start', runId: 'b', playbook: '/p/other.yml', inventory: '', check: false, at: '' }),
    );
    const plan = planResume(dir, '/p/site.yml')!;
    expect([...plan.startAt]).toEqual([['h2', 't2']]);
    expect([...plan.finished]).toEqual(['h1']);
    expect(planResume(dir, '/p/none.yml')).toBeUndefined();
    // A second --resume in a row: the newest journal is the first resume's, which left h1 out.
    writeFileSync(
      path.join(dir, '2026-01-03T00-00-00-cccccc.jsonl'),
      [
        ev({
          kind: 'run_start',
          runId: 'c',
          playbook: '/p/site.yml',
          inventory: '/p/hosts',
          check: false,
          at: '',
          finished: ['h1'],
        }),
        ev({
          kind: 'task_result',
          host: 'h2',
          taskId: 't2',
          task: 'two',
          status: 'failed',
          handler: false,
          durationMs: 1,
        }),
        ev({ kind: 'run_end', recap: {}, durationMs: 3 }),
      ].join('\n'),
    );
    const again = planResume(dir, '/p/site.yml')!;
    expect([...again.startAt]).toEqual([['h2', 't2']]);
    expect([...again.finished]).toEqual(['h1']);
    rmSync(dir, { recursive: true, force: true });
  });
});
