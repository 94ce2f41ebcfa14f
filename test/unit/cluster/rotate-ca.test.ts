import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chooseCas, rolledOut, rotateClusterCas } from '../../../src/cluster/rotate-ca.js';
import { ensureAuthorities } from '../../../src/pki/index.js';

describe('certs rotate-ca', () => {
  test('--ca names the CAs as a user knows them; none means all three; an unknown one is refused', () => {
    expect(chooseCas(undefined)).toEqual(['etcd/ca', 'ca', 'front-proxy-ca']);
    expect(chooseCas(['front-proxy', 'etcd'])).toEqual(['etcd/ca', 'front-proxy-ca']);
    expect(() => chooseCas(['kubelet'])).toThrow("--ca: no CA named 'kubelet'");
  });

  test('a workload is rolled out when every pod runs its current template and is available', () => {
    const meta = { name: 'w', namespace: 'n', generation: 2 };
    const done = { observedGeneration: 2, replicas: 3, updatedReplicas: 3, availableReplicas: 3 };
    expect(rolledOut('Deployment', { metadata: meta, spec: { replicas: 3 }, status: done })).toBe(true);
    // Not yet seen by the controller, old pods still there, or new ones not available.
    expect(
      rolledOut('Deployment', { metadata: meta, spec: { replicas: 3 }, status: { ...done, observedGeneration: 1 } }),
    ).toBe(false);
    expect(rolledOut('Deployment', { metadata: meta, spec: { replicas: 3 }, status: { ...done, replicas: 4 } })).toBe(
      false,
    );
    expect(
      rolledOut('Deployment', { metadata: meta, spec: { replicas: 3 }, status: { ...done, availableReplicas: 2 } }),
    ).toBe(false);
    const ds = { observedGeneration: 2, desiredNumberScheduled: 3, updatedNumberScheduled: 3, numberAvailable: 3 };
    expect(rolledOut('DaemonSet', { metadata: meta, status: ds })).toBe(true);
    expect(rolledOut('DaemonSet', { metadata: meta, status: { ...ds, updatedNumberScheduled: 2 } })).toBe(false);
    const sts = {
      observedGeneration: 2,
      readyReplicas: 1,
      updatedReplicas: 1,
      currentRevision: 'a',
      updateRevision: 'a',
    };
    expect(rolledOut('StatefulSet', { metadata: meta, spec: { replicas: 1 }, status: sts })).toBe(true);
    expect(
      rolledOut('StatefulSet', { metadata: meta, spec: { replicas: 1 }, status: { ...sts, updateRevision: 'b' } }),
    ).toBe(false);
  });

  describe('on a cluster folder', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'furrow-rotate-ca-'));
    const said: string[] = [];
    const deploys: string[] = [];
    const deployStep = async (step: string) => {
      deploys.push(step);
      return 0;
    };
    beforeAll(async () => {
      writeFileSync(path.join(dir, 'hosts'), '[etcd]\n10.0.0.1\n');
      await ensureAuthorities(path.join(dir, 'pki'));
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));
    const pkiFiles = () => readdirSync(path.join(dir, 'pki'), { recursive: true, encoding: 'utf8' }).sort();

    test('flags that leave hosts or tasks out are refused before anything changes', async () => {
      const before = pkiFiles();
      await expect(rotateClusterCas({ inventory: dir, limit: 'h1', tags: ['x'] }, deployStep)).rejects.toThrow(
        'certs rotate-ca: --limit, --tags would leave hosts or tasks out of a phase',
      );
      expect(pkiFiles()).toEqual(before);
      expect(deploys).toEqual([]);
    });

    test('--check says what each phase would do and changes nothing', async () => {
      const before = pkiFiles();
      const code = await rotateClusterCas({ inventory: dir, ca: ['etcd'], check: true }, deployStep, (l) =>
        said.push(l),
      );
      expect(code).toBe(0);
      expect(said).toEqual([
        'would rotate etcd/ca',
        'would run phase trust: every host trusts the old and the new CA; then deploy all',
        'would run phase reissue: the new CA signs: every leaf re-issued with a new key and rolled out host by host; ' +
          'then deploy all',
        'would run phase drop: the old CA is dropped: the hosts trust the new one alone; then deploy all',
      ]);
      expect(pkiFiles()).toEqual(before);
      expect(deploys).toEqual([]);
    });

    test('a failed rollout stops in its phase; run again, it resumes there and ends', async () => {
      said.length = 0;
      let fail = true;
      const flaky = async (step: string) => {
        deploys.push(step);
        return fail ? 1 : 0;
      };
      expect(await rotateClusterCas({ inventory: dir, ca: ['etcd'] }, flaky, (l) => said.push(l))).toBe(1);
      expect(said.at(-1)).toBe('phase trust: deploy all failed; run certs rotate-ca again to resume from this phase');
      expect(pkiFiles()).toContain(path.join('etcd', 'ca.trust.crt'));
      // Another CA cannot start while this one is under way.
      await expect(rotateClusterCas({ inventory: dir, ca: ['cluster'] }, flaky)).rejects.toThrow(
        'a rotation of etcd/ca is under way (phase trust)',
      );
      fail = false;
      deploys.length = 0;
      expect(await rotateClusterCas({ inventory: dir }, flaky, (l) => said.push(l))).toBe(0);
      expect(said.some((l) => l.startsWith('resuming the rotation of etcd/ca, phase trust (started '))).toBe(true);
      expect(deploys).toEqual(['all', 'all', 'all']);
      expect(pkiFiles().filter((f) => /trust|next|rotation/.test(f))).toEqual([]);
    });
  });
});
