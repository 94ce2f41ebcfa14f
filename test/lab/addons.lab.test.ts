import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { renderRoleTemplate } from '../support/role-render.js';
import { changedCounts, describeLab, expectExit, furrow, LabHosts, labTestName, recap } from './support.js';

/**
 * Step 07, the add-ons, on a real apiserver (the lab's Kubernetes v1.20.2), on the smallest lab
 * that runs it: one host that is etcd, master and node. `deploy all` with every switch on
 * (ingress_install too); then:
 * - every object of every add-on's manifest exists on the apiserver (created by this deploy on a
 *   new cluster, so accepted by it); all but one by Furrow's server-side apply, metrics-server's
 *   APIService by the k8s module's merge patch, as the role does on apiservers before 1.20.6;
 * - the workloads carry exactly the bundle manifest's images at the cluster's versions, and the
 *   Service kube-dns has CLUSTER_DNS_SVC_IP;
 * - the dashboard admin's token can be read with the command the step prints, and the step never
 *   prints the token;
 * - `deploy addons --check` before the control plane exists skips the add-ons and fails not;
 * - a second `deploy all` changes nothing;
 * - `--check --diff` with another CoreDNS replica count and cache time shows both changes and
 *   makes neither;
 * - turning every switch off removes every object, and a re-run then changes nothing.
 *
 * Not proven here: that the add-ons run. Their images (CoreDNS, metrics-server, dashboard,
 * ingress-nginx) cannot be fetched in the lab, so their pods are not expected to start, and the
 * lab's cluster config sets addons_wait: false. The objects, their images and versions are
 * checked instead. Kubernetes 1.31 is checked by test/unit/kube/addons.test.ts alone (rendering,
 * API versions, images).
 */
const NAME = labTestName('t-addons');
const KUBECTL = '/opt/kube/bin/kubectl --kubeconfig=/root/.kube/config --request-timeout=20s';
const TEMPLATES = [
  'coredns.yaml.hbs',
  'metrics-server.yaml.hbs',
  'metrics-server-apiservice.yaml.hbs',
  'dashboard.yaml.hbs',
  'ingress-nginx.yaml.hbs',
];
const SWITCHES = ['dns_install', 'metricsserver_install', 'dashboard_install', 'ingress_install'];

interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    annotations?: Record<string, string>;
    managedFields?: Array<{ manager: string; operation: string }>;
  };
  spec?: { template?: { spec?: { containers?: Array<{ image: string }> } }; clusterIP?: string; replicas?: number };
  data?: Record<string, string>;
}

/** kubectl's name for an object: kind.group/name (kind/name for the core group). */
function ref(o: KubeObject): string {
  const group = o.apiVersion.includes('/') ? o.apiVersion.split('/')[0] : '';
  return `${o.kind.toLowerCase()}${group ? `.${group}` : ''}/${o.metadata.name}`;
}

describeLab('step 07, the add-ons, on the lab apiserver (v1.20.2; 1 lab host)', () => {
  const cwd = mkdtempSync(path.join(os.tmpdir(), 'furrow-addons-lab-'));
  const cluster = path.join(cwd, 'clusters', 'lab');
  const configFile = path.join(cluster, 'config.yml');
  const labInventory = path.join(cwd, '.furrow', `lab-${NAME}`, 'inventory.yml');
  const hosts = new LabHosts();
  const on = hosts.on;
  const timings: Record<string, number> = {};
  let labStarted = false;

  /** The add-ons' objects as this cluster's deploy renders them (its config.yml, the lab's 1.20.2). */
  function manifestObjects(): Array<{ template: string; object: KubeObject }> {
    const manifest = YAML.parse(readFileSync(path.resolve('bundle/manifest.yml'), 'utf8')) as {
      versions: Record<string, string>;
    };
    const settings = {
      ...(YAML.parse(readFileSync(configFile, 'utf8')) as Record<string, unknown>),
      versions: { ...manifest.versions, kubernetes: '1.20.2' },
    };
    return TEMPLATES.flatMap((template) =>
      YAML.parseAllDocuments(
        renderRoleTemplate('addons', template, settings, {
          name: 'h1',
          groups: { kube_master: ['h1'], kube_node: ['h1'], all: ['h1'] },
        }),
      )
        .map((d) => d.toJS() as KubeObject | null)
        .filter((o): o is KubeObject => o !== null)
        .map((object) => ({ template, object })),
    );
  }

  /** Each object as the apiserver has it, or null when it does not exist. */
  async function live(objects: KubeObject[]): Promise<Array<KubeObject | null>> {
    return Promise.all(
      objects.map(async (o) => {
        const r = await hosts
          .get('h1')
          .exec(`${KUBECTL} get ${o.metadata.namespace ? `-n ${o.metadata.namespace} ` : ''}${ref(o)} -o json`);
        if (r.code !== 0 && /NotFound/.test(r.stderr.toString())) return null;
        if (r.code !== 0) throw new Error(`kubectl get ${ref(o)}: ${r.stderr.toString()}`);
        return JSON.parse(r.stdout.toString()) as KubeObject;
      }),
    );
  }

  /** Sets settings in the cluster's config.yml (its comments kept). */
  function setConfig(values: Record<string, unknown>): void {
    const doc = YAML.parseDocument(readFileSync(configFile, 'utf8'));
    for (const [key, value] of Object.entries(values)) doc.set(key, value);
    writeFileSync(configFile, doc.toString());
  }

  async function timed(label: string, args: string[]) {
    const started = Date.now();
    const r = await furrow(args, { cwd, timeoutMs: 1_500_000 });
    timings[label] = (Date.now() - started) / 1000;
    return r;
  }

  afterAll(async () => {
    process.stdout.write(`addons lab timings (s): ${JSON.stringify(timings)}\n`);
    await hosts.close();
    if (labStarted) await furrow(['lab', 'down', '--name', NAME], { cwd });
    rmSync(cwd, { recursive: true, force: true });
  }, 120_000);

  test('lab up (1 host), the lab bundle, new --from-lab with every add-on switched on', async () => {
    labStarted = true;
    expectExit(await furrow(['lab', 'up', '--hosts', '1', '--name', NAME], { cwd, timeoutMs: 600_000 }), 0);
    expectExit(await furrow(['lab', 'kubernetes'], { cwd, timeoutMs: 1_800_000 }), 0);
    expectExit(await furrow(['new', cluster, '--from-lab', NAME], { cwd, timeoutMs: 900_000 }), 0);
    // The lab's config says why the step does not wait for rollouts there.
    expect(readFileSync(configFile, 'utf8')).toMatch(/cannot be\n# fetched in the lab[\s\S]*\naddons_wait: false\n/);
    setConfig({ ingress_install: true });
    await hosts.connect(labInventory, ['h1'], cwd);
    // Before any control plane there is no API to dry-run against: --check plans no add-on and fails not.
    const check = await furrow(['deploy', 'addons', '-i', cluster, '--check'], { cwd, timeoutMs: 300_000 });
    expectExit(check, 0);
    // The console does not list skipped tasks: the five k8s tasks are neither ok, changed nor failed.
    expect(check.stdout).not.toMatch(/h1 \w+: (CoreDNS|metrics-server|The dashboard|ingress-nginx) \(/);
    expect(recap(check.stdout).h1).toMatchObject({ failed: 0 });
    expect(recap(check.stdout).h1!.skipped).toBeGreaterThanOrEqual(5);
  }, 2_700_000);

  test('deploy all: every object of every add-on accepted by the apiserver, with the bundle images; the token ' +
    'command works and the token is never printed', async () => {
    const r = await timed('deploy all (first)', ['deploy', 'all', '-i', cluster]);
    expectExit(r, 0);
    const objects = manifestObjects();
    expect(objects.length).toBeGreaterThan(40);
    const found = await live(objects.map((o) => o.object));
    // For the notes: who the apiserver says manages the first object (field managers).
    process.stdout.write(
      `addons lab: ${ref(objects[0]!.object)} managedFields: ` +
        `${JSON.stringify(found[0]?.metadata.managedFields ?? null)}\n`,
    );
    expect(objects.filter((_, i) => found[i] === null).map((o) => `${o.template}: ${ref(o.object)}`)).toEqual([]);
    for (const [i, { object }] of objects.entries()) {
      // Written by Furrow, none by kubectl (its client-side apply leaves this annotation): applied
      // server-side, except the APIService, a merge patch (apiservers before 1.20.6 cannot apply it).
      // kubectl get shows no managedFields here, so which of the two wrote an object is not seen.
      const annotations = found[i]!.metadata.annotations ?? {};
      expect({
        object: ref(object),
        byKubectl: 'kubectl.kubernetes.io/last-applied-configuration' in annotations,
      }).toEqual({ object: ref(object), byKubectl: false });
      // The workloads' images, as the apiserver keeps them, are the manifest's: the bundle's.
      const images = (o: KubeObject) => (o.spec?.template?.spec?.containers ?? []).map((c) => c.image);
      expect({ object: ref(object), images: images(found[i]!) }).toEqual({
        object: ref(object),
        images: images(object),
      });
    }
    // Six images, each one of the bundle manifest's images at the cluster's versions.
    const manifest = YAML.parse(readFileSync(path.resolve('bundle/manifest.yml'), 'utf8')) as {
      versions: Record<string, string>;
      images: string[];
    };
    const bundleImages = manifest.images.map((image) =>
      image.replace(/\{\{\s*versions\.(\w+)\s*\}\}/g, (_, key: string) => String(manifest.versions[key])),
    );
    const images = [...new Set(found.flatMap((o) => o!.spec?.template?.spec?.containers?.map((c) => c.image) ?? []))];
    expect(images.length).toBe(6);
    expect(images.filter((image) => !bundleImages.includes(image))).toEqual([]);
    expect(JSON.parse(await on('h1', `${KUBECTL} -n kube-system get service kube-dns -o json`)).spec.clusterIP).toBe(
      '10.68.0.2',
    );

    // On 1.20 the token controller made the admin's token Secret itself; the printed command reads it.
    const printed = /this prints it: (kubectl .*\| base64 -d)/.exec(r.stdout)?.[1];
    expect(printed).toBeDefined();
    const command = printed!.replaceAll(`kubectl --kubeconfig ${path.join(cluster, 'kubeconfig')}`, KUBECTL);
    const token = await on('h1', command);
    expect(token).toMatch(/^eyJ[\w-]+\.[\w-]+\.[\w-]+$/);
    expect(r.stdout.includes(token)).toBe(false);
    expect(r.stderr.includes(token)).toBe(false);
    expect(r.stdout).toContain('ingress-nginx runs on the nodes labelled ingress-controller/provider=ingress-nginx');
  }, 1_600_000);

  test('a second deploy all changes nothing', async () => {
    const r = await timed('deploy all (re-run)', ['deploy', 'all', '-i', cluster]);
    expectExit(r, 0);
    expect(r.stdout.split('\n').filter((l) => / changed: /.test(l))).toEqual([]);
    expect(changedCounts(r)).toEqual({ h1: 0 });
  }, 1_600_000);

  test('--check --diff with another CoreDNS replica count and cache time shows both and changes neither', async () => {
    const r = await furrow(
      [
        'deploy',
        'addons',
        '-i',
        cluster,
        '--check',
        '--diff',
        '-e',
        JSON.stringify({ coredns_replicas: 2, coredns_cache: 60 }),
      ],
      {
        cwd,
        timeoutMs: 600_000,
      },
    );
    expectExit(r, 0);
    expect(r.stdout).toMatch(/h1 addons \| changed: CoreDNS \(dns_install\)/);
    for (const line of ['-  replicas: 1', '+  replicas: 2', '-        cache 30', '+        cache 60'])
      expect(r.stdout.split('\n').map((l) => l.trim())).toContain(line.trim());
    expect(recap(r.stdout).h1!.changed).toBe(1);
    const deployment = JSON.parse(
      await on('h1', `${KUBECTL} -n kube-system get deployment coredns -o json`),
    ) as KubeObject;
    expect(deployment.spec!.replicas).toBe(1);
    const corefile = (
      JSON.parse(await on('h1', `${KUBECTL} -n kube-system get configmap coredns -o json`)) as KubeObject
    ).data!.Corefile!;
    expect(corefile).toContain('cache 30');
    expect(corefile).not.toContain('cache 60');
  }, 600_000);

  test('turning every switch off removes every object; a re-run then changes nothing', async () => {
    setConfig(Object.fromEntries(SWITCHES.map((s) => [s, false])));
    const r = await timed('deploy addons (all off)', ['deploy', 'addons', '-i', cluster]);
    expectExit(r, 0);
    expect(r.stdout).toMatch(/h1 addons \| changed: CoreDNS/);
    const objects = manifestObjects().map((o) => o.object);
    // A namespace goes once its content has gone: the objects in it may take a while.
    let left: string[] = [];
    for (let i = 0; i < 60; i++) {
      const found = await live(objects);
      left = objects.filter((_, j) => found[j] !== null).map(ref);
      if (left.length === 0) break;
      await new Promise((done) => setTimeout(done, 3000));
    }
    expect(left).toEqual([]);
    const again = await timed('deploy addons (all off, re-run)', ['deploy', 'addons', '-i', cluster]);
    expectExit(again, 0);
    expect(changedCounts(again)).toEqual({ h1: 0 });
  }, 900_000);
});
