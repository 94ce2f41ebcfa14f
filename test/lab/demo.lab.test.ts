import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describeLab, expectExit, furrow, labTestName, recap } from './support.js';

/**
 * The README's first command, `npm run demo` (`furrow demo`), as a user runs it: it must end in a
 * Kubernetes cluster whose nodes kubectl shows Ready, say what it does at each stage, and tell
 * how to go on and how to take it down. Run again on the same lab, it changes nothing.
 * The lab is named for the test (--name), so it never touches a user's `default` lab.
 */
const NAME = labTestName('t-demo');
const HOSTS = ['h1', 'h2', 'h3'];

describeLab('furrow demo: a Kubernetes cluster on a 3-host lab, in one command', () => {
  const cwd = mkdtempSync(path.join(os.tmpdir(), 'furrow-demo-lab-'));
  let labStarted = false;

  afterAll(async () => {
    if (labStarted) await furrow(['lab', 'down', '--name', NAME], { cwd });
    rmSync(cwd, { recursive: true, force: true });
  }, 120_000);

  /** The NAME STATUS ROLES ... rows of `kubectl get nodes -o wide` in the demo's output. */
  const nodeRows = (stdout: string) => [...stdout.matchAll(/^(h\d)\s+(\S+)\s+(\S+)\s+\S+\s+(v[\d.]+)\s+(\S+)/gm)].map((m) => ({ name: m[1], status: m[2], role: m[3], version: m[4] }));

  test('the first run boots the lab, deploys every step and shows 3 nodes Ready', async () => {
    labStarted = true;
    const r = await furrow(['demo', '--name', NAME], { cwd, timeoutMs: 2_400_000 });
    expectExit(r, 0);
    // Each stage says what it is, in order.
    const stages = [...r.stderr.matchAll(/^demo: ([1-5])\/5 /gm)].map((m) => m[1]);
    expect(stages).toEqual(['1', '2', '3', '4', '5']);
    expect(r.stderr).toMatch(/demo: 2\/5 Kubernetes v1\.20\.2 binaries: (cached on this machine|not built on this machine yet; building them once .* takes about 5 minutes)/);
    expect(existsSync(path.join(cwd, 'clusters', 'demo', 'kubeconfig'))).toBe(true);
    expect(Object.keys(recap(r.stdout)).sort()).toEqual(HOSTS);
    expect(r.stdout).toContain('$ kubectl get nodes -o wide');
    expect(nodeRows(r.stdout)).toEqual([
      { name: 'h1', status: 'Ready', role: 'master', version: 'v1.20.2' },
      { name: 'h2', status: 'Ready', role: 'node', version: 'v1.20.2' },
      { name: 'h3', status: 'Ready', role: 'node', version: 'v1.20.2' },
    ]);
    expect(r.stdout).toContain('$ kubectl get pods -A -o wide');
    // How to go on, and how to take it down, naming this lab.
    expect(r.stdout).toContain('npx furrow deploy all -i clusters/demo');
    expect(r.stdout).toContain(`npx furrow lab down --name ${NAME}`);
  }, 2_700_000);

  test('a second run keeps the lab and the folder, and its deploy all changes nothing', async () => {
    const r = await furrow(['demo', '--name', NAME], { cwd, timeoutMs: 900_000 });
    expectExit(r, 0);
    expect(r.stderr).toContain(`demo: 1/5 the lab '${NAME}' is up already (3 hosts) and clusters/demo is its cluster: both kept`);
    const counts = recap(r.stdout);
    expect(Object.fromEntries(HOSTS.map((h) => [h, counts[h]?.changed]))).toEqual({ h1: 0, h2: 0, h3: 0 });
    expect(nodeRows(r.stdout).map((n) => n.status)).toEqual(['Ready', 'Ready', 'Ready']);
  }, 900_000);
});
