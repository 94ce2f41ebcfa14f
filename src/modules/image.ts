/**
 * image: a container image from an OCI image layout on the controller (an offline bundle's
 * images/) present in the host's container runtime: containerd (in a namespace, k8s.io for
 * Kubernetes) or docker. Compared by digest: containerd lists the image's name with the digest of
 * its index or manifest; docker knows the image by its config digest (its image ID). A missing or
 * different image is imported from a tar streamed over the connection (only the host's platform),
 * with nothing written to the host's disk on the way.
 * A loop of images is probed in one round trip: containerd lists every image of its namespace at
 * once, so the loop's items share one `ctr images ls` (docker: one inspect each, in one script).
 */
import type { JSONSchema } from 'json-schema-to-ts';
import type { Connection } from '../engine/connections/types.js';
import type { Module, ParamsOf } from '../engine/module.js';
import { FurrowError, InputError } from '../engine/errors.js';
import { sh } from '../engine/shell.js';
import { archName } from '../engine/facts/gather.js';
import { dockerLoadTar, imageForPlatform, ociImportTar, type ImagePlatform } from '../bundle/image-archive.js';
import { commandFailed, commandFailure } from '../engine/command-failure.js';

export type ImageParams = ParamsOf<typeof schema>;

interface ImageData {
  image: ImagePlatform;
  arch: string;
}

/** What the probe read for one image: the host's `uname -m`, and what the runtime said about it. */
interface RuntimeAnswer {
  machine: string;
  out: string;
}

/** The runtime an image is probed in; images with equal ones share a probe. */
interface ProbeTarget {
  runtime: 'containerd' | 'docker';
  address: string;
  namespace: string;
  path: string | undefined;
}

const NO_RUNTIME = 'furrow-no-runtime';
/** Starts the line before each image's answer in a docker probe. */
const IMAGE_MARK = '@furrow-image ';
const DEFAULT_ADDRESS = '/run/containerd/containerd.sock';

const schema = {
  type: 'object',
  required: ['name', 'digest', 'layout'],
  properties: {
    name: {
      type: 'string',
      minLength: 1,
      description: 'The name the runtime lists the image under.',
      examples: ['registry.k8s.io/pause:3.2'],
    },
    digest: {
      type: 'string',
      pattern: '^sha256:[0-9a-f]{64}$',
      description: 'sha256:<64 hex digits>',
      examples: ['sha256:abababababababababababababababababababababababababababababababab'],
    },
    layout: {
      type: 'string',
      minLength: 1,
      description: "The OCI image layout on the controller holding it (an offline bundle's images/).",
      examples: ['{{ furrow_cluster_dir }}/bundle/images'],
    },
    runtime: {
      type: 'string',
      enum: ['containerd', 'docker'],
      description: 'Which container runtime gets the image.',
      examples: ['docker'],
      default: 'containerd',
    },
    namespace: {
      type: 'string',
      minLength: 1,
      description: "containerd's namespace (k8s.io is where the kubelet looks).",
      examples: ['k8s.io'],
      default: 'k8s.io',
    },
    snapshotter: {
      type: 'string',
      minLength: 1,
      description: "containerd snapshotter to unpack into (default: ctr's own, overlayfs).",
      examples: ['native'],
    },
    address: {
      type: 'string',
      minLength: 1,
      description: "containerd's socket.",
      examples: ['/run/containerd/containerd.sock'],
      default: DEFAULT_ADDRESS,
    },
    path: {
      type: 'string',
      description: 'Folders searched for ctr or docker before PATH.',
      examples: ['/opt/kube/bin'],
    },
    if_no_runtime: {
      type: 'string',
      enum: ['fail', 'skip'],
      description:
        'When the runtime is not installed or not running: fail, or skip with a note (it is imported once it runs).',
      examples: ['skip'],
      default: 'fail',
    },
  },
  additionalProperties: false,
} as const satisfies JSONSchema;

export const image: Module<ImageParams, ImageData> = {
  name: 'image',
  schema,

  async plan(ctx, params) {
    const runtime = params.runtime ?? 'containerd';
    const own = probeKey(params);
    const read = await ctx.probeShared<RuntimeAnswer>([own], laterProbeKeys, (keys) =>
      probeRuntimes(ctx.conn, ctx.host, keys),
    );
    const { machine, out } = read.get(own)!;
    const arch = archName(machine.trim());
    const noRuntime =
      out.includes(NO_RUNTIME) ||
      /Cannot connect to the Docker daemon|connection refused|no such file or directory/i.test(out);
    if (noRuntime) {
      const installed = out.includes('not-running') || !out.includes(NO_RUNTIME);
      const why = `${runtime} is not ${installed ? 'running' : 'installed'} on this host`;
      // In check mode an earlier task may be the one that would install and start it.
      if (params.if_no_runtime === 'skip' || ctx.check)
        return { action: 'none', reason: `${why}: ${params.name} is imported once it runs` };
      throw new FurrowError(
        'module',
        `${ctx.host}: image ${params.name}: ${why}${out.trim() ? ` (${out.trim().split('\n').pop()})` : ''}; deploy ` +
          `step 03 runtime first`,
      );
    }
    let img: ImagePlatform;
    try {
      img = await imageForPlatform(params.layout, params.digest, arch);
    } catch (err) {
      throw new InputError(
        undefined,
        `image ${params.name}: ${(err as Error).message}`,
        'give a digest from the bundle (furrow bundle ls)',
      );
    }
    const want = runtime === 'docker' ? img.config.digest : params.digest;
    const have = runtime === 'docker' ? haveDocker(out) : haveContainerd(out, params.name);
    if (have === want) return { action: 'none', reason: `${params.name} is ${short(want)}` };
    return {
      action: have ? 'update' : 'create',
      reason: have
        ? `${params.name} is ${short(have)}, the bundle has ${short(want)}`
        : `${params.name} is not in ${runtime}`,
      diff: { values: [{ key: params.name, before: have ?? '(absent)', after: want }] },
      data: { image: img, arch },
    };
  },

  async apply(ctx, plan, params) {
    if (!plan.data) return {};
    const runtime = params.runtime ?? 'containerd';
    const { stream, done } =
      runtime === 'docker'
        ? await dockerLoadTar(params.layout, plan.data.image, params.name)
        : await ociImportTar(params.layout, plan.data.image, params.name);
    try {
      const prefix = params.path ? sh`PATH=${params.path}:$PATH; export PATH; ` : '';
      const command =
        runtime === 'docker'
          ? 'docker load'
          : sh`ctr --address ${params.address ?? DEFAULT_ADDRESS} -n ${params.namespace ?? 'k8s.io'} images import ` +
            sh`--platform ${`linux/${plan.data.arch}`} ` +
            sh`${params.snapshotter ? ['--snapshotter', params.snapshotter] : []} -`;
      const r = await ctx.conn.exec(prefix + command, { stdin: stream, timeoutMs: 30 * 60_000 });
      if (r.code !== 0)
        return {
          failed: true,
          msg: commandFailure(ctx.host, `importing ${params.name} into ${runtime}`, r) + lastLines(r.stdout.toString()),
        };
      return {};
    } finally {
      await done();
    }
  },
};

const short = (digest: string) => digest.slice(0, 19);

/** An image's key for the shared probe: its runtime target, then its name. */
function probeKey(params: Pick<ImageParams, 'name' | 'runtime' | 'address' | 'namespace' | 'path'>): string {
  const target: ProbeTarget = {
    runtime: params.runtime ?? 'containerd',
    address: params.address ?? DEFAULT_ADDRESS,
    namespace: params.namespace ?? 'k8s.io',
    path: params.path,
  };
  return JSON.stringify([target, params.name]);
}

/** A later loop item's key, when its params are plain enough to tell it; otherwise none. */
function laterProbeKeys(later: Record<string, unknown>): string[] {
  const text = (v: unknown) => v === undefined || (typeof v === 'string' && v !== '');
  const { name, runtime, address, namespace, path } = later;
  if (typeof name !== 'string' || !name || ![undefined, 'containerd', 'docker'].includes(runtime as string)) return [];
  if (!text(address) || !text(namespace) || !(path === undefined || typeof path === 'string')) return [];
  return [probeKey(later as Pick<ImageParams, 'name' | 'runtime' | 'address' | 'namespace' | 'path'>)];
}

/**
 * Reads each runtime target once (one round trip each; a loop has one target): containerd's
 * listing answers every image of it, docker is asked per image, each answer after a marker line.
 */
async function probeRuntimes(conn: Connection, host: string, keys: string[]): Promise<Map<string, RuntimeAnswer>> {
  const byTarget = new Map<string, { target: ProbeTarget; keys: string[]; names: string[] }>();
  for (const key of keys) {
    const [target, name] = JSON.parse(key) as [ProbeTarget, string];
    const targetKey = JSON.stringify(target);
    const group = byTarget.get(targetKey) ?? { target, keys: [], names: [] };
    group.keys.push(key);
    group.names.push(name);
    byTarget.set(targetKey, group);
  }
  const answers = new Map<string, RuntimeAnswer>();
  for (const { target, keys: groupKeys, names } of byTarget.values()) {
    const docker = target.runtime === 'docker';
    const list = docker
      ? names.map((name, i) =>
          [`echo ${IMAGE_MARK}${i}`, sh`docker image inspect --format '{{.Id}}' ${name} 2>&1 || true`].join('\n'),
        )
      : // Without its socket ctr would wait out its dial timeout (10 s) on every image.
        [
          sh`[ -S ${target.address} ] || { echo ${NO_RUNTIME} not-running; exit 0; }; ctr ` +
            sh`--address ${target.address} -n ${target.namespace} images ls 2>&1 || ` +
            sh`echo ${NO_RUNTIME} not-running`,
        ];
    const tool = docker ? 'docker' : 'ctr';
    const script = [
      target.path ? sh`PATH=${target.path}:$PATH; export PATH` : ':',
      'uname -m',
      sh`command -v ${tool} >/dev/null 2>&1 || { echo ${NO_RUNTIME}; exit 0; }`,
      ...list,
    ].join('\n');
    const r = await conn.exec(script);
    if (r.code !== 0) throw commandFailed(host, `image: probing ${target.runtime}`, r);
    const [machine = '', ...rest] = r.stdout.toString().split('\n');
    const out = rest.join('\n');
    // docker's answers, each after its marker; before any marker (no runtime), the same for all.
    const sections = new Map<number, string>();
    const parts = docker ? out.split(new RegExp(`^${IMAGE_MARK}(\\d+)$`, 'm')) : [];
    for (let at = 1; at + 1 < parts.length; at += 2) sections.set(Number(parts[at]), parts[at + 1]!);
    for (const [i, key] of groupKeys.entries()) answers.set(key, { machine, out: sections.get(i) ?? out });
  }
  return answers;
}

/** `ctr images ls`: REF TYPE DIGEST SIZE PLATFORMS LABELS; the digest of the line naming the image. */
export function haveContainerd(listing: string, name: string): string | undefined {
  for (const line of listing.split('\n')) {
    const [ref, , digest] = line.trim().split(/\s+/);
    if (ref === name && digest?.startsWith('sha256:')) return digest;
  }
  return undefined;
}

/** `docker image inspect --format {{.Id}}`: the image ID (its config digest), or undefined when there is none. */
export function haveDocker(output: string): string | undefined {
  return /^(sha256:[0-9a-f]{64})$/m.exec(output)?.[1];
}

/** The last 5 lines of what a command printed, indented under its failure; empty when it printed nothing. */
function lastLines(out: string): string {
  const text = out.trim();
  return text ? `\n  ${text.split('\n').slice(-5).join('\n  ')}` : '';
}
