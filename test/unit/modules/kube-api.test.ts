import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import { connect, type AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import os from 'node:os';
import path from 'node:path';
import { KubeApi } from '../../../src/modules/support/kube-api.js';
import { ensureLeaf } from '../../../src/pki/leaf.js';
import { CA } from '../../../src/pki/spec.js';

/**
 * The modules' API client against a real HTTPS server on loopback that asks for a client
 * certificate, as an apiserver does: connections (tunnels) are kept and shared between requests.
 */
let dir: string;
let server: Server;
let port: number;
let handshakes = 0;
let resumed = 0;
const read = (name: string) => readFileSync(path.join(dir, name));

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'furrow-kube-api-'));
  await ensureLeaf(dir, {
    name: 'apiserver',
    ca: CA.cluster,
    commonName: 'kube-apiserver',
    sans: { ips: ['127.0.0.1'] },
    usages: ['server'],
  });
  await ensureLeaf(dir, { name: 'admin', ca: CA.cluster, commonName: 'admin', usages: ['client'] });
  await ensureLeaf(dir, { name: 'other', ca: CA.cluster, commonName: 'other', usages: ['client'] });
  server = createServer(
    { key: read('apiserver.key'), cert: read('apiserver.crt'), ca: read('ca.crt'), requestCert: true },
    (req, res) => {
      const who = (req.socket as TLSSocket).getPeerCertificate().subject?.CN;
      // A little work per request, so that requests made together overlap.
      setTimeout(() => {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ path: req.url, who }));
      }, 5);
    },
  );
  server.on('secureConnection', (socket: TLSSocket) => {
    handshakes++;
    if (socket.isSessionReused()) resumed++;
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  await new Promise((r) => server.close(r));
  rmSync(dir, { recursive: true, force: true });
});

function client(user = 'admin'): { api: KubeApi; tunnels: () => number } {
  let opened = 0;
  const api = new KubeApi(
    { server: `https://127.0.0.1:${port}`, ca: read('ca.crt'), cert: read(`${user}.crt`), key: read(`${user}.key`) },
    async (address, to) => {
      opened++;
      return connect(to, address);
    },
  );
  return { api, tunnels: () => opened };
}

const openConnections = () => new Promise<number>((r) => server.getConnections((_e, n) => r(n)));

test('requests share kept connections: 30 at once open at most 6, and later ones open none', async () => {
  const { api, tunnels } = client();
  const before = handshakes;
  try {
    const paths = Array.from({ length: 30 }, (_, i) => `/api/v1/namespaces/n${i}`);
    const answers = await Promise.all(paths.map((p) => api.call('GET', p)));
    expect(answers.map((a) => a.body.path)).toEqual(paths);
    expect(answers.every((a) => a.status === 200 && a.body.who === 'admin')).toBe(true);
    const afterBurst = tunnels();
    expect(afterBurst).toBeGreaterThanOrEqual(2);
    expect(afterBurst).toBeLessThanOrEqual(6);
    for (let i = 0; i < 5; i++) expect((await api.call('GET', `/version/${i}`)).body.path).toBe(`/version/${i}`);
    expect(tunnels()).toBe(afterBurst);
    expect(handshakes - before).toBe(afterBurst);
  } finally {
    api.close();
  }
});

test('close ends the kept connections, and a call after it opens a new one', async () => {
  const { api, tunnels } = client();
  try {
    await api.call('GET', '/healthz');
    expect(await openConnections()).toBeGreaterThan(0);
    api.close();
    for (let i = 0; i < 50 && (await openConnections()) > 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(await openConnections()).toBe(0);
    expect((await api.call('GET', '/livez')).body.path).toBe('/livez');
    expect(tunnels()).toBe(2);
  } finally {
    api.close();
  }
});

test('a later client with the same credentials resumes the TLS session; other credentials never get it', async () => {
  const first = client();
  try {
    expect((await first.api.call('GET', '/one')).body.who).toBe('admin');
  } finally {
    first.api.close();
  }
  const before = resumed;
  const [again, other] = [client(), client('other')];
  try {
    expect((await again.api.call('GET', '/two')).body.who).toBe('admin');
    expect(resumed - before).toBe(1);
    // A resumed session carries its client's identity: another kubeconfig's client shakes hands anew.
    expect((await other.api.call('GET', '/three')).body.who).toBe('other');
    expect(resumed - before).toBe(1);
  } finally {
    again.api.close();
    other.api.close();
  }
});
