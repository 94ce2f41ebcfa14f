/**
 * A small Kubernetes API client for modules: the credentials of a kubeconfig on the controller,
 * HTTPS over a tunnel the task host opens (so the controller needs no route to the apiserver),
 * API discovery (kind -> resource, namespaced or not), and the paths of objects.
 */
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { isIP } from 'node:net';
import type { Duplex } from 'node:stream';
import { connect as tlsConnect } from 'node:tls';
import YAML from 'yaml';
import { InputError } from '../../engine/errors.js';

export interface KubeCredentials {
  /** https://host:port, as the kubeconfig (or the api_server param) names it. */
  server: string;
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
}

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; [key: string]: unknown };
  [key: string]: unknown;
}

/** A JSON object as the API server sends it, read field by field where the shape is known. */
// biome-ignore lint/suspicious/noExplicitAny: the API's objects are open-ended; each read checks the field it uses
export type ApiObject = Record<string, any>;

export interface ApiAnswer {
  status: number;
  body: ApiObject;
}

/** Opens a TCP stream to address:port from wherever the API is reachable (the task host). */
export type Tunnel = (address: string, port: number) => Promise<Duplex>;

/** The current context's server, CA and client certificate of a kubeconfig file (data embedded). */
export function kubeCredentials(file: string): KubeCredentials {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new InputError(
      { file },
      `cannot read the kubeconfig: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      'run step 04 (master) first: it writes <cluster>/kubeconfig, or give kubeconfig: PATH',
    );
  }
  const config = (YAML.parse(text) ?? {}) as ApiObject;
  const named = (list: unknown, name: unknown): ApiObject | undefined =>
    Array.isArray(list)
      ? (list.find((e) => e?.name === name) ?? (name === undefined ? list[0] : undefined))
      : undefined;
  const context = named(config.contexts, config['current-context'])?.context ?? {};
  const cluster = named(config.clusters, context.cluster)?.cluster;
  const user = named(config.users, context.user)?.user;
  const data = (value: unknown, what: string): Buffer => {
    if (typeof value !== 'string' || value === '')
      throw new InputError(
        { file },
        `the kubeconfig has no ${what}`,
        'Furrow reads kubeconfigs with embedded data (certificate-authority-data, client-certificate-data, ' +
          'client-key-data), as furrow deploy writes them',
      );
    return Buffer.from(value, 'base64');
  };
  if (typeof cluster?.server !== 'string')
    throw new InputError(
      { file },
      'the kubeconfig names no server for its current context',
      'write clusters[].cluster.server',
    );
  return {
    server: cluster.server,
    ca: data(cluster['certificate-authority-data'], 'certificate-authority-data'),
    cert: data(user?.['client-certificate-data'], 'client-certificate-data'),
    key: data(user?.['client-key-data'], 'client-key-data'),
  };
}

/** Where a resource lives: its plural name and whether it is namespaced. */
interface Resource {
  name: string;
  namespaced: boolean;
}

export class KubeApi {
  private readonly address: string;
  private readonly port: number;
  private readonly discovered = new Map<string, Promise<Map<string, Resource>>>();

  constructor(
    private readonly credentials: KubeCredentials,
    private readonly tunnel: Tunnel,
  ) {
    const url = new URL(credentials.server);
    if (url.protocol !== 'https:') throw new Error(`the apiserver address ${credentials.server} is not https://`);
    this.address = url.hostname.replace(/^\[|\]$/g, '');
    this.port = Number(url.port || 443);
  }

  /** One request; the body is JSON unless contentType says otherwise. Never throws on an HTTP status. */
  async call(method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<ApiAnswer> {
    const socket = await this.tunnel(this.address, this.port);
    const tls = tlsConnect({
      socket,
      ca: this.credentials.ca,
      cert: this.credentials.cert,
      key: this.credentials.key,
      host: this.address,
      ...(isIP(this.address) ? {} : { servername: this.address }),
    });
    const payload =
      body === undefined ? undefined : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
    return new Promise<ApiAnswer>((resolve, reject) => {
      const req = request(
        {
          method,
          path,
          host: this.address,
          port: this.port,
          createConnection: () => tls,
          headers: {
            accept: 'application/json',
            ...(payload ? { 'content-type': contentType, 'content-length': payload.length } : {}),
          },
          timeout: 60_000,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let parsed: ApiObject;
            try {
              parsed = text ? (JSON.parse(text) as ApiObject) : {};
            } catch {
              parsed = { message: text.slice(0, 300) };
            }
            resolve({ status: res.statusCode ?? 0, body: parsed });
          });
          res.on('error', reject);
        },
      );
      req.on('timeout', () =>
        req.destroy(new Error(`${method} ${path}: no answer from ${this.credentials.server} within 60 s`)),
      );
      req.on('error', (err) => reject(new Error(`${method} ${path} at ${this.credentials.server}: ${err.message}`)));
      req.end(payload);
    });
  }

  /** Like call, but an answer outside 2xx (and outside `allowed`) is an error with the API's message. */
  async ok(
    method: string,
    path: string,
    body?: unknown,
    contentType?: string,
    allowed: number[] = [],
  ): Promise<ApiAnswer> {
    const answer = await this.call(method, path, body, contentType);
    if ((answer.status >= 200 && answer.status < 300) || allowed.includes(answer.status)) return answer;
    throw new KubeApiError(answer, `${method} ${path}`);
  }

  /** The API path of an object. */
  async objectPath(obj: KubeObject): Promise<string> {
    const resource = await this.resourceOf(obj);
    const base = obj.apiVersion.includes('/') ? `/apis/${obj.apiVersion}` : `/api/${obj.apiVersion}`;
    const ns = resource.namespaced ? `/namespaces/${encodeURIComponent(obj.metadata.namespace ?? 'default')}` : '';
    return `${base}${ns}/${resource.name}/${encodeURIComponent(obj.metadata.name)}`;
  }

  private async resourceOf(obj: KubeObject): Promise<Resource> {
    let found = this.discovered.get(obj.apiVersion);
    if (!found) {
      const path = obj.apiVersion.includes('/') ? `/apis/${obj.apiVersion}` : `/api/${obj.apiVersion}`;
      found = this.call('GET', path).then((answer) => {
        if (answer.status === 404) return new Map<string, Resource>();
        if (answer.status !== 200) throw new KubeApiError(answer, `GET ${path}`);
        const kinds = new Map<string, Resource>();
        for (const r of (answer.body.resources ?? []) as Array<{ name: string; kind: string; namespaced: boolean }>) {
          if (!r.name.includes('/')) kinds.set(r.kind, { name: r.name, namespaced: r.namespaced });
        }
        return kinds;
      });
      this.discovered.set(obj.apiVersion, found);
    }
    const resource = (await found).get(obj.kind);
    if (!resource)
      throw new Error(
        `${describe(obj)}: this apiserver has no ${obj.kind} in ${obj.apiVersion} (check the apiVersion against the ` +
          `cluster's Kubernetes version)`,
      );
    return resource;
  }
}

/** An answer of the API outside 2xx, with its own message (a Status object's). */
export class KubeApiError extends Error {
  constructor(
    readonly answer: ApiAnswer,
    what: string,
  ) {
    super(
      (
        `${what}: ${answer.status} ${answer.body.reason ?? ''}: ` +
        `${answer.body.message ?? JSON.stringify(answer.body).slice(0, 300)}`
      ).replace(/ +:/, ':'),
    );
  }
}

/** "Deployment kube-system/coredns", "ClusterRole system:coredns". */
export function describe(obj: { kind: string; metadata: { name: string; namespace?: string } }): string {
  return `${obj.kind} ${obj.metadata.namespace ? `${obj.metadata.namespace}/` : ''}${obj.metadata.name}`;
}
