/**
 * HTTP to registries with Node's fetch: the endpoints of a registry (its mirrors, then itself),
 * authentication (anonymous, Bearer tokens from the realm a 401 names, Basic), redirects followed
 * by hand so that credentials never go to another origin, and failures turned into messages that
 * say what to do.
 */
import { InputError } from '../../engine/errors.js';
import { parseChallenges, type Challenge } from './challenge.js';
import { RegistryError, type RegistryErrorKind } from './errors.js';
import { apiHost, isLoopbackHost } from './reference.js';
import type { RegistryAuth, RegistryConfig } from './types.js';

export interface Endpoint {
  /** Scheme, host and optional path prefix, no trailing slash: requests go to `${base}/v2/<repository>/...`. */
  base: string;
  origin: string;
  /** A mirror listed in the registry's settings, or the registry itself. */
  mirror: boolean;
  /** The registry (the config key) this endpoint serves, for messages. */
  registry: string;
  auth?: RegistryAuth;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const MAX_REDIRECTS = 10;
/** How long a request may wait for the response headers. */
const HEADERS_TIMEOUT_MS = 60_000;
/** Tokens without expires_in live 60 s (the token spec); we renew a little early. */
const TOKEN_DEFAULT_SECONDS = 60;

/** A URL for messages: no query string (object-storage redirects carry signatures there) and no user info. */
export function displayUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return url.replace(/\?.*$/, '');
  }
}

function basicHeader(auth: RegistryAuth): string {
  return `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`;
}

/** Reads at most `limit` bytes of a body as text, then lets the rest go. */
export async function readSome(res: Response, limit = 16_384): Promise<string> {
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    while (total < limit) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(Buffer.from(value));
      total += value.length;
    }
  } catch {
    // A body cut short still says something in what arrived.
  } finally {
    await reader.cancel().catch(() => undefined);
  }
  return Buffer.concat(chunks).subarray(0, limit).toString('utf8');
}

export async function discard(res: Response): Promise<void> {
  await res.body?.cancel().catch(() => undefined);
}

/** The registry's own error codes from a JSON error body: "MANIFEST_UNKNOWN: manifest unknown". */
function registryErrors(body: string): string {
  try {
    const json = JSON.parse(body) as { errors?: { code?: string; message?: string }[] };
    const list = (json.errors ?? []).map((e) => [e.code, e.message].filter(Boolean).join(': ')).filter(Boolean);
    if (list.length) return list.join('; ');
  } catch {
    // not JSON: fall through to the text
  }
  return body.replace(/\s+/g, ' ').trim().slice(0, 200);
}

/** What a connection failure means and what to do, from the error fetch throws. */
function networkAdvice(err: unknown, ep: Endpoint): string {
  const cause = (err as { cause?: { code?: string; message?: string } })?.cause;
  const code = cause?.code ?? '';
  const text = cause?.message ?? (err as Error)?.message ?? String(err);
  const key = `'${ep.registry}'`;
  if (code === 'ECONNREFUSED')
    return (
      `connection refused (${code}): nothing listens there; is the ${ep.mirror ? 'mirror' : 'registry'} up and ` +
      `the address right?`
    );
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN')
    return `the host name does not resolve (${code}): check the name, and DNS on this machine`;
  if (/TIMEOUT|ETIMEDOUT/.test(code))
    return `no answer in time (${code}): check the address, and that a firewall or proxy lets this machine through`;
  if (code === 'ERR_SSL_WRONG_VERSION_NUMBER' || code === 'EPROTO' || /wrong version number/i.test(text))
    return (
      `the TLS handshake failed (${code || text}): if it serves plain http, set ` +
      `insecure: true for ${key} in the registries section`
    );
  if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ALTNAME/.test(code))
    return (
      `its TLS certificate is not trusted (${code}): give Node its CA (NODE_EXTRA_CA_CERTS=/path/ca.pem), or ` +
      `use a name the certificate is for`
    );
  return `the connection failed (${[code, text].filter(Boolean).join(': ')})`;
}

interface CachedToken {
  value: string;
  expires: number;
}

export class Transport {
  /** Bearer challenges by endpoint origin: once seen, later requests fetch a token before asking. */
  private readonly bearer = new Map<string, Challenge>();
  /** Endpoint origins that asked for Basic credentials. */
  private readonly basic = new Set<string>();
  /** Tokens by endpoint origin and scope. */
  private readonly tokens = new Map<string, CachedToken>();
  /** Token requests in flight, so parallel blob requests share one. */
  private readonly pendingTokens = new Map<string, Promise<string>>();

  constructor(private readonly config: RegistryConfig) {
    for (const [registry, settings] of Object.entries(config)) {
      for (const mirror of settings.mirrors ?? []) this.mirrorEndpoint(registry, mirror);
    }
  }

  /** The mirrors of a registry in order, then the registry itself (docker.io's API host is registry-1.docker.io). */
  endpoints(registry: string): Endpoint[] {
    const settings = this.config[registry] ?? {};
    const host = apiHost(registry);
    const insecure = settings.insecure ?? isLoopbackHost(host);
    const base = `${insecure ? 'http' : 'https'}://${host}`;
    const self: Endpoint = {
      base,
      origin: new URL(base).origin,
      mirror: false,
      registry,
      ...(settings.auth ? { auth: settings.auth } : {}),
    };
    return [...(settings.mirrors ?? []).map((m) => this.mirrorEndpoint(registry, m)), self];
  }

  private mirrorEndpoint(registry: string, mirror: string): Endpoint {
    let url: URL;
    try {
      const host = mirror.split('/')[0]!;
      const scheme = isLoopbackHost(host) || this.config[host]?.insecure ? 'http' : 'https';
      const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(mirror) ? mirror : `${scheme}://${mirror}`;
      url = new URL(withScheme);
    } catch {
      throw new InputError(
        undefined,
        `registry ${registry}: mirror '${mirror}' is not a URL`,
        'write it as http(s)://host[:port][/path], e.g. https://mirror.example',
      );
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:')
      throw new InputError(
        undefined,
        `registry ${registry}: mirror '${mirror}' is not http or https`,
        'write it as http(s)://host[:port][/path]',
      );
    if (url.search || url.username)
      throw new InputError(
        undefined,
        `registry ${registry}: mirror '${mirror}' has a query or user info`,
        "give credentials in the mirror host's own auth settings",
      );
    const base = `${url.origin}${url.pathname.replace(/\/+$/, '').replace(/\/v2$/, '')}`;
    const auth = this.config[url.host]?.auth ?? this.config[registry]?.auth;
    return { base, origin: url.origin, mirror: true, registry, ...(auth ? { auth } : {}) };
  }

  /**
   * GET `${base}/v2/<repository>/<suffix>`, authenticating as the endpoint asks. Returns a 2xx
   * response (its body unread); anything else is a RegistryError naming the image and endpoint.
   */
  async get(image: string, ep: Endpoint, repository: string, suffix: string, accept?: string): Promise<Response> {
    const url = `${ep.base}/v2/${repository}/${suffix}`;
    const scope = `repository:${repository}:pull`;
    const what = suffix.startsWith('blobs/') ? 'blob' : 'manifest';
    let authorization = await this.knownAuthorization(image, ep, scope);
    for (let attempt = 0; ; attempt++) {
      const headers: Record<string, string> = {};
      if (accept) headers.accept = accept;
      if (authorization) headers.authorization = authorization;
      const res = await this.follow(image, ep, url, headers);
      if (res.ok) return res;
      if (res.status !== 401 || attempt > 0) throw await this.failure(image, ep, url, res, what, authorization);
      const challenges = parseChallenges(res.headers.get('www-authenticate'));
      const bearer = challenges.find((c) => c.scheme === 'bearer');
      const basic = challenges.find((c) => c.scheme === 'basic');
      if (bearer) {
        await discard(res);
        this.bearer.set(ep.origin, bearer);
        authorization = `Bearer ${await this.token(image, ep, bearer, scope, true)}`;
      } else if (basic && ep.auth) {
        await discard(res);
        this.basic.add(ep.origin);
        authorization = basicHeader(ep.auth);
      } else {
        throw await this.failure(image, ep, url, res, what, authorization);
      }
    }
  }

  /** The Authorization header to send before any challenge, from what this endpoint asked for earlier. */
  private async knownAuthorization(image: string, ep: Endpoint, scope: string): Promise<string | undefined> {
    if (this.basic.has(ep.origin) && ep.auth) return basicHeader(ep.auth);
    const challenge = this.bearer.get(ep.origin);
    return challenge ? `Bearer ${await this.token(image, ep, challenge, scope, false)}` : undefined;
  }

  private token(image: string, ep: Endpoint, challenge: Challenge, scope: string, renew: boolean): Promise<string> {
    const key = `${ep.origin}|${scope}`;
    const cached = this.tokens.get(key);
    if (cached && !renew && cached.expires > Date.now()) return Promise.resolve(cached.value);
    const pending = this.pendingTokens.get(key);
    if (pending) return pending;
    const request = this.requestToken(image, ep, challenge, scope)
      .then((token) => {
        this.tokens.set(key, token);
        return token.value;
      })
      .finally(() => this.pendingTokens.delete(key));
    this.pendingTokens.set(key, request);
    return request;
  }

  private async requestToken(image: string, ep: Endpoint, challenge: Challenge, scope: string): Promise<CachedToken> {
    const realm = challenge.params.realm;
    let url: URL;
    try {
      url = new URL(realm ?? '');
    } catch {
      throw new RegistryError(
        'registry',
        image,
        `${ep.base} asked for a Bearer token but named no usable realm ('${realm ?? ''}')`,
        {
          endpoint: ep.base,
          status: 401,
        },
      );
    }
    if (challenge.params.service) url.searchParams.set('service', challenge.params.service);
    url.searchParams.append('scope', scope);
    if (ep.auth) url.searchParams.set('account', ep.auth.username);
    const started = Date.now();
    const res = await this.follow(
      image,
      { ...ep, origin: url.origin },
      url.href,
      ep.auth ? { authorization: basicHeader(ep.auth) } : {},
    );
    if (!res.ok) {
      const body = registryErrors(await readSome(res));
      const what =
        `the token server ${displayUrl(url.href)} (realm of ${ep.base}) answered ${res.status} ` +
        `${res.statusText}${body ? ` (${body})` : ''}`;
      if (res.status === 401 || res.status === 403) {
        const fix = ep.auth
          ? `it refused the credentials given for '${ep.registry}': check username and password in the bundle ` +
            `manifest's registries section`
          : `it wants credentials: add auth (username, ` +
            `password) for '${ep.registry}' in the bundle manifest's registries section`;
        throw new RegistryError('auth', image, `${what}; ${fix}`, { endpoint: ep.base, status: res.status });
      }
      throw new RegistryError('registry', image, `${what}; try again later`, { endpoint: ep.base, status: res.status });
    }
    let body: { token?: string; access_token?: string; expires_in?: number };
    try {
      body = JSON.parse(await readSome(res, 1 << 20)) as typeof body;
    } catch {
      throw new RegistryError(
        'registry',
        image,
        `the token server ${displayUrl(url.href)} answered something that is not JSON`,
        {
          endpoint: ep.base,
        },
      );
    }
    const value = body.token ?? body.access_token;
    if (!value)
      throw new RegistryError('registry', image, `the token server ${displayUrl(url.href)} answered without a token`, {
        endpoint: ep.base,
      });
    const seconds =
      typeof body.expires_in === 'number' && body.expires_in > 0 ? body.expires_in : TOKEN_DEFAULT_SECONDS;
    return { value, expires: started + seconds * 1000 - 5000 };
  }

  /** One request, following redirects by hand; Authorization only goes to the endpoint's own origin. */
  private async follow(image: string, ep: Endpoint, url: string, headers: Record<string, string>): Promise<Response> {
    let current = url;
    for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
      const sameOrigin = new URL(current).origin === ep.origin;
      const sent = sameOrigin
        ? headers
        : Object.fromEntries(Object.entries(headers).filter(([k]) => k !== 'authorization'));
      let res: Response;
      // Only the wait for the headers is bounded: a layer's body may take as long as it takes.
      const abort = new AbortController();
      const timer = setTimeout(() => abort.abort(), HEADERS_TIMEOUT_MS);
      try {
        res = await fetch(current, { headers: sent, redirect: 'manual', signal: abort.signal });
      } catch (err) {
        const why = abort.signal.aborted
          ? `no answer within ${HEADERS_TIMEOUT_MS / 1000} s: is it overloaded, or does a firewall swallow ` +
            `the connection?`
          : networkAdvice(err, ep);
        throw new RegistryError('unreachable', image, `GET ${displayUrl(current)}: ${why}`, {
          endpoint: ep.base,
          cause: err,
        });
      } finally {
        clearTimeout(timer);
      }
      const location = res.headers.get('location');
      if (!REDIRECTS.has(res.status) || !location) return res;
      await discard(res);
      current = new URL(location, current).href;
    }
    throw new RegistryError('registry', image, `GET ${displayUrl(url)}: more than ${MAX_REDIRECTS} redirects`, {
      endpoint: ep.base,
    });
  }

  private async failure(
    image: string,
    ep: Endpoint,
    url: string,
    res: Response,
    what: 'manifest' | 'blob',
    sentAuthorization: string | undefined,
  ): Promise<RegistryError> {
    const body = registryErrors(await readSome(res));
    const answered =
      `GET ${displayUrl(res.url || url)} answered ${res.status} ` + `${res.statusText}${body ? ` (${body})` : ''}`;
    const key = `'${ep.registry}'`;
    let kind: RegistryErrorKind = 'registry';
    let fix: string;
    if (res.status === 401) {
      kind = 'auth';
      fix = ep.auth
        ? `the registry refused the ` +
          `credentials given for ${key}: check username and password in the bundle manifest's registries section`
        : `the registry wants credentials: add auth ` +
          `(username, password) for ${key} in the bundle manifest's registries section`;
      if (sentAuthorization?.startsWith('Bearer') && ep.auth)
        fix =
          `the token granted no pull access: check that the ` +
          `credentials for ${key} in the registries section may pull this repository`;
    } else if (res.status === 403) {
      kind = 'auth';
      fix =
        `access denied: the ${ep.auth ? `account given for ${key}` : 'anonymous user'} may not pull this ` +
        `repository; check the name, and the credentials in the registries section`;
    } else if (res.status === 404) {
      kind = 'not-found';
      fix =
        what === 'manifest'
          ? 'no such repository, tag or digest there: check the image name and tag'
          : 'the registry lacks a blob its manifest lists: the image is broken there; push it again';
    } else if (res.status === 429) {
      fix = `rate-limited: wait and build again, or give credentials or a mirror for ${key}`;
    } else if (res.status >= 500) {
      fix = 'the registry failed: try again later, or list a mirror';
    } else {
      fix = 'an answer a registry should not give';
    }
    return new RegistryError(kind, image, `${answered}: ${fix}`, { endpoint: ep.base, status: res.status });
  }
}
