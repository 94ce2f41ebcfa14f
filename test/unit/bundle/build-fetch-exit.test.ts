import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { EXIT } from '../../../src/engine/errors.js';
import { expectExit, furrow } from '../../lab/support.js';

const SHA = 'a'.repeat(64);

/** A loopback port nothing listens on: bound once, then closed. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** `bundle build` that cannot fetch is exit 5 (could not fetch), not 1 (a host failed), and names the URL. */
describe('bundle build when a URL cannot be fetched', () => {
  let dir: string;
  beforeAll(() => (dir = mkdtempSync(path.join(tmpdir(), 'furrow-fetch-'))));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  async function build(entry: string): Promise<Awaited<ReturnType<typeof furrow>>> {
    const manifest = path.join(dir, 'manifest.yml');
    writeFileSync(manifest, `name: fetch-test\narch: [amd64]\n${entry}`);
    return furrow(['bundle', 'build', '-m', manifest, '-o', path.join(dir, 'out.tar')], { timeoutMs: 60_000 });
  }

  test('the exit status is its own, apart from the others', () => {
    expect(EXIT.fetch).toBe(5);
    expect(Object.values(EXIT).filter((code) => code === EXIT.fetch)).toHaveLength(1);
  });

  test('a file:// URL with no file behind it', async () => {
    const url = `file://${dir}/no-such-runc`;
    const r = await build(`binaries:\n  - name: runc\n    version: 1.2.3\n    url: ${url}\n    sha256: ${SHA}\n`);
    expectExit(r, EXIT.fetch);
    expect(r.stderr).toContain(`cannot fetch ${url}: ENOENT`);
  });

  test('an http:// URL where nothing listens', async () => {
    const url = `http://127.0.0.1:${await closedPort()}/runc`;
    const r = await build(`binaries:\n  - name: runc\n    version: 1.2.3\n    url: ${url}\n    sha256: ${SHA}\n`);
    expectExit(r, EXIT.fetch);
    expect(r.stderr).toContain(`cannot fetch ${url}: ECONNREFUSED`);
  });

  test('an image whose registry does not answer', async () => {
    const registry = `127.0.0.1:${await closedPort()}`;
    const r = await build(`images:\n  - ${registry}/pause:1\n`);
    expectExit(r, EXIT.fetch);
    expect(r.stderr).toContain(registry);
    expect(r.stderr).toMatch(/connection refused/);
  });
});
