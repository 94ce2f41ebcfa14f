/**
 * A small Kubernetes API client for modules: the credentials of a kubeconfig on the controller,
 * HTTPS over a tunnel the task host opens (so the controller needs no route to the apiserver),
 * API discovery (kind -> resource, namespaced or not), and the paths of objects.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
// Plain HTTP's request and agent: the agent's connections are TLS already (TunnelAgent).
import { Agent, type AgentOptions, request } from 'node:http';
import { isIP } from 'node:net';
import type { Duplex } from 'node:stream';
import { createSecureContext, type SecureContext, connect as tlsConnect } from 'node:tls';
import PQueue from 'p-queue';
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

/** Requests to one apiserver in flight at once (the rest wait for a connection). */
const MAX_CONNECTIONS = 6;

/**
 * TLS state shared by every client of this process with the same server and credentials (each k8s
 * task makes its own): the context is costly to build from the PEMs, and a session the apiserver
 * resumes skips the handshake's signatures and certificate checks on both ends. A session the
 * server does not resume costs nothing more than a full handshake.
 */
const tlsByCredentials = new Map<string, { context: SecureContext; session?: Buffer }>();

function sharedTls(credentials: KubeCredentials): { context: SecureContext; session?: Buffer } {
  const id = createHash('sha256');
  for (const part of [credentials.server, credentials.ca, credentials.cert, credentials.key])
    id.update(`${part.length}:`).update(part);
  const key = id.digest('hex');
  let found = tlsByCredentials.get(key);
  if (!found) {
    const { ca, cert, key: privateKey } = credentials;
    found = { context: createSecureContext({ ca, cert, key: privateKey }) };
    tlsByCredentials.set(key, found);
  }
  return found;
}

/** An HTTP agent whose connections are TLS over a tunnel the task host opens. */
class TunnelAgent extends Agent {
  constructor(
    options: AgentOptions,
    private readonly open: () => Promise<Duplex>,
  ) {
    super(options);
  }

  // Node's agent takes the socket from this callback when the method returns nothing.
  override createConnection(_options: unknown, done: (err: Error | null, socket?: Duplex) => void): undefined {
    this.open().then(
      (socket) => done(null, socket),
      (err: Error) => done(err),
    );
    return undefined;
  }
}

export class KubeApi {
  private readonly address: string;
  private readonly port: number;
  private readonly discovered = new Map<string, Promise<Map<string, Resource>>>();

  /**
   * Keeps up to MAX_CONNECTIONS tunnels with their TLS sessions open between requests: a manifest's
   * objects are planned at once, and a tunnel and a handshake per request cost more than the request.
   */
  private readonly agent: Agent;
  /**
   * The agent's own bound (maxSockets) does not hold here: it counts a connection once it is
   * made, and a tunnel is made asynchronously, so requests made together would each open one.
   */
  private readonly inFlight = new PQueue({ concurrency: MAX_CONNECTIONS });

  constructor(
    private readonly credentials: KubeCredentials,
    tunnel: Tunnel,
  ) {
    const url = new URL(credentials.server);
    if (url.protocol !== 'https:') throw new Error(`the apiserver address ${credentials.server} is not https://`);
    this.address = url.hostname.replace(/^\[|\]$/g, '');
    this.port = Number(url.port || 443);
    const tls = sharedTls(credentials);
    this.agent = new TunnelAgent({ keepAlive: true, maxSockets: MAX_CONNECTIONS }, async () => {
      const socket = tlsConnect({
        socket: await tunnel(this.address, this.port),
        secureContext: tls.context,
        ...(tls.session ? { session: tls.session } : {}),
        host: this.address,
        ...(isIP(this.address) ? {} : { servername: this.address }),
      });
      socket.on('session', (session: Buffer) => {
        tls.session = session;
      });
      return socket;
    });
  }

  /** Closes the connections kept open between requests; a call after it opens new ones. */
  close(): void {
    this.agent.destroy();
  }

  /** One request; the body is JSON unless contentType says otherwise. Never throws on an HTTP status. */
  call(method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<ApiAnswer> {
    return this.inFlight.add(() => this.request(method, path, body, contentType), { throwOnTimeout: true });
  }

  private request(method: string, path: string, body: unknown, contentType: string): Promise<ApiAnswer> {
    const payload =
      body === undefined ? undefined : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
    return new Promise<ApiAnswer>((resolve, reject) => {
      const req = request(
        {
          method,
          path,
          host: this.address,
          port: this.port,
          agent: this.agent,
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
