import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chooseCas, type ListedPod, replaceablePods, rotateClusterCas } from '../../../src/cluster/rotate-ca.js';
import { ensureAuthorities } from '../../../src/pki/index.js';

describe('certs rotate-ca', () => {
  test('--ca names the CAs as a user knows them; none means all three; an unknown one is refused', () => {
    expect(chooseCas(undefined)).toEqual(['etcd/ca', 'ca', 'front-proxy-ca']);
    expect(chooseCas(['front-proxy', 'etcd'])).toEqual(['etcd/ca', 'front-proxy-ca']);
    expect(() => chooseCas(['kubelet'])).toThrow("--ca: no CA named 'kubelet'");
  });

  test(
    "the pods replaced are grouped by the controller that puts them back; bare pods and Jobs' pods are named, " +
      'static and finished pods left alone',
    () => {
      const pod = (
        name: string,
        owner?: { kind: string; name: string; uid: string },
        extra: object = {},
      ): ListedPod => ({
        metadata: {
          name,
          namespace: 'ns',
          uid: `uid-${name}`,
          ...(owner ? { ownerReferences: [{ ...owner, controller: true }] } : {}),
        },
        status: { phase: 'Running' },
        ...extra,
      });
      const rs = { kind: 'ReplicaSet', name: 'web-1', uid: 'rs1' };
      const ds = { kind: 'DaemonSet', name: 'proxy', uid: 'ds1' };
      const { groups, left } = replaceablePods([
        pod('web-a', rs),
        pod('proxy-a', ds),
        pod('web-b', rs),
        pod('bare'),
        pod('job-a', { kind: 'Job', name: 'once', uid: 'j1' }),
        pod('done', rs, { status: { phase: 'Succeeded' } }),
        {
          ...pod('static', { kind: 'Node', name: 'h1', uid: 'n1' }),
          metadata: { ...pod('static').metadata, annotations: { 'kubernetes.io/config.mirror': 'x' } },
        },
      ]);
      expect(groups.map((g) => [g.owner, g.pods.map((p) => p.metadata.name)])).toEqual([
        ['ReplicaSet ns/web-1', ['web-a', 'web-b']],
        ['DaemonSet ns/proxy', ['proxy-a']],
      ]);
      expect(left).toEqual(['ns/bare', 'ns/job-a']);
    },
  );

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
        'would run phase trust: every host trusts the old and the new CA; then deploy etcd',
        'would run phase reissue: the new CA signs: every leaf re-issued with a new key and rolled out host by host; ' +
          'then deploy etcd',
        'would run phase drop: the old CA is dropped: the hosts trust the new one alone; then deploy etcd',
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
      expect(said.at(-1)).toBe('phase trust: deploy etcd failed; run certs rotate-ca again to resume from this phase');
      expect(pkiFiles()).toContain(path.join('etcd', 'ca.trust.crt'));
      // Another CA cannot start while this one is under way.
      await expect(rotateClusterCas({ inventory: dir, ca: ['cluster'] }, flaky)).rejects.toThrow(
        'a rotation of etcd/ca is under way (phase trust)',
      );
      fail = false;
      deploys.length = 0;
      expect(await rotateClusterCas({ inventory: dir }, flaky, (l) => said.push(l))).toBe(0);
      expect(said.some((l) => l.startsWith('resuming the rotation of etcd/ca, phase trust (started '))).toBe(true);
      expect(deploys).toEqual(['etcd', 'etcd', 'etcd']);
      expect(pkiFiles().filter((f) => /trust|next|rotation/.test(f))).toEqual([]);
    });
  });
});
