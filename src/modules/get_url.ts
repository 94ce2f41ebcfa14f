/**
 * get_url: the host downloads a URL to dest (with curl, else wget; file:// URLs are copied).
 * Skipped when dest exists and matches `checksum`, or exists and force is false with no checksum.
 * The download lands in a temp file beside dest, is checked, then renamed: never half a file.
 */
import type { JSONSchema } from 'json-schema-to-ts';
import { posix } from 'node:path';
import { FurrowError, InputError } from '../engine/errors.js';
import type { FileInfo } from '../engine/facts/files.js';
import type { Module, Plan, ValueChange, ParamsOf } from '../engine/module.js';
import { raw, sh } from '../engine/shell.js';
import { attrChanges, attrCommand, describeChanges, wantedAttrs } from './support/attributes.js';
import { formatMode, resolveMode } from './support/modes.js';
import { flagSchema, groupParam, ownerParam, modeParam, toFlag } from './support/param-values.js';
import { runOrFail } from './support/run.js';
import { commandFailure } from '../engine/command-failure.js';

export type GetUrlParams = ParamsOf<typeof schema>;

export interface GetUrlData {
  path: string;
  /** Download (and replace when different); absent: only fix attributes. */
  download?: { mode: string; owner?: string; group?: string; compare: boolean };
  attrs?: ValueChange[];
}

/** Accepts 'sha256:<hex>' and returns the hex digest (lowercase). */
export function parseChecksum(checksum: string | undefined): string | undefined {
  if (checksum === undefined) return undefined;
  const m = /^sha256:([0-9a-fA-F]{64})$/.exec(checksum.trim());
  if (!m?.[1])
    throw new InputError(
      undefined,
      `get_url: checksum '${checksum}' is not 'sha256:<64 hex digits>'`,
      "give checksum: sha256:<the file's sha256sum>",
    );
  return m[1].toLowerCase();
}

function urlBasename(url: string): string {
  const name = posix.basename(new URL(url).pathname);
  if (!name)
    throw new InputError(
      undefined,
      `get_url: ${url} names no file, so dest must be a file path, not a directory`,
      'give dest as a file path',
    );
  return name;
}

function checkUrl(url: string): void {
  let scheme: string;
  try {
    scheme = new URL(url).protocol;
  } catch {
    throw new InputError(
      undefined,
      `get_url: url '${url}' is not a URL`,
      'give url: http://..., https://... or file:///...',
    );
  }
  if (!['http:', 'https:', 'file:'].includes(scheme))
    throw new InputError(undefined, `get_url: scheme '${scheme}' is not supported`, 'use http, https or file');
}

/** Pure: what to do given the probed dest. */
export function decideGetUrl(
  params: GetUrlParams,
  path: string,
  file: FileInfo,
  wantSha: string | undefined,
): Plan<GetUrlData> {
  const attrs = wantedAttrs(params, 'get_url');
  if (file.type === 'directory' || file.type === 'other')
    throw new FurrowError('module', `get_url: ${path} exists and is not a regular file`);
  const present = file.type === 'file' ? file : undefined;
  const matches = present && (wantSha ? present.sha256 === wantSha : !toFlag(params.force, 'get_url', 'force', false));
  if (present && matches) {
    const changes = attrChanges(present, attrs);
    const why = wantSha
      ? `${path} matches sha256 ${wantSha.slice(0, 12)}`
      : `${path} exists (force is false, no checksum)`;
    if (!changes.length) return { action: 'none', reason: why };
    return {
      action: 'update',
      reason: describeChanges(path, changes),
      diff: { values: changes },
      data: { path, attrs: changes },
    };
  }
  const mode = attrs.mode ? resolveMode(attrs.mode, present?.mode, false) : (present?.mode ?? 0o644);
  const owner = attrs.owner ?? (present ? String(present.uid) : undefined);
  const group = attrs.group ?? (present ? String(present.gid) : undefined);
  const download = {
    mode: formatMode(mode),
    ...(owner ? { owner } : {}),
    ...(group ? { group } : {}),
    compare: !!present && !wantSha,
  };
  const before = present
    ? `sha256:${present.sha256 ?? 'unreadable'}`
    : file.type === 'link'
      ? `link to ${file.target ?? '?'}`
      : 'absent';
  const after = wantSha ? `sha256:${wantSha}` : params.url;
  const reason = !present
    ? `${path} does not exist: download ${params.url}`
    : wantSha
      ? `${path} does not match the checksum: download again`
      : `force: download ${params.url} and replace ${path} if it differs`;
  return {
    action: present ? 'update' : 'create',
    reason,
    diff: { values: [{ key: 'content', before, after }] },
    data: { path, download },
  };
}

/** The host-side download script; prints "unchanged" when a forced download equals dest. */
export function downloadScript(
  params: GetUrlParams,
  data: GetUrlData & { download: NonNullable<GetUrlData['download']> },
  wantSha?: string,
): string {
  const { path, download } = data;
  const timeout = params.timeout ?? 30;
  const insecure = toFlag(params.validate_certs, 'get_url', 'validate_certs', true) ? '' : ' -k';
  const fetch = params.url.startsWith('file:')
    ? sh`cp -- ${decodeURIComponent(new URL(params.url).pathname)} "$tmp"`
    : [
        sh`if command -v curl >/dev/null 2>&1; ` +
          sh`then curl -fsSL${raw(insecure)} --max-time ${timeout} -o "$tmp" ${params.url}`,
        sh`elif command -v wget >/dev/null ` +
          sh`2>&1; then wget -q${raw(insecure ? ' --no-check-certificate' : '')} -T ${timeout} -O "$tmp" ${params.url}`,
        `else echo 'neither curl nor wget is installed on the host' >&2; exit 127; fi`,
      ].join('\n');
  const lines = [
    sh`tmp=$(mktemp ${posix.dirname(path)}/.furrow-get_url.XXXXXX) || exit 1`,
    `trap 'rm -f "$tmp"' EXIT`,
    `{\n${fetch}\n} || exit $?`,
    'sum=$(sha256sum < "$tmp" | cut -c1-64)',
  ];
  if (wantSha)
    lines.push(
      sh`if [ "$sum" != ${wantSha} ]; then echo "checksum mismatch: downloaded sha256 ` +
        sh`$sum, expected ${raw(wantSha)}" >&2; exit 65; fi`,
    );
  if (download.compare)
    lines.push(sh`if [ "$(sha256sum < ${path} | cut -c1-64)" = "$sum" ]; then echo unchanged; exit 0; fi`);
  lines.push(sh`chmod ${download.mode} "$tmp"`);
  if (download.owner || download.group)
    lines.push(sh`chown ${`${download.owner ?? ''}${download.group ? `:${download.group}` : ''}`} "$tmp"`);
  lines.push(sh`mv -f "$tmp" ${path}`, 'echo "sha256 $sum"');
  return lines.join('\n');
}

const schema = {
  type: 'object',
  properties: {
    url: {
      type: 'string',
      minLength: 1,
      description: 'What to download (http, https or file URL); the host fetches it with curl or wget.',
      examples: ['http://10.0.0.1:8080/bin/etcd', 'file:///srv/bundle/bin/etcd'],
    },
    dest: {
      type: 'string',
      minLength: 1,
      description: 'The file on the host the download lands in (atomically, through a temp file beside it).',
      examples: ['/opt/kube/bin/etcd'],
    },
    checksum: {
      type: 'string',
      description:
        "'sha256:<64 hex digits>' the download must match; an existing dest that matches is not fetched again.",
      examples: ['sha256:0b1d9b1e8e4f4c1f7d2b1c9d5e1f2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b'],
    },
    mode: modeParam,
    owner: ownerParam,
    group: groupParam,
    force: {
      ...flagSchema,
      description: 'Without a checksum, fetch again even when dest exists.',
      examples: [true],
      default: false,
    },
    timeout: { type: 'integer', minimum: 1, description: 'Seconds the download may take.', examples: [60] },
    validate_certs: {
      ...flagSchema,
      description: "Check the server's TLS certificate (false: curl -k).",
      examples: [false],
      default: true,
    },
  },
  required: ['url', 'dest'],
  additionalProperties: false,
} as const satisfies JSONSchema;

export const getUrl: Module<GetUrlParams, GetUrlData> = {
  name: 'get_url',
  schema,

  async plan(ctx, params) {
    checkUrl(params.url);
    const wantSha = parseChecksum(params.checksum);
    if (params.dest.endsWith('/')) {
      const path = posix.join(params.dest, urlBasename(params.url));
      const [file] = await ctx.probeFiles([{ path }]);
      return decideGetUrl(params, path, file!, wantSha);
    }
    // As Ansible: a dest that is a directory receives the URL's file name; probe both in one trip.
    const inside = posix.join(params.dest, posix.basename(new URL(params.url).pathname) || 'index.html');
    const [file, fileInside] = await ctx.probeFiles([{ path: params.dest }, { path: inside }]);
    if (file!.type === 'directory') return decideGetUrl(params, inside, fileInside!, wantSha);
    return decideGetUrl(params, params.dest, file!, wantSha);
  },

  async apply(ctx, plan, params) {
    const data = plan.data!;
    if (data.attrs) await runOrFail(ctx, attrCommand(data.path, data.attrs), `setting attributes of ${data.path}`);
    if (!data.download) return { output: { dest: data.path } };
    const script = downloadScript(params, { ...data, download: data.download }, parseChecksum(params.checksum));
    const r = await ctx.conn.exec(script, { timeoutMs: ((params.timeout ?? 30) + 60) * 1000 });
    if (r.code !== 0)
      return {
        failed: true,
        msg: commandFailure(ctx.host, `get_url ${params.url} -> ${data.path}`, r),
        output: { dest: data.path },
      };
    const out = r.stdout.toString();
    const sum = /^sha256 ([0-9a-f]{64})$/m.exec(out)?.[1];
    return {
      changed: !/^unchanged$/m.test(out),
      output: { dest: data.path, ...(sum ? { checksum_dest: `sha256:${sum}` } : {}) },
    };
  },
};
