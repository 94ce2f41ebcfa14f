/**
 * unarchive: extract a tar archive (.tar, .tar.gz/.tgz, .tar.xz/.txz, .tar.bz2/.tbz2) into dest
 * with tar on the host. src is a controller file (from files/) copied over, or with remote_src a
 * file already on the host. Idempotence: nothing happens when `creates` exists; otherwise the
 * archive's sha256 is compared with the marker dest/.furrow-unarchive-<archive name>.sha256 that
 * the last extraction wrote, so the same archive is extracted once and a new one again.
 */
import type { JSONSchema } from 'json-schema-to-ts';
import { stat } from 'node:fs/promises';
import { posix } from 'node:path';
import { FurrowError, InputError } from '../engine/errors.js';
import type { Module, ModuleContext, Plan, ParamsOf } from '../engine/module.js';
import { raw, sh } from '../engine/shell.js';
import { sha256OfFile } from './support/content.js';
import { flagSchema, toFlag } from './support/param-values.js';
import { runOrFail } from './support/run.js';

export type UnarchiveParams = ParamsOf<typeof schema>;

export interface UnarchiveData {
  /** The archive on the controller (copied over at apply), or on the host with remote_src. */
  localPath?: string;
  remotePath?: string;
  dest: string;
  sha256: string;
  marker: string;
  createDest: boolean;
}

const FORMATS: [RegExp, string][] = [
  [/\.(tar\.gz|tgz)$/, '-z'],
  [/\.(tar\.xz|txz)$/, '-J'],
  [/\.(tar\.bz2|tbz2?)$/, '-j'],
  [/\.tar$/, ''],
];

/** tar's decompression flag for an archive name ('' for a plain tar). */
export function tarFlag(src: string): string {
  const found = FORMATS.find(([re]) => re.test(src.toLowerCase()));
  if (!found)
    throw new InputError(
      undefined,
      `unarchive: '${src}' is not a tar archive this module extracts`,
      'use a .tar, .tar.gz, .tgz, .tar.xz, .txz or .tar.bz2 file',
    );
  return found[1];
}

export function markerPath(dest: string, src: string): string {
  return posix.join(dest, `.furrow-unarchive-${posix.basename(src)}.sha256`);
}

export interface UnarchiveProbe {
  creates: boolean;
  dest: 'dir' | 'other' | 'absent';
  marker?: string;
  /** remote_src: the archive's sha256 on the host, or undefined when it is missing. */
  remoteSha?: string;
}

function probeCommand(params: UnarchiveParams, marker: string): string {
  const lines = [
    sh`if [ -d ${params.dest} ]; then echo 'dest dir'; elif [ -e ${params.dest} ]; then echo 'dest other'; else echo ` +
      sh`'dest absent'; fi`,
    sh`m=$(cat ${marker} 2>/dev/null) && echo "marker $m"`,
  ];
  if (params.creates) lines.unshift(sh`[ -e ${params.creates} ] && echo 'creates yes'`);
  if (toFlag(params.remote_src, 'unarchive', 'remote_src', false))
    lines.push(sh`[ -f ${params.src} ] && echo "src $(sha256sum < ${params.src} | cut -c1-64)"`);
  return `${lines.join('\n')}\ntrue`;
}

export function parseUnarchiveProbe(stdout: string): UnarchiveProbe {
  const get = (key: string) => new RegExp(`^${key} (.*)$`, 'm').exec(stdout)?.[1]?.trim();
  const remoteSha = get('src');
  const marker = get('marker');
  return {
    creates: get('creates') === 'yes',
    dest: (get('dest') ?? 'absent') as UnarchiveProbe['dest'],
    ...(marker ? { marker } : {}),
    ...(remoteSha ? { remoteSha } : {}),
  };
}

/** Pure: extract or not, given the probe and the archive's sha256. */
export function decideUnarchive(
  params: UnarchiveParams,
  probe: UnarchiveProbe,
  archive: { sha256: string; localPath?: string },
): Plan<UnarchiveData> {
  if (probe.creates) return { action: 'none', reason: `${params.creates} exists` };
  if (probe.dest === 'other')
    throw new FurrowError('module', `unarchive: dest ${params.dest} exists and is not a directory`);
  const marker = markerPath(params.dest, params.src);
  if (probe.marker === archive.sha256)
    return {
      action: 'none',
      reason: `${params.src} (sha256 ${archive.sha256.slice(0, 12)}) is already extracted in ${params.dest}`,
    };
  const data: UnarchiveData = {
    ...(archive.localPath ? { localPath: archive.localPath } : { remotePath: params.src }),
    dest: params.dest,
    sha256: archive.sha256,
    marker,
    createDest: probe.dest === 'absent',
  };
  const reason = probe.marker
    ? `${params.dest} holds another extraction of ${posix.basename(params.src)}`
    : `${params.src} was not extracted in ${params.dest}`;
  const diff = {
    values: [
      {
        key: `${params.dest} (${posix.basename(params.src)})`,
        before: probe.marker ? `sha256:${probe.marker}` : 'not extracted',
        after: `sha256:${archive.sha256}`,
      },
    ],
  };
  return { action: probe.marker ? 'update' : 'create', reason, diff, data };
}

async function controllerArchive(ctx: ModuleContext, src: string): Promise<{ localPath: string; sha256: string }> {
  const localPath = ctx.findFile('files', src);
  const info = await stat(localPath).catch(() => undefined);
  if (!info?.isFile())
    throw new InputError(
      undefined,
      `unarchive: src '${src}' was not found (looked for ${localPath})`,
      "put the archive in the role's or playbook's files/ folder, or set remote_src: true for a file on the host",
    );
  return { localPath, sha256: await sha256OfFile(localPath) };
}

function extraOpts(params: UnarchiveParams): string[] {
  return params.extra_opts === undefined
    ? []
    : Array.isArray(params.extra_opts)
      ? params.extra_opts
      : [params.extra_opts];
}

const schema = {
  type: 'object',
  properties: {
    src: {
      type: 'string',
      minLength: 1,
      description:
        'The archive (.tar, .tar.gz, .tar.xz, .tar.bz2): a controller file from files/, or with remote_src a ' +
        'file on the host.',
      examples: ['cni-plugins-linux-amd64-v0.9.1.tgz'],
    },
    dest: {
      type: 'string',
      minLength: 1,
      description: 'The folder on the host it is extracted into (created when missing).',
      examples: ['/opt/cni/bin'],
    },
    remote_src: { ...flagSchema, description: 'src is already on the host.', examples: [true], default: false },
    creates: {
      type: 'string',
      minLength: 1,
      description: 'A path on the host: when it exists, nothing is extracted.',
      examples: ['/opt/cni/bin/bridge'],
    },
    extra_opts: {
      anyOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }],
      description: 'More options for tar.',
      examples: [['--strip-components=1']],
    },
  },
  required: ['src', 'dest'],
  additionalProperties: false,
} as const satisfies JSONSchema;

export const unarchive: Module<UnarchiveParams, UnarchiveData> = {
  name: 'unarchive',
  schema,

  async plan(ctx, params) {
    tarFlag(params.src);
    const local = toFlag(params.remote_src, 'unarchive', 'remote_src', false)
      ? undefined
      : await controllerArchive(ctx, params.src);
    const r = await ctx.conn.exec(probeCommand(params, markerPath(params.dest, params.src)));
    const probe = parseUnarchiveProbe(r.stdout.toString());
    if (probe.creates) return { action: 'none', reason: `${params.creates} exists` };
    if (!local && !probe.remoteSha)
      throw new FurrowError(
        'module',
        `${ctx.host}: unarchive: ${params.src} is not a file on the host (remote_src is true)`,
      );
    return decideUnarchive(params, probe, local ?? { sha256: probe.remoteSha! });
  },

  async apply(ctx, plan, params) {
    const data = plan.data!;
    if (data.createDest) await runOrFail(ctx, sh`mkdir -p -- ${data.dest}`, `creating ${data.dest}`);
    let archive = data.remotePath;
    if (data.localPath) {
      archive = `${data.marker.replace(/\.sha256$/, '')}.part`;
      await ctx.conn.put(archive, { path: data.localPath }, { mode: '0600' });
    }
    const flag = tarFlag(params.src);
    const cleanup = data.localPath ? sh`rm -f -- ${archive!}` : 'true';
    const script = [
      sh`tar -x ${raw(flag)} -f ${archive!} -C ${data.dest} ${extraOpts(params)} 2>&1 &&`,
      sh`printf '%s\\n' ${data.sha256} > ${`${data.marker}.tmp`} && mv -f ${`${data.marker}.tmp`} ${data.marker}`,
      `rc=$?; ${cleanup}; exit $rc`,
    ].join('\n');
    const r = await ctx.conn.exec(script, { timeoutMs: 30 * 60_000 });
    if (r.code !== 0) {
      const why = `${r.stdout}${r.stderr}`.trim().split('\n').slice(-20).join('\n  ');
      return {
        failed: true,
        msg: `${ctx.host}: unarchive ${params.src} -> ${data.dest} failed (exit ${r.code ?? 'timeout'}):\n  ${why}`,
        output: { dest: data.dest },
      };
    }
    return { output: { dest: data.dest, sha256: data.sha256 } };
  },
};
