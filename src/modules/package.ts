import {
  APT_UPDATE_STAMP,
  packageProbeCommand,
  parsePackageProbe,
  type PackageManager,
  type PackageProbe,
} from './probes/packages.js';
import { FurrowError, InputError } from '../engine/errors.js';
import type { ApplyResult, Module, ModuleContext, ParamsOf, Plan, PlanAction, ValueChange } from '../engine/module.js';
import type { JSONSchema } from 'json-schema-to-ts';
import { raw, sh } from '../engine/shell.js';
import { flagSchema, toFlag } from './support/param-values.js';
import { commandFailed, howItEnded } from '../engine/command-failure.js';

/**
 * package (aliases apt, dnf, yum): present / absent / latest for many names in ONE transaction.
 * One probe round trip reads installed versions, candidates and the apt cache's age; apt's cache
 * is refreshed only when needed, so a re-run is one round trip and changes nothing.
 */

export type PackageParams = ParamsOf<typeof packageSchema>;

export interface PackageDecision {
  manager: PackageManager;
  install: string[];
  upgrade: string[];
  remove: string[];
  updateCache: boolean;
}

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9+._-]*(:[A-Za-z0-9_-]+)?$/;

export const packageSchema = {
  type: 'object',
  properties: {
    name: {
      oneOf: [
        { type: 'string', minLength: 1 },
        { type: 'array', items: { type: 'string', minLength: 1 }, minItems: 1 },
      ],
      description: 'A package or a list of them.',
      examples: ['chrony', ['conntrack', 'ipset', 'ipvsadm']],
    },
    state: {
      type: 'string',
      enum: ['present', 'absent', 'latest'],
      default: 'present',
      description: 'present installs missing ones, latest also upgrades, absent removes',
      examples: ['latest'],
    },
    update_cache: {
      ...flagSchema,
      description:
        'Refresh the package index first: apt-get update when the index is older than cache_valid_time or, without ' +
        'it, when a package to install is unknown; dnf/yum --refresh.',
      examples: [true],
      default: false,
    },
    cache_valid_time: {
      type: 'integer',
      minimum: 0,
      description: 'apt: refresh the index only when it is older than this many seconds.',
      examples: [3600],
    },
    install_recommends: {
      ...flagSchema,
      description: 'Also install recommended (weak) dependencies.',
      examples: [true],
      default: false,
    },
    purge: {
      ...flagSchema,
      description: 'apt, state absent: also remove configuration files.',
      examples: [true],
      default: false,
    },
    policy_rc_d: {
      type: 'integer',
      minimum: 0,
      maximum: 255,
      description:
        'apt: the exit code of /usr/sbin/policy-rc.d while the packages are installed, as in Ansible: 101 keeps ' +
        "the packages' services from starting. An existing policy-rc.d is put back afterwards. dnf and yum never " +
        'start services on install, so it changes nothing there.',
      examples: [101],
    },
    use: {
      type: 'string',
      enum: ['auto', 'apt', 'dnf', 'yum'],
      description: 'The package manager; auto finds it on the host.',
      examples: ['apt'],
    },
  },
  required: ['name'],
  additionalProperties: false,
} as const satisfies JSONSchema;

/** The names, in order, without repeats; as in Ansible a string may list several, comma-separated. */
export function packageNames(params: PackageParams): string[] {
  const names = (Array.isArray(params.name) ? params.name : [params.name])
    .flatMap((n) => n.split(','))
    .map((n) => n.trim());
  const bad = names.find((n) => !NAME_RE.test(n));
  if (bad !== undefined) {
    throw new InputError(
      undefined,
      `package: '${bad}' is not a package name`,
      'give names such as jq or libc6:amd64 (versions like name=1.2 are not supported)',
    );
  }
  return [...new Set(names)];
}

/** Pure: what to do given the probe. Exported for the unit tests. */
export function decidePackages(
  params: PackageParams,
  probe: PackageProbe & { manager: PackageManager },
  names = packageNames(params),
): PackageDecision {
  const state = params.state ?? 'present';
  const installed = (n: string) => probe.installed.get(n)?.version;
  // apt-cache policy names a native NAME:ARCH package without its architecture.
  const candidate = (n: string) =>
    (probe.candidates.get(n) ?? probe.candidates.get(n.replace(/:[^:]*$/, '')))?.candidate;
  const install = state === 'absent' ? [] : names.filter((n) => !installed(n));
  const remove = state === 'absent' ? names.filter((n) => installed(n)) : [];
  const upgrade =
    state !== 'latest' ? [] : names.filter((n) => installed(n) && candidate(n) && candidate(n) !== installed(n));
  let updateCache = false;
  if (probe.manager === 'apt' && toFlag(params.update_cache, 'package', 'update_cache', false)) {
    const age = probe.cacheAgeSeconds;
    updateCache =
      params.cache_valid_time !== undefined
        ? age === undefined || age > params.cache_valid_time
        : install.some((n) => !candidate(n));
  }
  return { manager: probe.manager, install, upgrade, remove, updateCache };
}

function actionOf(d: PackageDecision): PlanAction {
  const kinds = [d.install.length > 0, d.upgrade.length > 0, d.remove.length > 0].filter(Boolean).length;
  if (kinds === 0) return d.updateCache ? 'run' : 'none';
  if (kinds > 1 || d.upgrade.length) return 'update';
  return d.install.length ? 'create' : 'delete';
}

export function describeDecision(
  d: PackageDecision,
  names: string[],
  probe: PackageProbe,
  state: string,
): { reason: string; values: ValueChange[] } {
  const before = (n: string) => probe.installed.get(n)?.version ?? 'absent';
  const after = (n: string) => probe.candidates.get(n)?.candidate ?? 'latest available';
  const values: ValueChange[] = [
    ...d.install.map((n) => ({ key: n, before: 'absent', after: after(n) })),
    ...d.upgrade.map((n) => ({ key: n, before: before(n), after: after(n) })),
    ...d.remove.map((n) => ({ key: n, before: before(n), after: 'absent' })),
  ];
  const parts = [
    d.install.length ? `install ${d.install.join(' ')}` : '',
    d.upgrade.length ? `upgrade ${d.upgrade.join(' ')}` : '',
    d.remove.length ? `remove ${d.remove.join(' ')}` : '',
  ].filter(Boolean);
  if (d.updateCache)
    parts.unshift(
      probe.cacheAgeSeconds === undefined
        ? 'update the apt cache (never updated)'
        : `update the apt cache (${probe.cacheAgeSeconds} s old)`,
    );
  const settled = state === 'absent' ? 'absent' : names.map((n) => `${n} ${before(n)}`).join(', ');
  return {
    reason: parts.length
      ? parts.join('; ')
      : `${d.manager}: ${state === 'absent' ? `${names.join(' ')} ${settled}` : settled}`,
    values,
  };
}

const APT_OPTS = [
  '-y',
  '-q',
  '-o',
  'Dpkg::Options::=--force-confdef',
  '-o',
  'Dpkg::Options::=--force-confold',
  '-o',
  'DPkg::Lock::Timeout=120',
];

/**
 * A host that went down during an install (a power cut, a node add cut off) leaves dpkg interrupted: apt then refuses
 * every command ("dpkg was interrupted, you must manually run 'dpkg --configure -a'"). apt's own test is a file in
 * dpkg's updates folder; `dpkg --audit` also lists packages left unpacked or half-configured. Either way dpkg finishes
 * its work first, keeping the configuration files as they are, so that a re-run completes what was cut off.
 */
export const DPKG_RECOVER =
  'if [ -n "$(ls -A /var/lib/dpkg/updates 2>/dev/null)" ] || [ -n "$(dpkg --audit 2>/dev/null)" ]; then ' +
  'dpkg --force-confdef --force-confold --configure -a; fi';

/** Where Debian's invoke-rc.d and deb-systemd-invoke ask whether a service may start. */
const POLICY_RC_D = '/usr/sbin/policy-rc.d';
/** The line that marks a policy-rc.d as Furrow's own (policy_rc_d), never an operator's. */
const POLICY_RC_D_MARK = '# furrow package policy_rc_d';

/** Where policy_rc_d keeps the operator's policy-rc.d (saved), and writes its own before the rename (next). */
function policyRcDBeside(file: string): { saved: string; next: string } {
  return { saved: `${file}.furrow-saved`, next: `${file}.furrow-new` };
}

/**
 * Defines furrow_policy_restore and runs it: it puts back the policy-rc.d that policy_rc_d moved
 * aside. It runs before every apt transaction (a run cut off by SIGKILL or a crash left Furrow's
 * file in place, which would keep every later package's services from starting), right after the
 * transaction, and when the script is ended by a signal. Furrow's own file (the mark) goes; the
 * saved one comes back where no policy-rc.d is left. An operator's policy-rc.d is never touched.
 */
export function policyRcDRestore(file = POLICY_RC_D): string {
  const { saved, next } = policyRcDBeside(file);
  return (
    sh`furrow_policy_restore() { if [ -f ${next} ]; then rm -f ${next}; fi; if [ -f ${file} ] && grep -qxF ` +
    sh`${POLICY_RC_D_MARK} ${file}; then rm -f ${file}; fi; if [ ! -e ${file} ] && [ ! -L ${file} ] && ` +
    sh`{ [ -e ${saved} ] || [ -L ${saved} ]; }; then mv -f ${saved} ${file}; fi; }; furrow_policy_restore`
  );
}

/**
 * Makes `file` exit `code`, the operator's own policy-rc.d (if any) moved aside (policyRcDRestore).
 * Written beside it and renamed, so `file` is never a half-written script.
 */
export function policyRcDSetup(code: number, file = POLICY_RC_D): string {
  const { saved, next } = policyRcDBeside(file);
  return [
    "trap 'furrow_policy_restore' EXIT",
    "trap 'exit 129' HUP",
    "trap 'exit 130' INT",
    "trap 'exit 143' TERM",
    sh`if [ -e ${file} ] || [ -L ${file} ]; then mv -f ${file} ${saved} || exit 1; fi`,
    sh`{ printf '#!/bin/sh\\n%s\\nexit %s\\n' ${POLICY_RC_D_MARK} ${String(code)} > ${next} && ` +
      sh`chmod 0755 ${next} && mv -f ${next} ${file}; } || exit 1`,
  ].join('\n');
}

/** The shell script that carries out a decision, all names in one transaction per verb. */
export function packageCommands(d: PackageDecision, params: PackageParams): string[] {
  if (d.manager === 'apt') {
    const cmds = ['export DEBIAN_FRONTEND=noninteractive', DPKG_RECOVER];
    if (d.updateCache) cmds.push(sh`apt-get update -q && mkdir -p /var/lib/apt/periodic && touch ${APT_UPDATE_STAMP}`);
    const recommends = toFlag(params.install_recommends, 'package', 'install_recommends', false)
      ? '--install-recommends'
      : '--no-install-recommends';
    const add = [...d.install, ...d.upgrade];
    if (add.length) cmds.push(sh`apt-get install ${APT_OPTS} ${recommends} ${add}`);
    if (d.remove.length)
      cmds.push(
        sh`apt-get ${raw(toFlag(params.purge, 'package', 'purge', false) ? 'purge' : 'remove')} ` +
          sh`${APT_OPTS} ${d.remove}`,
      );
    return cmds;
  }
  const tool = raw(d.manager);
  const common = [
    '-y',
    ...(toFlag(params.update_cache, 'package', 'update_cache', false) ? ['--refresh'] : []),
    ...(toFlag(params.install_recommends, 'package', 'install_recommends', false)
      ? []
      : ['--setopt=install_weak_deps=False']),
  ];
  const cmds: string[] = [];
  if (d.install.length) cmds.push(sh`${tool} install ${common} ${d.install}`);
  if (d.upgrade.length)
    cmds.push(sh`${tool} ${raw(d.manager === 'dnf' ? 'upgrade' : 'update')} ${common} ${d.upgrade}`);
  if (d.remove.length) cmds.push(sh`${tool} remove -y ${d.remove}`);
  return cmds;
}

interface PackagePlanData {
  decision: PackageDecision;
  names: string[];
}

function forcedManager(alias: string, params: PackageParams): PackageManager | undefined {
  if (alias !== 'package') return alias as PackageManager;
  return params.use && params.use !== 'auto' ? params.use : undefined;
}

async function probe(
  ctx: ModuleContext,
  names: string[],
  params: PackageParams,
  manager?: PackageManager,
): Promise<PackageProbe> {
  const upgrades = params.state === 'latest';
  const apt = upgrades || params.cache_valid_time !== undefined ? 'always' : 'if-missing';
  const cmd = packageProbeCommand(names, { ...(manager ? { manager } : {}), upgrades, apt });
  const r = await ctx.conn.exec(cmd);
  const stdout = r.stdout.toString();
  if (!stdout.includes('### manager')) {
    throw commandFailed(ctx.host, `package: probing ${names.join(' ')}`, r);
  }
  return parsePackageProbe(stdout, names);
}

function lastLines(text: string, n = 20): string {
  return text.trim().split('\n').slice(-n).join('\n');
}

function makePackageModule(alias: 'package' | PackageManager): Module<PackageParams, PackagePlanData> {
  return {
    name: alias,
    schema: packageSchema,
    async plan(ctx, params): Promise<Plan<PackagePlanData>> {
      const names = packageNames(params);
      const found = await probe(ctx, names, params, forcedManager(alias, params));
      if (found.manager === 'none') {
        const want = forcedManager(alias, params);
        throw new PackageManagerMissing(
          ctx.host,
          want ? `${want} is not installed on the host` : 'the host has none of apt-get, dnf and yum',
        );
      }
      const decision = decidePackages(params, { ...found, manager: found.manager }, names);
      const { reason, values } = describeDecision(decision, names, found, params.state ?? 'present');
      return {
        action: actionOf(decision),
        reason,
        ...(values.length ? { diff: { values } } : {}),
        data: { decision, names },
      };
    },
    async apply(ctx, plan, params): Promise<ApplyResult> {
      const { decision, names } = plan.data!;
      // The transaction, then (only if it worked) the probe again for the versions now installed.
      const check = packageProbeCommand(names, { manager: decision.manager, apt: 'if-missing' });
      const apt = decision.manager === 'apt';
      const policy = apt && params.policy_rc_d !== undefined ? `${policyRcDSetup(params.policy_rc_d)}\n` : '';
      const restore = policy ? 'furrow_policy_restore\ntrap - EXIT HUP INT TERM\n' : '';
      const script =
        `${apt ? `${policyRcDRestore()}\n` : ''}${policy}` +
        `{\n${packageCommands(decision, params).join(' &&\n')}\n} 2>&1\nrc=$?\n${restore}[ $rc -ne 0 ` +
        `] && exit $rc\n${check}\nexit 0`;
      const r = await ctx.conn.exec(script, { timeoutMs: 30 * 60_000 });
      const output = r.stdout.toString();
      if (r.code !== 0) {
        return {
          failed: true,
          msg: `${ctx.host}: ${decision.manager} failed (${howItEnded(r)}):\n${lastLines(output)}`,
          output: { rc: r.code, stdout: output },
        };
      }
      const after = parsePackageProbe(output, names);
      const versions = Object.fromEntries(names.map((n) => [n, after.installed.get(n)?.version ?? 'absent']));
      return { output: { rc: 0, versions, stdout: output.split('\n### manager')[0] } };
    },
  };
}

/** No package manager the module knows: fails the task with what was looked for. */
export class PackageManagerMissing extends FurrowError {
  constructor(
    readonly host: string,
    detail: string,
  ) {
    super('module', `${host}: package: ${detail}`);
  }
}

export const packageModule = makePackageModule('package');
export const aptModule = makePackageModule('apt');
export const dnfModule = makePackageModule('dnf');
export const yumModule = makePackageModule('yum');
