import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { STEPS, stepTable } from '../../../src/cluster/steps.js';
import { PACKAGE_PLAYBOOKS } from '../../../src/cluster/run.js';
import { expectExit, furrow } from '../../lab/support.js';

describe('the deploy steps table', () => {
  let dir: string;
  beforeAll(() => (dir = mkdtempSync(path.join(tmpdir(), 'furrow-steps-'))));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('one row per step: number, name, what it does, whether its playbook exists; then all', () => {
    const playbooks = path.join(dir, 'playbooks');
    mkdirSync(playbooks);
    writeFileSync(path.join(playbooks, '01.prepare.yml'), '[]');
    writeFileSync(path.join(playbooks, '02.etcd.yml'), '[]');
    const lines = stepTable(playbooks).trimEnd().split('\n');
    expect(lines[0]).toMatch(/^step\s+name\s+what it does\s+exists$/);
    expect(lines).toHaveLength(STEPS.length + 2);
    expect(lines[1]).toMatch(/^01\s+prepare\s+time \(chrony\), base packages.*\syes$/);
    expect(lines[2]).toMatch(/^02\s+etcd\s+the etcd cluster.*\syes$/);
    expect(lines[3]).toMatch(/^03\s+runtime\s+.*\snot yet$/);
    expect(lines.at(-1)).toMatch(/^90\s+all\s+every step that exists/);
    // Columns line up: every name starts where the header's does.
    const nameAt = lines[0]!.indexOf('name');
    for (const s of STEPS) expect(lines.find((l) => l.startsWith(s.number))!.indexOf(s.name)).toBe(nameAt);
  });

  test('every step says what it does', () => {
    for (const s of STEPS) expect(s.does.length).toBeGreaterThan(10);
  });

  test('`furrow deploy --list` prints the table of the shipped playbooks, with no cluster folder', async () => {
    const r = await furrow(['deploy', '--list']);
    expectExit(r, 0);
    expect(r.stdout).toBe(stepTable(PACKAGE_PLAYBOOKS));
    expect(r.stdout).toMatch(/^01\s+prepare\s.*\syes$/m);
  });

  test('`furrow deploy --help` shows the same table', async () => {
    const r = await furrow(['deploy', '--help']);
    expectExit(r, 0);
    for (const line of stepTable(PACKAGE_PLAYBOOKS).trimEnd().split('\n')) expect(r.stdout).toContain(`  ${line}`);
  });

  test('a missing step or cluster folder is bad input (exit 2) that says what to give', async () => {
    const noStep = await furrow(['deploy', '-i', dir]);
    expectExit(noStep, 2);
    expect(noStep.stderr).toMatch(/deploy needs a step[\s\S]*01\s+prepare/);
    const noFolder = await furrow(['deploy', 'etcd']);
    expectExit(noFolder, 2);
    expect(noFolder.stderr).toMatch(/-i, --inventory/);
  });

  test('an unknown step names the known ones', async () => {
    const r = await furrow(['deploy', 'bogus', '-i', dir]);
    expectExit(r, 2);
    expect(r.stderr).toMatch(/unknown deploy step 'bogus'[\s\S]*01 prepare, 02 etcd/);
  });
});
