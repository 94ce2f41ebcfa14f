import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { resolveRepoPath, serveRepo, type RepoServer } from '../../../src/repo/serve.js';

/** A raw request, so paths like /../x reach the server as written (fetch would normalise them). */
function request(
  url: string,
  rawPath: string,
  method = 'GET',
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: hostname, port, path: rawPath, method }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

describe('serveRepo: a read-only static server on one address', () => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'furrow-serve-test-'));
  const repo = path.join(root, 'repo');
  let server: RepoServer;

  beforeAll(async () => {
    mkdirSync(path.join(repo, 'pool'), { recursive: true });
    writeFileSync(path.join(repo, 'Packages'), 'Package: x\n');
    writeFileSync(path.join(repo, 'pool', 'x_1_all.deb'), Buffer.from([1, 2, 3]));
    writeFileSync(path.join(root, 'secret'), 'outside');
    symlinkSync(path.join(root, 'secret'), path.join(repo, 'escape'));
    server = await serveRepo(repo, { host: '127.0.0.1' });
  });

  afterAll(async () => {
    await server.close();
    rmSync(root, { recursive: true, force: true });
  });

  test('GET serves files with their length; HEAD sends headers only', async () => {
    expect(server.url).toBe(`http://127.0.0.1:${server.port}/`);
    const get = await request(server.url, '/Packages');
    expect([get.status, get.body, get.headers['content-length']]).toEqual([200, 'Package: x\n', '11']);
    const deb = await request(server.url, '/pool/x_1_all.deb');
    expect([deb.status, deb.headers['content-type'], deb.body.length]).toEqual([
      200,
      'application/vnd.debian.binary-package',
      3,
    ]);
    const head = await request(server.url, '/pool/x_1_all.deb', 'HEAD');
    expect([head.status, head.headers['content-length'], head.body]).toEqual([200, '3', '']);
  });

  test('nothing outside the folder: .., encoded .., symlinks out, directories, other methods', async () => {
    for (const p of [
      '/../secret',
      '/pool/../../secret',
      '/%2e%2e/secret',
      '/pool%2f..%2f..%2fsecret',
      '/escape',
      '/pool',
      '/',
      '/missing',
    ]) {
      expect([p, (await request(server.url, p)).status]).toEqual([p, 404]);
    }
    expect((await request(server.url, '/Packages', 'POST')).status).toBe(405);
    expect((await request(server.url, '/Packages', 'DELETE')).status).toBe(405);
  });

  test('resolveRepoPath maps only files under the root', async () => {
    expect(await resolveRepoPath(repo, '/pool/x_1_all.deb?x=1')).toBe(path.join(repo, 'pool', 'x_1_all.deb'));
    expect(await resolveRepoPath(repo, '/a%00b')).toBeUndefined();
    expect(await resolveRepoPath(repo, '/%E0%A4%A')).toBeUndefined();
  });

  test('refuses to listen on every interface', async () => {
    await expect(serveRepo(repo, { host: '0.0.0.0' })).rejects.toThrow(/'0\.0\.0\.0' is not one address/);
    await expect(serveRepo(repo, { host: '::' })).rejects.toThrow(/is not one address/);
    await expect(serveRepo(repo, { host: 'localhost' })).rejects.toThrow(/is not one address/);
  });
});
