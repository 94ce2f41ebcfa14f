import { writeFileSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { parseManifest, rolloutPending, shown, writeObject } from '../../../src/modules/k8s.js';
import { kubeCredentials } from '../../../src/modules/support/kube-api.js';
import { tempDir } from './support/hosts.js';

const tmp = tempDir('k8s');
afterAll(() => tmp.cleanup());

describe('k8s: the manifest', () => {
  test('documents become objects in order; empty documents are skipped; a List is its items', () => {
    const text = [
      'apiVersion: v1\nkind: Namespace\nmetadata: {name: a}',
      '',
      '# only a comment',
      'apiVersion: v1\nkind: List\nitems:\n  - {apiVersion: v1, kind: ConfigMap, metadata: {name: b, namespace: ' +
        'a}}\n  - {apiVersion: v1, kind: ServiceAccount, metadata: {name: c, namespace: a}}',
    ].join('\n---\n');
    expect(parseManifest(text, 'm.yaml').map((o) => `${o.kind}/${o.metadata.name}`)).toEqual([
      'Namespace/a',
      'ConfigMap/b',
      'ServiceAccount/c',
    ]);
  });

  test('an object without kind or name is an error naming the document and its line', () => {
    const text = 'apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\napiVersion: v1\nmetadata: {}\n';
    expect(() => parseManifest(text, 'coredns.yaml.hbs')).toThrow(
      'k8s: coredns.yaml.hbs, document 2 (line 5) has no kind, metadata.name',
    );
    expect(() => parseManifest('- a\n- b\n', 'x.yaml')).toThrow(
      'k8s: x.yaml, document 1 (line 1) is not a Kubernetes object (a mapping)',
    );
    expect(() => parseManifest('a: [\n', 'bad.yaml')).toThrow(
      /k8s: bad\.yaml, document 1 \(line 1\) is not valid YAML/,
    );
  });
});

describe('k8s: comparing what is there with what the apply would make', () => {
  const live = {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: {
      name: 'x',
      namespace: 'a',
      uid: 'u1',
      resourceVersion: '7',
      creationTimestamp: 'then',
      managedFields: [{ manager: 'furrow' }],
    },
    data: { k: 'v' },
    status: { whatever: 1 },
  };

  test('what the server keeps for itself does not count: a new resourceVersion is no change', () => {
    const again = {
      ...live,
      metadata: { ...live.metadata, resourceVersion: '8', managedFields: [] },
      status: { other: 2 },
    };
    expect(shown(again)).toBe(shown(live));
    expect(shown(live)).not.toMatch(/resourceVersion|managedFields|uid|status/);
    expect(shown({ ...live, data: { k: 'w' } })).not.toBe(shown(live));
  });

  test('a Secret is compared by its values but never shows them', () => {
    const secret = {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 's', namespace: 'a', uid: 'u2' },
      data: { token: Buffer.from('hunter2').toString('base64') },
    };
    const text = shown(secret);
    expect(text).not.toContain('hunter2');
    expect(text).not.toContain(secret.data.token);
    expect(YAML.parse(text).data).toEqual({ token: '(secret)' });
    const changed = shown({ ...secret, data: { token: Buffer.from('other').toString('base64') } });
    expect(changed).not.toBe(text);
    expect(changed).not.toContain('other');
  });
});

describe('k8s: rollout', () => {
  const deployment = (status: Record<string, number>, generation = 2) => ({
    kind: 'Deployment',
    metadata: { generation },
    spec: { replicas: 2 },
    status,
  });

  test(
    'a Deployment has rolled out when the controller saw the spec and every replica is ' + 'updated and available',
    () => {
      expect(
        rolloutPending(deployment({ observedGeneration: 2, replicas: 2, updatedReplicas: 2, availableReplicas: 2 })),
      ).toBeUndefined();
      expect(
        rolloutPending(deployment({ observedGeneration: 1, replicas: 2, updatedReplicas: 2, availableReplicas: 2 })),
      ).toBe('the controller has not seen the latest spec');
      expect(
        rolloutPending(deployment({ observedGeneration: 2, replicas: 3, updatedReplicas: 2, availableReplicas: 2 })),
      ).toBe('1 old replicas pending termination');
      expect(
        rolloutPending(deployment({ observedGeneration: 2, replicas: 2, updatedReplicas: 2, availableReplicas: 1 })),
      ).toBe('1 of 2 replicas available');
    },
  );

  test('a DaemonSet has rolled out when every scheduled pod is updated and available', () => {
    const ds = (status: Record<string, number>) => ({
      kind: 'DaemonSet',
      metadata: { generation: 1 },
      status: { observedGeneration: 1, ...status },
    });
    expect(
      rolloutPending(ds({ desiredNumberScheduled: 3, updatedNumberScheduled: 3, numberAvailable: 3 })),
    ).toBeUndefined();
    expect(rolloutPending(ds({ desiredNumberScheduled: 3, updatedNumberScheduled: 3, numberAvailable: 0 }))).toBe(
      '0 of 3 pods available',
    );
  });
});

describe('k8s: credentials', () => {
  const b64 = (s: string) => Buffer.from(s).toString('base64');

  test("the current context's server, CA and client certificate come from the kubeconfig", () => {
    const file = path.join(tmp.dir, 'kubeconfig');
    writeFileSync(
      file,
      YAML.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        'current-context': 'admin@lab',
        clusters: [
          { name: 'other', cluster: { server: 'https://10.0.0.9:6443', 'certificate-authority-data': b64('x') } },
          { name: 'lab', cluster: { server: 'https://10.1.1.1:6443', 'certificate-authority-data': b64('CA') } },
        ],
        users: [{ name: 'admin', user: { 'client-certificate-data': b64('CERT'), 'client-key-data': b64('KEY') } }],
        contexts: [{ name: 'admin@lab', context: { cluster: 'lab', user: 'admin' } }],
      }),
    );
    const c = kubeCredentials(file);
    expect([c.server, c.ca.toString(), c.cert.toString(), c.key.toString()]).toEqual([
      'https://10.1.1.1:6443',
      'CA',
      'CERT',
      'KEY',
    ]);
  });

  test('a missing kubeconfig or one without embedded data is an input error naming the file', () => {
    expect(() => kubeCredentials(path.join(tmp.dir, 'none'))).toThrow(/cannot read the kubeconfig: ENOENT/);
    const file = path.join(tmp.dir, 'by-path');
    writeFileSync(
      file,
      YAML.stringify({
        clusters: [{ name: 'c', cluster: { server: 'https://h:6443', 'certificate-authority': '/ca.crt' } }],
        users: [{ name: 'u', user: {} }],
        contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }],
        'current-context': 'x',
      }),
    );
    expect(() => kubeCredentials(file)).toThrow('the kubeconfig has no certificate-authority-data');
  });
});

describe('k8s: how present writes an object', () => {
  const obj = { apiVersion: 'apiregistration.k8s.io/v1', kind: 'APIService', metadata: { name: 'v1beta1.m.k8s.io' } };
  const where = '/apis/apiregistration.k8s.io/v1/apiservices/v1beta1.m.k8s.io';
  const requests = (apply: 'server' | 'merge', exists: boolean, dryRun: boolean) => {
    const asked: string[] = [];
    const api = {
      call: async (method: string, path: string, body?: unknown, type = 'application/json') => {
        asked.push(`${method} ${path} ${type} ${JSON.stringify(body)}`);
        return { status: 200, body: {} };
      },
    };
    void writeObject(api, where, obj, { apply, fieldManager: 'furrow' }, exists, dryRun);
    return asked;
  };
  const body = JSON.stringify(obj);

  test('server: a server-side apply that takes the fields over, whether or not the object is there', () => {
    const apply = `PATCH ${where}?fieldManager=furrow&force=true application/apply-patch+yaml ${body}`;
    expect(requests('server', false, false)).toEqual([apply]);
    expect(requests('server', true, false)).toEqual([apply]);
    expect(requests('server', true, true)).toEqual([
      `PATCH ${where}?fieldManager=furrow&dryRun=All&force=true application/apply-patch+yaml ${body}`,
    ]);
  });

  test('merge: a JSON merge patch of the object when it is there, else its create in the collection', () => {
    expect(requests('merge', true, false)).toEqual([
      `PATCH ${where}?fieldManager=furrow application/merge-patch+json ${body}`,
    ]);
    expect(requests('merge', true, true)).toEqual([
      `PATCH ${where}?fieldManager=furrow&dryRun=All application/merge-patch+json ${body}`,
    ]);
    expect(requests('merge', false, true)).toEqual([
      `POST /apis/apiregistration.k8s.io/v1/apiservices?fieldManager=furrow&dryRun=All application/json ${body}`,
    ]);
  });
});
