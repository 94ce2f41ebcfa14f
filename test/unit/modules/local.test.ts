import { assert } from '../../../src/modules/assert.js';
import { debug, lookupPath, NOT_DEFINED } from '../../../src/modules/debug.js';
import { set_fact } from '../../../src/modules/set_fact.js';
import { moduleContext, runModule } from '../../support/modules.js';
import { localConnection } from './support/hosts.js';

const vars = {
  port: 6443,
  name: 'kube',
  list: [1, 2, 3],
  result: { rc: 0, stdout_lines: ['a', 'b'] },
  hostvars: { h1: { ip: '10.0.0.1' } },
};
const ctx = (check = false) => moduleContext(localConnection(), { vars, check });

describe('set_fact', () => {
  test('returns the facts (cacheable ignored); not a change', async () => {
    const run = await runModule(set_fact, ctx(), { a: 1, b: { c: [true] }, cacheable: true });
    expect(run.changed).toBe(false);
    expect(run.plan).toEqual({ action: 'none', reason: 'sets a, b', data: { a: 1, b: { c: [true] } } });
    expect(run.result?.facts).toEqual({ a: 1, b: { c: [true] } });
  });

  test('a bad variable name is an input error', async () => {
    await expect(set_fact.plan(ctx(), { 'not-valid': 1 })).rejects.toThrow(
      "set_fact: 'not-valid' is not a valid variable name",
    );
    await expect(set_fact.plan(ctx(), { cacheable: true })).rejects.toThrow('set_fact: no variable given');
  });
});

describe('assert', () => {
  test('all conditions hold: success message, not a change', async () => {
    const run = await runModule(assert, ctx(), {
      that: ['port == 6443', 'name != "etcd"', 'size(list) == 3', 'result.rc == 0'],
      success_msg: 'fine',
    });
    expect(run).toMatchObject({ changed: false, result: { msg: 'fine', output: { msg: 'fine' } } });
    expect(run.result?.failed).toBeUndefined();
  });

  test('the first false condition fails the task with fail_msg', async () => {
    const run = await runModule(assert, ctx(), {
      that: ['port > 1024', 'name == "etcd"', 'undefined_var == 1'],
      fail_msg: 'wrong name',
    });
    expect(run.result).toEqual({
      failed: true,
      changed: false,
      msg: 'wrong name (name == "etcd" is false)',
      output: { assertion: 'name == "etcd"', evaluated_to: false, msg: 'wrong name' },
    });
  });

  test('one string condition, msg as the older fail_msg, quiet', async () => {
    expect((await runModule(assert, ctx(), { that: 'port < 10', msg: 'too big' })).result?.msg).toBe(
      'too big (port < 10 is false)',
    );
    expect((await runModule(assert, ctx(), { that: 'port > 10', quiet: true })).result?.msg).toBeUndefined();
  });

  test('a condition using an undefined variable is an error naming it', async () => {
    await expect(runModule(assert, ctx(), { that: 'nope == 1' })).rejects.toThrow(
      "assert: that[0]: condition 'nope == 1' uses undefined variable 'nope'",
    );
  });
});

describe('debug', () => {
  test('msg (default Hello world!) and var, with paths into it', async () => {
    expect((await runModule(debug, ctx(), { msg: 'port is 6443' })).result).toEqual({
      output: { msg: 'port is 6443' },
      msg: 'port is 6443',
      show: true,
      changed: false,
    });
    expect((await runModule(debug, ctx(), {})).result?.msg).toBe('Hello world!');
    expect((await runModule(debug, ctx(), { var: 'result.stdout_lines[1]' })).result).toEqual({
      output: { 'result.stdout_lines[1]': 'b' },
      msg: 'result.stdout_lines[1]: b',
      show: true,
      changed: false,
    });
    expect((await runModule(debug, ctx(), { var: 'list' })).result?.msg).toBe('list: [\n  1,\n  2,\n  3\n]');
    expect((await runModule(debug, ctx(), { var: 'missing.x' })).result?.output).toEqual({ 'missing.x': NOT_DEFINED });
  });

  test('paths', () => {
    expect(lookupPath(vars, "hostvars['h1'].ip")).toBe('10.0.0.1');
    expect(lookupPath(vars, 'hostvars["h1"]["ip"]')).toBe('10.0.0.1');
    expect(lookupPath(vars, 'list[5]')).toBeUndefined();
    expect(() => lookupPath(vars, 'a b')).toThrow("debug: var 'a b' is not a variable name or path");
  });
});
