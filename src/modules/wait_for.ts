/**
 * wait_for: waits, on the host, until a TCP port listens (or stops), a path appears (or goes, or
 * holds a line matching search_regex), or a URL answers with a wanted status. Waiting is not a
 * change: the plan is always 'none'. The whole wait is one remote sh loop (one round trip).
 *
 * The wait runs in `plan`: the engine applies only plans that change something, and waiting only
 * reads the host. In check mode it looks once and does not wait (a check run on a fresh cluster
 * must not sit out every timeout); Ansible waits in check mode too, which we do not copy.
 * Ports on the host itself are read from /proc/net/tcp{,6} (any address, LISTEN state), so no
 * tool is needed; other hosts' ports are tried with nc, else bash's /dev/tcp under `timeout`.
 * URLs need curl or wget on the host. search_regex is a POSIX extended regex (grep -E).
 */
import type { JSONSchema } from 'json-schema-to-ts';
import { FurrowError, InputError } from '../engine/errors.js';
import type { Module, ModuleContext, Plan, ParamsOf } from '../engine/module.js';
import { intSchema, toFlag, toInt, flagSchema } from './support/param-values.js';
import { waitScript, type WaitCheck } from './support/wait-script.js';
import { commandFailed } from '../engine/command-failure.js';

export type WaitState = 'started' | 'stopped' | 'present' | 'absent';

export type WaitForParams = ParamsOf<typeof schema>;

export interface WaitResult {
  elapsed: number;
  state: WaitState;
  port?: number;
  path?: string;
  url?: string;
}

const schema = {
  type: 'object',
  properties: {
    host: {
      type: 'string',
      minLength: 1,
      description: 'Whose port to wait for.',
      examples: ['10.0.0.11'],
      default: '127.0.0.1',
    },
    port: {
      ...intSchema,
      description: 'A TCP port: wait until it listens (started) or no longer does (stopped).',
      examples: [2379],
    },
    path: {
      type: 'string',
      minLength: 1,
      description: 'A path: wait until it exists (present), holds a line matching search_regex, or is gone (absent).',
      examples: ['/run/containerd/containerd.sock'],
    },
    search_regex: {
      type: 'string',
      description: 'With path: a POSIX extended regex a line of the file must match.',
      examples: ['^ready$'],
    },
    url: {
      type: 'string',
      pattern: '^https?://',
      description: 'Wait until this URL answers with status_code (needs curl or wget on the host).',
      examples: ['https://127.0.0.1:6443/readyz'],
    },
    status_code: {
      anyOf: [intSchema, { type: 'array', items: intSchema, minItems: 1 }],
      description: 'With url: the status (or statuses) that count as up.',
      examples: [200, [200, 401]],
      default: 200,
    },
    validate_certs: {
      ...flagSchema,
      description: "With url: check the server's TLS certificate.",
      examples: [false],
      default: true,
    },
    state: {
      type: 'string',
      enum: ['started', 'stopped', 'present', 'absent'],
      description: 'started/present: wait for it to be there; stopped/absent: wait for it to be gone.',
      examples: ['stopped'],
    },
    timeout: { ...intSchema, description: 'Seconds to wait before failing.', examples: [60], default: 300 },
    delay: { ...intSchema, description: 'Seconds to wait before the first look.', examples: [5], default: 0 },
    sleep: { ...intSchema, description: 'Seconds between looks.', examples: [2], default: 1 },
    connect_timeout: {
      ...intSchema,
      description: 'Seconds one connection attempt may take.',
      examples: [3],
      default: 5,
    },
    msg: {
      type: 'string',
      description: 'The message when the wait times out.',
      examples: ['etcd did not start listening'],
    },
  },
  additionalProperties: false,
} as const satisfies JSONSchema;

export const wait_for: Module<WaitForParams, WaitResult> = {
  name: 'wait_for',
  schema,

  /** The longest the wait can last: its delay, its timeout and a last connection attempt. */
  waitsUpTo(params) {
    try {
      return (
        (toInt(params.delay, 'wait_for', 'delay') ?? 0) +
        (toInt(params.timeout, 'wait_for', 'timeout') ?? 300) +
        (toInt(params.connect_timeout, 'wait_for', 'connect_timeout', 1) ?? 5)
      );
    } catch {
      return undefined; // plan says what is wrong with them
    }
  },

  async plan(ctx, params) {
    const wait = waitSpec(ctx, params);
    const once = ctx.check;
    const budgetS = once ? wait.connectTimeout : wait.delay + wait.timeout + wait.connectTimeout;
    const r = await ctx.conn.exec(waitScript(wait, once), { timeoutMs: (budgetS + 30) * 1000 });
    const out = r.stdout.toString('utf8');
    const ok = /^@ok (\d+)$/m.exec(out);
    const result: WaitResult = { elapsed: ok ? Number(ok[1]) : wait.timeout, state: wait.state, ...wait.shown };
    if (ok)
      return {
        action: 'none',
        reason: `waiting is not a change: ${wait.what} ${wait.goal} (after ${result.elapsed} s)`,
        data: result,
      };
    if (/^@notool$/m.test(out)) throw new FurrowError('module', `${ctx.host}: wait_for: ${wait.noToolMessage}`);
    if (once && /^@timeout$/m.test(out))
      return {
        action: 'none',
        reason: `waiting is not a change: check mode does not wait for ${wait.what} to be ${wait.goal}`,
        data: result,
      };
    if (!/^@timeout$/m.test(out)) {
      throw commandFailed(ctx.host, 'wait_for: the wait script', r);
    }
    const timedOut = `wait_for: timed out after ${wait.timeout} s waiting for ${wait.what} to be ${wait.goal}`;
    throw new FurrowError('module', `${ctx.host}: ${params.msg ?? timedOut}`);
  },

  /** The wait happened in plan; this only hands its result over, for engines that apply 'none' plans. */
  async apply(_ctx, plan: Plan<WaitResult>) {
    return { output: { ...(plan.data ?? {}) }, changed: false };
  },
};

interface WaitSpec {
  check: WaitCheck;
  state: WaitState;
  timeout: number;
  delay: number;
  sleep: number;
  connectTimeout: number;
  /** For messages: "port 22 on 127.0.0.1" and "listening". */
  what: string;
  goal: string;
  noToolMessage: string;
  shown: Partial<WaitResult>;
}

const LOCAL_HOSTS = ['localhost', '127.0.0.1', '::1', '0.0.0.0', '::'];

type Times = Pick<WaitSpec, 'state' | 'timeout' | 'delay' | 'sleep' | 'connectTimeout'>;

function waitSpec(ctx: ModuleContext, p: WaitForParams): WaitSpec {
  const state = p.state ?? 'started';
  const absent = state === 'stopped' || state === 'absent';
  const times: Times = {
    state,
    timeout: toInt(p.timeout, 'wait_for', 'timeout') ?? 300,
    delay: toInt(p.delay, 'wait_for', 'delay') ?? 0,
    sleep: toInt(p.sleep, 'wait_for', 'sleep', 1) ?? 1,
    connectTimeout: toInt(p.connect_timeout, 'wait_for', 'connect_timeout', 1) ?? 5,
  };
  const given = [p.port !== undefined && 'port', p.path !== undefined && 'path', p.url !== undefined && 'url'].filter(
    Boolean,
  );
  if (given.length > 1)
    throw new InputError(
      undefined,
      `wait_for: ${given.join(' and ')} cannot go together`,
      'wait for one thing per task',
    );
  if (p.search_regex !== undefined && p.path === undefined)
    throw new InputError(
      undefined,
      'wait_for: search_regex works with path only here',
      'wait for a file and search it, or check the port alone',
    );
  if (p.port !== undefined) return portSpec(ctx, p, times, absent);
  if (p.path !== undefined) return pathSpec(p.path, p.search_regex, times, absent);
  if (p.url !== undefined) return urlSpec(p, p.url, times, absent);
  return { ...times, check: { kind: 'sleep' }, what: `${times.timeout} s`, goal: 'over', noToolMessage: '', shown: {} };
}

/** A port on the host itself is read from /proc/net; any other host's is tried over TCP. */
function portSpec(ctx: ModuleContext, p: WaitForParams, times: Times, absent: boolean): WaitSpec {
  const port = toInt(p.port, 'wait_for', 'port', 1)!;
  const host = p.host ?? '127.0.0.1';
  const local =
    LOCAL_HOSTS.includes(host) || host.startsWith('127.') || host === ctx.conn.spec.address || host === ctx.host;
  return {
    ...times,
    check: local
      ? { kind: 'listen', port, absent }
      : { kind: 'tcp', host, port, absent, connectTimeout: times.connectTimeout },
    what: `port ${port} on ${host}`,
    goal: absent ? 'closed' : 'listening',
    noToolMessage: `neither nc nor bash is installed on the host, so port ${port} on ${host} cannot be tried from it`,
    shown: { port },
  };
}

function pathSpec(path: string, regex: string | undefined, times: Times, absent: boolean): WaitSpec {
  return {
    ...times,
    check: { kind: 'path', path, absent, ...(regex !== undefined && !absent ? { regex } : {}) },
    what: path,
    goal: absent ? 'absent' : regex !== undefined ? `matching /${regex}/` : 'present',
    noToolMessage: '',
    shown: { path },
  };
}

function urlSpec(p: WaitForParams, url: string, times: Times, absent: boolean): WaitSpec {
  const codes = [p.status_code ?? 200].flat().map((c) => toInt(c, 'wait_for', 'status_code', 100)!);
  const validateCerts = toFlag(p.validate_certs, 'wait_for', 'validate_certs', true);
  return {
    ...times,
    check: { kind: 'http', url, codes, absent, validateCerts, connectTimeout: times.connectTimeout },
    what: url,
    goal: absent ? 'not answering' : `answering with status ${codes.join(' or ')}`,
    noToolMessage: `neither curl nor wget is installed on the host, so ${url} cannot be tried from it`,
    shown: { url },
  };
}
