import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { cachedKubernetesBinDir } from '../../../src/lab/kubernetes.js';
import { execStartFlags, renderRoleTemplate } from '../../support/role-render.js';

/**
 * Every flag the roles put on a Kubernetes component's command line exists in that version of the
 * component: checked against the upstream flag lists in test/fixtures/k8s-flags/<minor>/ (each
 * file names its source) for 1.20 (what the lab runs) and for the bundle's default version, and
 * for 1.20 also against the real binaries' --help when they are on this machine.
 */
const FLAGS_DIR = path.resolve('test/fixtures/k8s-flags');
/** The lab's v1.20.2 binaries (`furrow lab kubernetes` fills the cache; .ci/run runs it first). */
const BIN_1_20 = process.env.FURROW_K8S_BIN ?? cachedKubernetesBinDir() ?? '(no cache: run furrow lab kubernetes)';
const bundleDefault = String(
  (YAML.parse(readFileSync(path.resolve('bundle/manifest.yml'), 'utf8')) as { versions: { kubernetes: string } })
    .versions.kubernetes,
);
const VERSIONS = ['1.20.2', bundleDefault];

const minor = (v: string) => v.split('.').slice(0, 2).join('.');

/** cAdvisor's global flags, which the kubelet binary lists and its reference page leaves out. */
const CADVISOR_FLAGS = new RegExp(
  '^(docker|storage-driver|containerd|event-storage|application-metrics|boot-id|container-hints|' +
    'enable-load-reader|global-housekeeping|log-cadvisor|machine-id)',
);
const minorNumber = (m: string) => Number(m.split('.')[1]);

function flagList(file: string): Set<string> {
  return new Set(
    readFileSync(file, 'utf8')
      .split('\n')
      .filter((l) => l && !l.startsWith('#')),
  );
}

/**
 * The reference lists a flag must be in for this version: the version's own, else the nearest
 * older and newer ones (a flag in both existed in every release between: flags are not removed
 * and then brought back).
 */
function references(component: string, version: string): Array<{ minor: string; flags: Set<string> }> {
  const available = readdirSync(FLAGS_DIR)
    .filter((m) => existsSync(path.join(FLAGS_DIR, m, `${component}.txt`)))
    .sort((a, b) => minorNumber(a) - minorNumber(b));
  const load = (m: string) => ({ minor: m, flags: flagList(path.join(FLAGS_DIR, m, `${component}.txt`)) });
  const want = minor(version);
  if (available.includes(want)) return [load(want)];
  const older = available.filter((m) => minorNumber(m) < minorNumber(want)).at(-1);
  const newer = available.find((m) => minorNumber(m) > minorNumber(want));
  if (!older || !newer)
    throw new Error(
      `no flag list for ${component} ${version}: add test/fixtures/k8s-flags/${want}/${component}.txt (have: ` +
        `${available.join(', ')})`,
    );
  return [load(older), load(newer)];
}

const GROUPS = { kube_master: ['m1'], kube_node: ['m1', 'n1'], all: ['m1', 'n1'] };

interface Rendered {
  component: string;
  what: string;
  unit: string;
}

/** The units of one version, in the variants the templates choose between. */
function renderUnits(version: string): Rendered[] {
  const base = { kube_version: version, ansible_host: '192.0.2.11' };
  const out: Rendered[] = [];
  const variants: Array<[string, Record<string, unknown>]> = [['containerd', {}]];
  if (minorNumber(minor(version)) < 24) variants.push(['docker (dockershim)', { CONTAINER_RUNTIME: 'docker' }]);
  for (const [what, settings] of variants) {
    out.push({
      component: 'kubelet',
      what,
      unit: renderRoleTemplate(
        'kube-node',
        'kubelet.service.hbs',
        { ...base, ...settings },
        { name: 'n1', groups: GROUPS },
      ),
    });
  }
  out.push({
    component: 'kube-proxy',
    what: 'default',
    unit: renderRoleTemplate('kube-node', 'kube-proxy.service.hbs', base, { name: 'n1', groups: GROUPS }),
  });
  // The control plane (step 04), with everything optional turned on. A version without a reference
  // list for a component fails in references(), it is not skipped.
  const master = {
    ...base,
    versions: { kubernetes: version },
    kube_apiserver_audit: true,
    kube_controller_manager_signing: true,
  };
  const masterHost = { name: 'm1', groups: { ...GROUPS, etcd: ['m1'] } };
  for (const component of ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler']) {
    out.push({
      component,
      what: 'all options on',
      unit: renderRoleTemplate('kube-master', `${component}.service.hbs`, master, masterHost),
    });
  }
  return out;
}

describe.each(VERSIONS)('Kubernetes %s', (version) => {
  test.each(renderUnits(version).map((r) => [`${r.component} (${r.what})`, r] as const))(
    '%s: every flag is in the reference list',
    (_name, r) => {
      const flags = execStartFlags(r.unit).map((f) => f.name);
      // A flag each unit must have, so an empty or cut command line cannot pass.
      const essential: Record<string, string> = {
        kubelet: 'kubeconfig',
        'kube-proxy': 'config',
        'kube-apiserver': 'etcd-servers',
        'kube-controller-manager': 'kubeconfig',
        'kube-scheduler': 'kubeconfig',
      };
      expect(flags).toContain(essential[r.component]);
      for (const ref of references(r.component, version)) {
        expect({ list: `${ref.minor}/${r.component}.txt`, unknown: flags.filter((f) => !ref.flags.has(f)) }).toEqual({
          list: `${ref.minor}/${r.component}.txt`,
          unknown: [],
        });
      }
    },
  );
});

test('the runtime flags follow the version: --container-runtime=remote up to 1.26, the config field from 1.27', () => {
  const vars = (v: string) => ({
    kube_version: v,
    ansible_host: '192.0.2.11',
    kube_node_resolv_conf: { stdout: '/etc/resolv.conf' },
  });
  const host = { name: 'n1', groups: GROUPS };
  const flagsOf = (v: string) =>
    execStartFlags(renderRoleTemplate('kube-node', 'kubelet.service.hbs', vars(v), host)).map(
      (f) => `${f.name}=${f.value}`,
    );
  const config = (v: string) =>
    YAML.parse(renderRoleTemplate('kube-node', 'kubelet-config.yaml.hbs', vars(v), host)) as Record<string, unknown>;
  for (const v of ['1.20.2', '1.26.15']) {
    expect(flagsOf(v)).toEqual(
      expect.arrayContaining([
        'container-runtime=remote',
        'container-runtime-endpoint=unix:///run/containerd/containerd.sock',
      ]),
    );
    expect(config(v).containerRuntimeEndpoint).toBeUndefined();
  }
  for (const v of ['1.27.0', bundleDefault]) {
    expect(flagsOf(v).filter((f) => f.startsWith('container-runtime'))).toEqual([]);
    expect(config(v).containerRuntimeEndpoint).toBe('unix:///run/containerd/containerd.sock');
  }
});

// The lists are the generated reference's; for 1.20 the real binaries say the same.
// CI (FURROW_LAB_REQUIRED=1) has built them: there a missing binary fails instead of skipping.
const haveBinaries = process.env.FURROW_LAB_REQUIRED === '1' || existsSync(path.join(BIN_1_20, 'kubelet'));
(haveBinaries ? describe : describe.skip)(`the real v1.20.2 binaries in ${BIN_1_20}`, () => {
  const help = (component: string) =>
    new Set(
      [
        ...execFileSync(path.join(BIN_1_20, component), ['--help'], { encoding: 'utf8' }).matchAll(
          /^\s+(?:-[a-z], )?--([a-z0-9_-]+)/gm,
        ),
      ].map((m) => m[1]!),
    );

  test.each(renderUnits('1.20.2').map((r) => [`${r.component} (${r.what})`, r] as const))(
    '%s: every flag is in its --help',
    (_name, r) => {
      const known = help(r.component);
      expect(
        execStartFlags(r.unit)
          .map((f) => f.name)
          .filter((f) => !known.has(f)),
      ).toEqual([]);
    },
  );

  test(
    "the 1.20 kubelet list is the binary's, but for the page's one misspelt flag and cAdvisor's globals the " +
      'page leaves out',
    () => {
      const known = help('kubelet');
      const listed = flagList(path.join(FLAGS_DIR, '1.20', 'kubelet.txt'));
      expect([...listed].filter((f) => !known.has(f))).toEqual(['experimental-log-sanitization']);
      expect([...known].filter((f) => !listed.has(f) && !CADVISOR_FLAGS.test(f))).toEqual([
        'experimental-logging-sanitization',
      ]);
    },
  );
});
