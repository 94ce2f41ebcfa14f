import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadCluster } from '../../../src/cluster/cluster.js';
import { hostVars, loadInventory } from '../../../src/engine/inventory/index.js';
import { loadPlaybook } from '../../../src/engine/playbook/index.js';
import { parseExtraVars } from '../../../src/engine/vars.js';
import { fakeRegistry } from '../playbook/fake-modules.js';

/**
 * One YAML dialect (src/engine/yaml.ts, docs/playbooks.md "YAML") in all four readers: the same
 * text gives the same value in an inventory, a playbook, a cluster's config.yml and `-e @file`.
 */
const QUIRKS: [string, string, unknown][] = [
  ['octal, as in YAML 1.1', 'mode: 0755', 493],
  ['yes is true', 'flag: yes', true],
  ['On is true', 'flag: On', true],
  ['off is false', 'flag: off', false],
  ['y stays a string (as in PyYAML)', 'flag: y', 'y'],
  ['22:22 stays a string (not base 60)', 'ports: 22:22', '22:22'],
  ['a date stays a string', 'day: 2024-01-31', '2024-01-31'],
  ['1.10 is a number', 'version: 1.10', 1.1],
  ['<< merges an anchor', 'base: &b {a: 1}\nmerged: {<<: *b, c: 2}', { a: 1, c: 2 }],
];

const dir = mkdtempSync(path.join(os.tmpdir(), 'furrow-yaml-dialect-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Indents every line of `text` by `n` spaces. */
const indent = (text: string, n: number) =>
  text
    .split('\n')
    .map((l) => ' '.repeat(n) + l)
    .join('\n');
/** The value of the last key of the quirk's text. */
const lastKey = (text: string) => /(\w+):[^\n]*$/.exec(text)![1]!;

const READERS: Record<string, (name: string, text: string) => Promise<Record<string, unknown>>> = {
  async inventory(name, text) {
    const file = path.join(dir, `${name}-inventory.yml`);
    writeFileSync(file, `all:\n  hosts:\n    h1:\n${indent(text, 6)}\n`);
    return hostVars(await loadInventory(file), 'h1');
  },
  async playbook(name, text) {
    const file = path.join(dir, `${name}-site.yml`);
    writeFileSync(file, `- hosts: all\n  vars:\n${indent(text, 4)}\n  tasks: []\n`);
    return (await loadPlaybook(file, fakeRegistry)).plays[0]!.vars;
  },
  async 'config.yml'(name, text) {
    const folder = path.join(dir, `${name}-cluster`);
    mkdirSync(folder, { recursive: true });
    writeFileSync(path.join(folder, 'hosts'), '[etcd]\n');
    writeFileSync(path.join(folder, 'config.yml'), `${text}\n`);
    return loadCluster(folder).config;
  },
  async '-e @file'(name, text) {
    const file = path.join(dir, `${name}-extra.yml`);
    writeFileSync(file, `${text}\n`);
    return parseExtraVars([`@${file}`], dir);
  },
};

describe.each(Object.keys(READERS))('the %s reader', (reader) => {
  test.each(QUIRKS)('%s', async (what, text, expected) => {
    const name = what.replace(/\W+/g, '-');
    const vars = await READERS[reader]!(name, text);
    expect(vars[lastKey(text)]).toEqual(expected);
  });
});
