/**
 * image: a container image from an OCI image layout on the controller (an offline bundle's
 * images/) present in the host's container runtime: containerd (in a namespace, k8s.io for
 * Kubernetes) or docker. Compared by digest: containerd lists the image's name with the digest of
 * its index or manifest; docker knows the image by its config digest (its image ID). A missing or
 * different image is imported from a tar streamed over the connection (only the host's platform),
 * with nothing written to the host's disk on the way.
 */
import type { JSONSchema } from 'json-schema-to-ts';
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

const NO_RUNTIME = 'furrow-no-runtime';
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
    const tool = runtime === 'docker' ? 'docker' : 'ctr';
    const list =
      runtime === 'docker'
        ? sh`docker image inspect --format '{{.Id}}' ${params.name} 2>&1 || true`
        : // Without its socket ctr would wait out its dial timeout (10 s) on every image.
          sh`[ -S ${params.address ?? DEFAULT_ADDRESS} ] || { echo ${NO_RUNTIME} not-running; exit 0; }; ctr ` +
          sh`--address ${params.address ?? DEFAULT_ADDRESS} -n ${params.namespace ?? 'k8s.io'} images ls 2>&1 || ` +
          sh`echo ${NO_RUNTIME} not-running`;
    const script = [
      params.path ? sh`PATH=${params.path}:$PATH; export PATH` : ':',
      'uname -m',
      sh`command -v ${tool} >/dev/null 2>&1 || { echo ${NO_RUNTIME}; exit 0; }`,
      list,
    ].join('\n');
    const r = await ctx.conn.exec(script);
    if (r.code !== 0) throw commandFailed(ctx.host, `image: probing ${runtime}`, r);
    const [machine = '', ...rest] = r.stdout.toString().split('\n');
    const out = rest.join('\n');
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
