/**
 * A real registry for tests: Debian's docker-registry (distribution 2.8) on loopback, storage in a
 * temporary folder, optionally behind htpasswd Basic auth or Bearer token auth (a token server in
 * this process signs RS256 JWTs with a self-signed certificate the registry trusts).
 *
 * Requests are counted by a small HTTP proxy in this process that stands in front of the registry
 * and forwards every request unchanged (Host included, so the registry's upload Locations point at
 * it): `requestCount()` is the number of HTTP requests the proxy received, counted when each
 * arrives, so it is exact the moment a client's call returns (the registry's own access log is
 * written after the response and would race). Token requests are counted apart.
 *
 * With `redirectBlobs`, the proxy answers a successful blob GET with a 307 to a separate "object
 * storage" server (another port, so another origin) that serves the blob from the registry's
 * storage folder and records the headers it was sent, as registries on S3 or GCS redirect.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createReadStream, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { RegistryAuth } from '../../src/bundle/registry/index.js';
import { webcrypto, x509 } from '../../src/pki/x509.js';

export { pushTestImages, pushImage, type TestImage, type TestImages } from './images.js';

const REGISTRY_BIN = '/usr/bin/docker-registry';
const SERVICE = 'furrow-test-registry';
const ISSUER = 'furrow-test-issuer';

export interface StartRegistryOptions {
  /** Credentials the registry requires: htpasswd Basic auth, or with `token` the token server's. */
  auth?: RegistryAuth;
  /** Bearer token auth through a token server on loopback (anonymous callers get tokens with no access). */
  token?: boolean;
  /** Blob GETs are redirected (307) to a separate storage server on another origin. */
  redirectBlobs?: boolean;
}

export interface StorageRequest {
  url: string;
  authorization?: string;
}

export interface TestRegistry {
  /** As written in image references: "127.0.0.1:PORT" (the counting proxy's port). */
  host: string;
  url: string;
  auth?: RegistryAuth;
  /** The registry's storage root (docker/registry/v2/...). */
  storageDir: string;
  /** HTTP requests the registry was sent, through the counting proxy. */
  requestCount(): number;
  /** Requests to the token server (0 without `token`). */
  tokenRequestCount(): number;
  /** Requests the storage server served after a redirect (empty without `redirectBlobs`). */
  storageRequests(): StorageRequest[];
  /** The file the registry keeps a blob's content in: to damage it in a test. */
  blobFile(digest: string): string;
  /** The Authorization header a pusher sends for a repository (undefined without auth). */
  authorization(repository: string, actions: string[]): Promise<string | undefined>;
  /** The registry's output, for failure messages. */
  logs(): string;
  /** Ends the registry process (by its PID) and the servers in this process, and removes the folder. */
  stop(): Promise<void>;
}

const run = promisify(execFile);

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

function listen(server: http.Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port));
  });
}

function closeServer(server: http.Server | undefined): Promise<void> {
  if (!server?.listening) return Promise.resolve();
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

const b64url = (data: Buffer | string) => Buffer.from(data).toString('base64url');

/** A signing key and self-signed certificate for the token server; the registry trusts the certificate. */
async function tokenIssuer(): Promise<{
  certPem: string;
  mint(subject: string, access: { type: string; name: string; actions: string[] }[]): Promise<string>;
}> {
  const alg = {
    name: 'RSASSA-PKCS1-v1_5',
    hash: 'SHA-256',
    publicExponent: new Uint8Array([1, 0, 1]),
    modulusLength: 2048,
  };
  const keys = (await webcrypto.subtle.generateKey(alg, true, [
    'sign',
    'verify',
  ])) as import('node:crypto').webcrypto.CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomBytes(8).toString('hex'),
    name: 'CN=furrow test token issuer',
    notBefore: new Date(Date.now() - 3600_000),
    notAfter: new Date(Date.now() + 24 * 3600_000),
    signingAlgorithm: alg,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyCertSign, true),
    ],
  });
  const x5c = [Buffer.from(cert.rawData).toString('base64')];
  return {
    certPem: cert.toString('pem'),
    async mint(subject, access) {
      const now = Math.floor(Date.now() / 1000);
      const header = b64url(JSON.stringify({ typ: 'JWT', alg: 'RS256', x5c }));
      const claims = b64url(
        JSON.stringify({
          iss: ISSUER,
          sub: subject,
          aud: SERVICE,
          exp: now + 300,
          nbf: now - 10,
          iat: now,
          jti: randomBytes(8).toString('hex'),
          access,
        }),
      );
      const signature = await webcrypto.subtle.sign(
        'RSASSA-PKCS1-v1_5',
        keys.privateKey,
        Buffer.from(`${header}.${claims}`),
      );
      return `${header}.${claims}.${b64url(Buffer.from(signature))}`;
    },
  };
}

function basicOf(header: string | undefined): RegistryAuth | undefined {
  const m = /^Basic\s+(\S+)$/i.exec(header ?? '');
  if (!m) return undefined;
  const text = Buffer.from(m[1]!, 'base64').toString('utf8');
  const colon = text.indexOf(':');
  return colon < 0 ? undefined : { username: text.slice(0, colon), password: text.slice(colon + 1) };
}

/** "repository:a/b:pull,push" -> {type, name, actions}. */
function parseScope(scope: string): { type: string; name: string; actions: string[] } | undefined {
  const first = scope.indexOf(':');
  const last = scope.lastIndexOf(':');
  if (first < 0 || last === first) return undefined;
  return {
    type: scope.slice(0, first),
    name: scope.slice(first + 1, last),
    actions: scope
      .slice(last + 1)
      .split(',')
      .filter(Boolean),
  };
}

export async function startRegistry(opts: StartRegistryOptions = {}): Promise<TestRegistry> {
  if (!existsSync(REGISTRY_BIN))
    throw new Error(
      `${REGISTRY_BIN} is missing: apt-get install docker-registry (the registry tests use Debian's registry)`,
    );
  if (opts.token && !opts.auth)
    throw new Error('startRegistry: token auth needs the credentials the token server accepts (auth)');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'furrow-registry-'));
  const storageDir = path.join(dir, 'storage');
  const servers: http.Server[] = [];
  let child: ChildProcess | undefined;
  let output = '';
  let requests = 0;
  let tokenRequests = 0;
  const storageSeen: StorageRequest[] = [];

  const stop = async () => {
    await Promise.all(servers.map(closeServer));
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((resolve) => child!.once('exit', () => resolve()));
      process.kill(child.pid!, 'SIGTERM');
      const timer = setTimeout(() => child?.pid && child.exitCode === null && process.kill(child.pid, 'SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    let authYaml = '';
    let issuer: Awaited<ReturnType<typeof tokenIssuer>> | undefined;
    let tokenUrl = '';
    if (opts.auth && !opts.token) {
      const { stdout } = await run('htpasswd', ['-nbB', opts.auth.username, opts.auth.password]);
      writeFileSync(path.join(dir, 'htpasswd'), stdout);
      authYaml = `auth:\n  htpasswd:\n    realm: furrow-test\n    path: ${path.join(dir, 'htpasswd')}\n`;
    }
    if (opts.token) {
      issuer = await tokenIssuer();
      writeFileSync(path.join(dir, 'token-ca.pem'), issuer.certPem);
      const tokenServer = http.createServer((req, res) => {
        tokenRequests++;
        const url = new URL(req.url ?? '/', 'http://x');
        const given = basicOf(req.headers.authorization);
        if (given && (given.username !== opts.auth!.username || given.password !== opts.auth!.password)) {
          res
            .writeHead(401, { 'content-type': 'application/json' })
            .end(JSON.stringify({ details: 'wrong username or password' }));
          return;
        }
        const access = given ? url.searchParams.getAll('scope').flatMap((s) => parseScope(s) ?? []) : [];
        void issuer!.mint(given?.username ?? '', access).then((token) => {
          res
            .writeHead(200, { 'content-type': 'application/json' })
            .end(JSON.stringify({ token, access_token: token, expires_in: 300, issued_at: new Date().toISOString() }));
        });
      });
      servers.push(tokenServer);
      tokenUrl = `http://127.0.0.1:${await listen(tokenServer)}/token`;
      authYaml =
        `auth:\n  token:\n    realm: ${tokenUrl}\n    service: ${SERVICE}\n    issuer: ${ISSUER}\n    ` +
        `rootcertbundle: ${path.join(dir, 'token-ca.pem')}\n`;
    }

    const port = await freePort();
    const config = path.join(dir, 'config.yml');
    writeFileSync(
      config,
      `version: 0.1\nlog:\n  level: info\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    ` +
        `rootdirectory: ${storageDir}\n  delete:\n    enabled: true\n` +
        `http:\n  addr: 127.0.0.1:${port}\n  secret: ${randomBytes(16).toString('hex')}\n${authYaml}`,
    );
    // setpriv --pdeathsig: the registry ends with this process even if it is killed before stop().
    const setpriv = existsSync('/usr/bin/setpriv');
    const proc = spawn(
      setpriv ? '/usr/bin/setpriv' : REGISTRY_BIN,
      setpriv ? ['--pdeathsig', 'TERM', REGISTRY_BIN, 'serve', config] : ['serve', config],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    child = proc;
    const keep = (d: Buffer) => {
      output = (output + d.toString()).slice(-65_536);
    };
    proc.stdout!.on('data', keep);
    proc.stderr!.on('data', keep);
    await waitReady(proc, port, () => output);

    let storageUrl = '';
    if (opts.redirectBlobs) {
      const storage = http.createServer((req, res) => {
        storageSeen.push({
          url: req.url ?? '',
          ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}),
        });
        const hex = /^\/blobs\/([a-f0-9]{64})/.exec(req.url ?? '')?.[1];
        const file = hex ? blobFile(`sha256:${hex}`) : '';
        if (!hex || !existsSync(file)) return void res.writeHead(404).end();
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        createReadStream(file).pipe(res);
      });
      servers.push(storage);
      storageUrl = `http://127.0.0.1:${await listen(storage)}`;
    }

    const proxy = http.createServer((req, res) => {
      requests++;
      const upstream = http.request(
        { host: '127.0.0.1', port, method: req.method, path: req.url, headers: req.headers },
        (answer) => {
          const blob = /\/blobs\/sha256:([a-f0-9]{64})$/.exec(req.url ?? '')?.[1];
          if (storageUrl && req.method === 'GET' && answer.statusCode === 200 && blob) {
            answer.destroy();
            res
              .writeHead(307, { location: `${storageUrl}/blobs/${blob}?X-Signature=${randomBytes(8).toString('hex')}` })
              .end();
            return;
          }
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      upstream.on('error', (err) => {
        if (!res.headersSent) res.writeHead(502);
        res.end(String(err));
      });
      req.pipe(upstream);
    });
    servers.push(proxy);
    const host = `127.0.0.1:${await listen(proxy)}`;

    function blobFile(digest: string): string {
      const hex = digest.replace(/^sha256:/, '');
      return path.join(storageDir, 'docker/registry/v2/blobs/sha256', hex.slice(0, 2), hex, 'data');
    }

    return {
      host,
      url: `http://${host}`,
      ...(opts.auth ? { auth: opts.auth } : {}),
      storageDir,
      requestCount: () => requests,
      tokenRequestCount: () => tokenRequests,
      storageRequests: () => [...storageSeen],
      blobFile,
      async authorization(repository, actions) {
        if (!opts.auth) return undefined;
        if (!issuer) return `Basic ${Buffer.from(`${opts.auth.username}:${opts.auth.password}`).toString('base64')}`;
        return `Bearer ${await issuer.mint(opts.auth.username, [{ type: 'repository', name: repository, actions }])}`;
      },
      logs: () => output,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Polls /v2/ until the registry answers (200, or 401 behind auth); fails with its output if it exits. */
async function waitReady(proc: ChildProcess, port: number, output: () => string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null || proc.signalCode !== null)
      throw new Error(`docker-registry exited (${proc.exitCode ?? proc.signalCode}) before it served:\n${output()}`);
    const status = await fetch(`http://127.0.0.1:${port}/v2/`).then(
      (r) => r.body?.cancel().then(() => r.status) ?? r.status,
      () => 0,
    );
    if (status === 200 || status === 401) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`docker-registry did not answer on 127.0.0.1:${port} within 20 s:\n${output()}`);
}
