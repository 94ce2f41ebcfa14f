import { readFileSync } from 'node:fs';
import https from 'node:https';
import YAML from 'yaml';
import { InputError } from '../engine/errors.js';

/** Where an admin kubeconfig points and the identity it carries (embedded data, as Furrow writes them). */
export interface ApiAccess {
  server: string;
  ca: string;
  cert: string;
  key: string;
}

interface KubeconfigFile {
  'current-context'?: string;
  contexts?: Array<{ name: string; context: { cluster: string; user: string } }>;
  clusters?: Array<{ name: string; cluster: { server?: string; 'certificate-authority-data'?: string } }>;
  users?: Array<{ name: string; user: { 'client-certificate-data'?: string; 'client-key-data'?: string } }>;
}

const fromBase64 = (text: string | undefined) => (text ? Buffer.from(text, 'base64').toString('utf8') : '');

/** The current context's server, CA and client identity; a kubeconfig that lacks one is bad input naming the file. */
export function readKubeconfig(file: string): ApiAccess {
  const doc = YAML.parse(readFileSync(file, 'utf8')) as KubeconfigFile;
  const context = doc.contexts?.find((c) => c.name === doc['current-context']) ?? doc.contexts?.[0];
  const cluster = doc.clusters?.find((c) => c.name === context?.context.cluster) ?? doc.clusters?.[0];
  const user = doc.users?.find((u) => u.name === context?.context.user) ?? doc.users?.[0];
  const access = {
    server: cluster?.cluster.server ?? '',
    ca: fromBase64(cluster?.cluster['certificate-authority-data']),
    cert: fromBase64(user?.user['client-certificate-data']),
    key: fromBase64(user?.user['client-key-data']),
  };
  const missing = Object.entries(access)
    .filter(([, v]) => !v)
    .map(([k]) => k);
  if (missing.length)
    throw new InputError(
      { file },
      `the kubeconfig has no ${missing.join(', ')} (embedded data is expected, as Furrow writes it)`,
      'write it again with `furrow deploy master`',
    );
  return access;
}

export interface ApiAnswer {
  status: number;
  body: string;
}

export interface ApiRequest {
  method?: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  /** Sent as JSON. */
  body?: unknown;
  /** For PATCH: the patch type (strategic merge by default). */
  contentType?: string;
  timeoutMs?: number;
}

/** One request to the API server over verified TLS with the kubeconfig's client certificate. */
export function apiRequest(access: ApiAccess, path: string, o: ApiRequest = {}): Promise<ApiAnswer> {
  const timeoutMs = o.timeoutMs ?? 10_000;
  const payload = o.body === undefined ? undefined : JSON.stringify(o.body);
  const contentType =
    o.contentType ?? (o.method === 'PATCH' ? 'application/strategic-merge-patch+json' : 'application/json');
  return new Promise((resolve, reject) => {
    const req = https.request(
      new URL(path, access.server),
      {
        method: o.method ?? 'GET',
        ca: access.ca,
        cert: access.cert,
        key: access.key,
        timeout: timeoutMs,
        headers: {
          accept: 'application/json',
          ...(payload ? { 'content-type': contentType, 'content-length': Buffer.byteLength(payload) } : {}),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer from ${access.server} within ${timeoutMs / 1000} s`)));
    req.on('error', reject);
    req.end(payload);
  });
}

export const apiGet = (access: ApiAccess, path: string, timeoutMs = 10_000) => apiRequest(access, path, { timeoutMs });

/** The API's own message in a failed answer (a Status object), else the body's start. */
export function apiMessage(answer: ApiAnswer): string {
  try {
    const status = JSON.parse(answer.body) as { message?: string };
    if (status.message) return `HTTP ${answer.status}: ${status.message}`;
  } catch {
    // not JSON
  }
  return `HTTP ${answer.status}: ${answer.body.trim().slice(0, 200)}`;
}
