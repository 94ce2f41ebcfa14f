import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { renderRoleTemplate } from '../../support/role-render.js';

/**
 * The add-on manifests of step 07 (roles/addons/templates), rendered with the role's defaults as a
 * deploy renders them, for Kubernetes 1.20 (what the lab runs) and for the bundle's default
 * version: every document parses and names its apiVersion, kind and name (and its namespace when
 * the kind has one); every API version exists in that Kubernetes version; the images are exactly
 * the bundle manifest's add-on images at the cluster's versions. Whether the apiserver accepts the
 * objects is test/lab/addons.lab.test's (on 1.20, the lab's binaries).
 */
const manifest = YAML.parse(readFileSync(path.resolve('bundle/manifest.yml'), 'utf8')) as {
  versions: Record<string, string>;
  images: string[];
};
const bundleDefault = String(manifest.versions.kubernetes);
const VERSIONS = ['1.20.2', bundleDefault];
const TEMPLATES = readdirSync(path.resolve('roles/addons/templates'))
  .filter((f) => f.endsWith('.yaml.hbs'))
  .sort();
const HOST = { name: 'm1', groups: { kube_master: ['m1'], kube_node: ['m1', 'n1'], all: ['m1', 'n1'] } };

/** The bundle's images at its versions ({{versions.x}} filled in), as `furrow bundle build` names them. */
const bundleImages = manifest.images.map((image) =>
  image.replace(/\{\{\s*versions\.(\w+)\s*\}\}/g, (_, key: string) => String(manifest.versions[key])),
);
/** The bundle's images that other steps run: the sandbox (03) and flannel (06). */
const NOT_ADDONS = [/\/pause:/, /\/flannel\/flannel(-cni-plugin)?:/];

interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; annotations?: Record<string, string> };
  [key: string]: unknown;
}

function render(template: string, version: string, settings: Record<string, unknown> = {}): KubeObject[] {
  const text = renderRoleTemplate(
    'addons',
    template,
    { versions: { ...manifest.versions, kubernetes: version }, ...settings },
    HOST,
  );
  const docs = YAML.parseAllDocuments(text);
  for (const doc of docs)
    expect({ template, errors: doc.errors.map((e) => e.message) }).toEqual({ template, errors: [] });
  return docs.map((d) => d.toJS() as KubeObject | null).filter((o): o is KubeObject => o !== null);
}

function find(objects: KubeObject[], kind: string, name: string): KubeObject {
  const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
  if (!found)
    throw new Error(`no ${kind} ${name} among ${objects.map((o) => `${o.kind}/${o.metadata.name}`).join(', ')}`);
  return found;
}

/** Every container of a workload (Deployment, DaemonSet, Job): its pod template's containers and init containers. */
function containers(o: KubeObject): Array<{ name: string; image: string; args?: string[] }> {
  const spec = (o.spec as { template?: { spec?: { containers?: []; initContainers?: [] } } } | undefined)?.template
    ?.spec;
  return [...(spec?.containers ?? []), ...(spec?.initContainers ?? [])];
}

/**
 * The API versions the manifests may use, with the Kubernetes minor versions that serve them
 * (from the Kubernetes deprecated-API migration guide). A kind that is not here fails the test:
 * add it with its range, never a guess.
 */
const SERVED: Record<string, { from: number; until?: number }> = {
  'v1 Namespace': { from: 0 },
  'v1 ServiceAccount': { from: 0 },
  'v1 Service': { from: 0 },
  'v1 ConfigMap': { from: 0 },
  'v1 Secret': { from: 0 },
  'apps/v1 Deployment': { from: 9 },
  'apps/v1 DaemonSet': { from: 9 },
  'batch/v1 Job': { from: 0 },
  'rbac.authorization.k8s.io/v1 ClusterRole': { from: 8 },
  'rbac.authorization.k8s.io/v1 ClusterRoleBinding': { from: 8 },
  'rbac.authorization.k8s.io/v1 Role': { from: 8 },
  'rbac.authorization.k8s.io/v1 RoleBinding': { from: 8 },
  'apiregistration.k8s.io/v1 APIService': { from: 10 },
  'networking.k8s.io/v1 IngressClass': { from: 19 },
  'admissionregistration.k8s.io/v1 ValidatingWebhookConfiguration': { from: 16 },
  // Not used, listed so that nobody adds them back for 1.20..1.31: gone in 1.25, and from 1.21 only.
  'policy/v1beta1 PodDisruptionBudget': { from: 5, until: 24 },
  'policy/v1 PodDisruptionBudget': { from: 21 },
};
const CLUSTER_SCOPED = new Set([
  'Namespace',
  'ClusterRole',
  'ClusterRoleBinding',
  'APIService',
  'IngressClass',
  'ValidatingWebhookConfiguration',
]);
/** Everything optional on: every object and image a template can produce. */
const ALL_ON = {
  metrics_server_kubelet_insecure_tls: true,
  ingress_nginx_admission_webhook: true,
  ingress_nginx_default_class: true,
};

describe.each(VERSIONS)('Kubernetes %s', (version) => {
  const minor = Number(version.split('.')[1]);

  test(
    "the role's manifests: one per add-on, and metrics-server's APIService apart (applied by " +
      'kubectl before 1.20.6)',
    () => {
      expect(TEMPLATES).toEqual([
        'coredns.yaml.hbs',
        'dashboard.yaml.hbs',
        'ingress-nginx.yaml.hbs',
        'metrics-server-apiservice.yaml.hbs',
        'metrics-server.yaml.hbs',
      ]);
    },
  );

  test.each(TEMPLATES)(
    '%s: every document parses, names its apiVersion, kind, name and namespace, in an API this version serves',
    (template) => {
      const objects = render(template, version, ALL_ON);
      expect(objects.length).toBeGreaterThan(0);
      for (const o of objects) {
        const what = `${template}: ${o.kind}/${o.metadata?.name}`;
        expect({ what, apiVersion: typeof o.apiVersion, kind: typeof o.kind, name: typeof o.metadata?.name }).toEqual({
          what,
          apiVersion: 'string',
          kind: 'string',
          name: 'string',
        });
        expect({ what, namespaced: o.metadata.namespace !== undefined }).toEqual({
          what,
          namespaced: !CLUSTER_SCOPED.has(o.kind),
        });
        const served = SERVED[`${o.apiVersion} ${o.kind}`];
        expect({ what, apiVersion: o.apiVersion, known: served !== undefined }).toEqual({
          what,
          apiVersion: o.apiVersion,
          known: true,
        });
        expect({
          what,
          apiVersion: o.apiVersion,
          served: minor >= served!.from && (served!.until === undefined || minor <= served!.until),
        }).toEqual({ what, apiVersion: o.apiVersion, served: true });
      }
      // Every Service port and container port names its protocol: an apiserver before 1.20.6 has no
      // default for it in server-side apply and refuses the object ("omits key field protocol").
      for (const o of objects) {
        const ports =
          o.kind === 'Service'
            ? (o.spec as { ports: Array<Record<string, unknown>> }).ports
            : containers(o).flatMap((c) => (c as { ports?: Array<Record<string, unknown>> }).ports ?? []);
        for (const port of ports)
          expect({ what: `${template}: ${o.kind}/${o.metadata.name}`, port, protocol: typeof port.protocol }).toEqual({
            what: `${template}: ${o.kind}/${o.metadata.name}`,
            port,
            protocol: 'string',
          });
      }
      // No object twice: a second one would silently win over the first.
      const keys = objects.map((o) => `${o.kind} ${o.metadata.namespace ?? ''} ${o.metadata.name}`);
      expect(keys.filter((k, i) => keys.indexOf(k) !== i)).toEqual([]);
    },
  );

  test("the images are exactly the bundle manifest's add-on images, at the cluster's versions", () => {
    const used = new Set(
      TEMPLATES.flatMap((t) => render(t, version, ALL_ON).flatMap((o) => containers(o).map((c) => c.image))),
    );
    const addonImages = bundleImages.filter((image) => !NOT_ADDONS.some((re) => re.test(image)));
    expect([...used].sort()).toEqual([...addonImages].sort());
    expect(addonImages).toContain(`registry.k8s.io/coredns/coredns:v${manifest.versions.coredns}`);
  });

  test('CoreDNS: the Service kube-dns at the 2nd address of SERVICE_CIDR, the Corefile for CLUSTER_DNS_DOMAIN', () => {
    const objects = render('coredns.yaml.hbs', version);
    expect(objects.map((o) => `${o.kind}/${o.metadata.name}`)).toEqual([
      'ServiceAccount/coredns',
      'ClusterRole/system:coredns',
      'ClusterRoleBinding/system:coredns',
      'ConfigMap/coredns',
      'Deployment/coredns',
      'Service/kube-dns',
    ]);
    expect((find(objects, 'Service', 'kube-dns').spec as { clusterIP: string }).clusterIP).toBe('10.68.0.2');
    const rules = (
      find(objects, 'ClusterRole', 'system:coredns') as unknown as { rules: Array<{ resources: string[] }> }
    ).rules;
    expect(rules.flatMap((r) => r.resources).sort()).toEqual([
      'endpoints',
      'endpointslices',
      'namespaces',
      'pods',
      'services',
    ]);
    const corefile = (find(objects, 'ConfigMap', 'coredns').data as { Corefile: string }).Corefile;
    for (const line of [
      'kubernetes cluster.local in-addr.arpa ip6.arpa {',
      'forward . /etc/resolv.conf {',
      'cache 30',
      'loop',
      'reload',
      'ready',
      'health {',
    ]) {
      expect(corefile.split('\n').map((l) => l.trim())).toContain(line);
    }
    const changed = render('coredns.yaml.hbs', version, {
      SERVICE_CIDR: '10.96.0.0/12',
      CLUSTER_DNS_DOMAIN: 'k8s.example',
      coredns_replicas: 2,
      coredns_forward: '192.0.2.53',
    });
    expect((find(changed, 'Service', 'kube-dns').spec as { clusterIP: string }).clusterIP).toBe('10.96.0.2');
    expect((find(changed, 'Deployment', 'coredns').spec as { replicas: number }).replicas).toBe(2);
    const changedCorefile = (find(changed, 'ConfigMap', 'coredns').data as { Corefile: string }).Corefile;
    expect(changedCorefile).toContain('kubernetes k8s.example in-addr.arpa ip6.arpa {');
    expect(changedCorefile).toContain('forward . 192.0.2.53 {');
  });

  test(
    'metrics-server: the aggregated API, its readers, kubelets asked at their InternalIP and verified ' +
      'unless told not to',
    () => {
      const objects = render('metrics-server.yaml.hbs', version);
      const api = find(render('metrics-server-apiservice.yaml.hbs', version), 'APIService', 'v1beta1.metrics.k8s.io')
        .spec as {
        group: string;
        version: string;
        service: { name: string; namespace: string };
      };
      expect(api).toMatchObject({
        group: 'metrics.k8s.io',
        version: 'v1beta1',
        service: { name: 'metrics-server', namespace: 'kube-system' },
      });
      expect(find(objects, 'ClusterRole', 'system:aggregated-metrics-reader').metadata).toMatchObject({
        name: 'system:aggregated-metrics-reader',
      });
      const args = containers(find(objects, 'Deployment', 'metrics-server'))[0]!.args!;
      expect(args).toContain('--kubelet-preferred-address-types=InternalIP,ExternalIP,Hostname');
      expect(args).not.toContain('--kubelet-insecure-tls');
      expect(
        containers(
          find(
            render('metrics-server.yaml.hbs', version, { metrics_server_kubelet_insecure_tls: true }),
            'Deployment',
            'metrics-server',
          ),
        )[0]!.args,
      ).toContain('--kubelet-insecure-tls');
    },
  );

  test(
    'dashboard: its namespace, an admin ServiceAccount bound to cluster-admin, a token Secret asked for ' +
      'from 1.24 on only',
    () => {
      const objects = render('dashboard.yaml.hbs', version);
      expect(objects[0]).toMatchObject({ kind: 'Namespace', metadata: { name: 'kubernetes-dashboard' } });
      expect(
        objects
          .filter((o) => o.kind !== 'Namespace' && !CLUSTER_SCOPED.has(o.kind))
          .every((o) => o.metadata.namespace === 'kubernetes-dashboard'),
      ).toBe(true);
      expect(find(objects, 'ServiceAccount', 'admin-user').metadata.namespace).toBe('kubernetes-dashboard');
      expect(find(objects, 'ClusterRoleBinding', 'kubernetes-dashboard-admin-user')).toMatchObject({
        roleRef: { kind: 'ClusterRole', name: 'cluster-admin' },
        subjects: [{ kind: 'ServiceAccount', name: 'admin-user', namespace: 'kubernetes-dashboard' }],
      });
      const tokenSecrets = objects.filter(
        (o) => o.kind === 'Secret' && o.type === 'kubernetes.io/service-account-token',
      );
      if (minor >= 24) {
        expect(tokenSecrets).toEqual([
          expect.objectContaining({
            metadata: expect.objectContaining({
              name: 'admin-user',
              annotations: { 'kubernetes.io/service-account.name': 'admin-user' },
            }),
          }),
        ]);
      } else {
        expect(tokenSecrets).toEqual([]);
      }
      // The Secrets the dashboard writes itself carry no data here, so a re-run never resets them.
      for (const name of ['kubernetes-dashboard-certs', 'kubernetes-dashboard-csrf', 'kubernetes-dashboard-key-holder'])
        expect(find(objects, 'Secret', name).data).toBeUndefined();
      expect((find(objects, 'Service', 'kubernetes-dashboard').spec as { type: string }).type).toBe('NodePort');
    },
  );

  test(
    'ingress-nginx: a controller per labelled node on the host network, its IngressClass, the webhook ' +
      'only when asked for',
    () => {
      const objects = render('ingress-nginx.yaml.hbs', version);
      const controller = find(objects, 'DaemonSet', 'ingress-nginx-controller');
      const pod = (
        controller.spec as { template: { spec: { hostNetwork: boolean; nodeSelector: Record<string, string> } } }
      ).template.spec;
      expect(pod.hostNetwork).toBe(true);
      expect(pod.nodeSelector).toEqual({ 'kubernetes.io/os': 'linux', 'ingress-controller/provider': 'ingress-nginx' });
      expect(find(objects, 'IngressClass', 'nginx')).toMatchObject({ spec: { controller: 'k8s.io/ingress-nginx' } });
      expect(find(objects, 'IngressClass', 'nginx').metadata.annotations).toBeUndefined();
      expect(find(objects, 'ValidatingWebhookConfiguration', 'ingress-nginx-admission')).toBeDefined();
      expect(containers(controller)[0]!.args).toContain('--validating-webhook=:8443');
      expect(containers(controller)[0]!.args).toContain('--ingress-class=nginx');

      const plain = render('ingress-nginx.yaml.hbs', version, {
        ingress_nginx_admission_webhook: false,
        ingress_nginx_default_class: true,
        ingress_nginx_node_label: { 'node-role/ingress': 'yes' },
      });
      expect(plain.filter((o) => /admission/.test(o.metadata.name)).map((o) => o.kind)).toEqual([]);
      expect(plain.filter((o) => o.kind === 'Job')).toEqual([]);
      const plainController = find(plain, 'DaemonSet', 'ingress-nginx-controller');
      expect(containers(plainController)[0]!.args!.filter((a) => a.startsWith('--validating-webhook'))).toEqual([]);
      expect(
        (plainController.spec as { template: { spec: { volumes?: unknown } } }).template.spec.volumes,
      ).toBeUndefined();
      expect(
        (plainController.spec as { template: { spec: { nodeSelector: Record<string, string> } } }).template.spec
          .nodeSelector,
      ).toEqual({
        'kubernetes.io/os': 'linux',
        'node-role/ingress': 'yes',
      });
      expect(find(plain, 'IngressClass', 'nginx').metadata.annotations).toEqual({
        'ingressclass.kubernetes.io/is-default-class': 'true',
      });
    },
  );
});
