import { createHash } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import * as tar from 'tar';
import type { BundleIndex } from '../../src/bundle/format.js';
import { unpackDebs } from '../support/deb-files.js';
import { DEBIAN_PATHS } from '../support/runtime-binaries.js';
import { pushTestImages, startRegistry, type TestRegistry } from '../support/registry.js';
import { changedCounts, describeLab, expectExit, furrow, LabHosts, labTestName } from './support.js';

/**
 * `furrow bundle` end to end, with nothing outside this machine: images from real registries on
 * loopback (Debian's docker-registry, one behind basic auth) holding images the test builds,
 * binaries from an HTTP server on loopback and from file URLs (containerd and runc from Debian's
 * packages, packed the way upstream ships them), and a Debian package. Then a 3-host lab with no
 * route out: preload, the containerd role from the bundle's binaries, images listed by containerd
 * with the bundle's digests, the package installed offline, and re-runs that move nothing.
 */
const NAME = labTestName('t-bundle');
const HOSTS = ['h1', 'h2', 'h3'];
const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

/** A static file server on loopback that counts the requests it answers. */
async function fileServer(root: string): Promise<{ url: string; requests: () => number; close: () => Promise<void> }> {
  let count = 0;
  const server = http.createServer((req, res) => {
    count++;
    const file = path.join(root, path.normalize(decodeURIComponent(req.url ?? '/')).replace(/^(\.\.[/\\])+/, ''));
    if (!existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-length': statSync(file).size });
    res.end(readFileSync(file));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests: () => count,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

describeLab('furrow bundle: build, verify, ls and preload on 3 lab hosts', () => {
  const cwd = mkdtempSync(path.join(os.tmpdir(), 'furrow-bundle-lab-'));
  const files = path.join(cwd, 'files');
  const out = path.join(cwd, 'site.tar');
  const manifestFile = path.join(cwd, 'manifest.yml');
  const cluster = path.join(cwd, 'cluster');
  const hosts = new LabHosts();
  let registry: TestRegistry;
  let authRegistry: TestRegistry;
  let server: Awaited<ReturnType<typeof fileServer>>;
  let images: Awaited<ReturnType<typeof pushTestImages>>;
  let debs: Awaited<ReturnType<typeof unpackDebs>> | undefined;
  /** Set before lab up: a lab that failed to boot halfway must be taken down too. */
  let labStarted = false;
  const requests = () => server.requests() + registry.requestCount() + authRegistry.requestCount();

  const on = hosts.on;

  const manifest = (containerdSha: string, runcSha: string, dockerSha: string) => `name: lab-bundle
arch: [amd64]
versions: {containerd: 1.6.20, runc: 1.1.5, docker: 20.10.24}
registries:
  ${authRegistry.host}:
    auth: {username: furrow, password_env: FURROW_TEST_REGISTRY_PASSWORD}
binaries:
  - name: containerd
    url: ${server.url}/containerd-{{version}}-linux-{{arch}}.tar.gz
    sha256: {amd64: ${containerdSha}}
    files: [bin/containerd, bin/containerd-shim-runc-v2, bin/ctr]
    hosts: kube_master:kube_node
  - name: runc
    url: ${pathToFileURL(path.join(files, 'runc.amd64')).href.replace('amd64', '{{arch}}')}
    sha256: ${runcSha}
    hosts: kube_master:kube_node
  - name: docker
    url: ${server.url}/docker-{{version}}.tgz
    sha256: ${dockerSha}
    files: [docker/dockerd, docker/docker, docker/docker-proxy, docker/docker-init]
    hosts: h3
images:
${images.refs
  .map((r) => (r === images.multiArchRef ? `  - {ref: "${r}", arch: [amd64, arm64]}` : `  - ${r}`))
  .join('\n')}
  - ${images.authRef.replace(images.authRegistryHost, authRegistry.host)}
packages:
  debian: [tree, jq]
`;

  beforeAll(async () => {
    mkdirSync(files);
    [registry, authRegistry] = await Promise.all([
      startRegistry(),
      startRegistry({ auth: { username: 'furrow', password: 'lab-secret' } }),
    ]);
    images = await pushTestImages(registry, authRegistry);
    server = await fileServer(files);
    // containerd's release tarball holds bin/containerd, bin/containerd-shim-runc-v2, bin/ctr; runc ships as
    // runc.<arch>.
    // docker's static tarball holds docker/dockerd, docker/docker, ...
    debs = await unpackDebs(['containerd', 'runc', 'docker.io', 'tini']);
    const stage = path.join(cwd, 'stage');
    const pack = async (dir: string, names: string[], file: string) => {
      mkdirSync(path.join(stage, dir), { recursive: true });
      for (const b of names) copyFileSync(path.join(debs!.root, DEBIAN_PATHS[b]!), path.join(stage, dir, b));
      await tar.c(
        { gzip: true, cwd: stage, file: path.join(files, file), portable: true },
        names.map((b) => `${dir}/${b}`),
      );
    };
    await pack('bin', ['containerd', 'containerd-shim-runc-v2', 'ctr'], 'containerd-1.6.20-linux-amd64.tar.gz');
    await pack('docker', ['dockerd', 'docker', 'docker-proxy', 'docker-init'], 'docker-20.10.24.tgz');
    copyFileSync(path.join(debs.root, DEBIAN_PATHS.runc!), path.join(files, 'runc.amd64'));
    writeFileSync(
      manifestFile,
      manifest(
        ...(['containerd-1.6.20-linux-amd64.tar.gz', 'runc.amd64', 'docker-20.10.24.tgz'].map((f) =>
          sha256(path.join(files, f)),
        ) as [string, string, string]),
      ),
    );
  }, 300_000);

  afterAll(async () => {
    await hosts.close();
    if (labStarted) await furrow(['lab', 'down', '--name', NAME], { cwd });
    await Promise.allSettled([registry?.stop(), authRegistry?.stop(), server?.close(), debs?.done()]);
    rmSync(cwd, { recursive: true, force: true });
  }, 120_000);

  const env = { FURROW_TEST_REGISTRY_PASSWORD: 'lab-secret' };
  const build = (...extra: string[]) =>
    furrow(['bundle', 'build', '-m', manifestFile, '-o', out, ...extra], { cwd, env });

  test('build fetches every item, verifies it, and writes one tar with bundle.json first', async () => {
    const r = await build();
    expectExit(r, 0);
    expect(r.stdout).toMatch(/binary containerd 1\.6\.20 amd64: fetched/);
    expect(r.stdout).toMatch(/binary runc 1\.1\.5 amd64: fetched/);
    expect(existsSync(`${out}.parts`)).toBe(false);
    const names: string[] = [];
    await tar.t({ file: out, onReadEntry: (e) => names.push(e.path) });
    expect(names[0]).toBe('bundle.json');
    expect(names).toEqual(
      expect.arrayContaining([
        'bin/amd64/containerd',
        'bin/amd64/containerd-shim-runc-v2',
        'bin/amd64/ctr',
        'bin/amd64/runc',
        'images/index.json',
        'images/oci-layout',
        'repo/debian/Packages',
      ]),
    );
    expect(names.some((n) => /^repo\/debian\/pool\/tree_.*\.deb$/.test(n))).toBe(true);
    // Each blob once, however many images and arches share it.
    expect(new Set(names).size).toBe(names.length);
    const index = JSON.parse((await furrow(['bundle', 'ls', out, '--json'], { cwd })).stdout) as BundleIndex;
    const shared = images.sharedLayer;
    expect(names.filter((n) => n === `images/blobs/sha256/${shared.replace('sha256:', '')}`)).toHaveLength(1);
    expect(index.files.find((f) => f.path.endsWith(shared.replace('sha256:', '')))!.item).toMatch(/image .*, image /);
    // The multi-arch image keeps its index (the registry's digest) and both platforms.
    const multi = index.images.find((i) => i.ref === images.multiArchRef)!;
    expect(multi.digest).toBe(images.digests[images.multiArchRef]);
    expect(multi.platforms.map((p) => p.arch).sort()).toEqual(['amd64', 'arm64']);
    for (const ref of images.refs) expect(index.images.find((i) => i.ref === ref)!.digest).toBe(images.digests[ref]);
    expect(index.packages!.packages.map((p) => p.name)).toEqual(expect.arrayContaining(['tree', 'jq', 'libjq1']));
  }, 300_000);

  test('ls lists binaries, images with digests and packages; verify passes', async () => {
    const ls = await furrow(['bundle', 'ls', out], { cwd });
    expectExit(ls, 0);
    expect(ls.stdout).toMatch(/containerd 1\.6\.20 amd64 {2}containerd containerd-shim-runc-v2 ctr/);
    for (const ref of images.refs) expect(ls.stdout).toContain(images.digests[ref]!);
    expect(ls.stdout).toMatch(/packages \(debian, debian 12 bookworm, amd64\)/);
    const v = await furrow(['bundle', 'verify', out], { cwd });
    expectExit(v, 0);
    expect(v.stdout).toMatch(/ok, \d+ files match bundle\.json/);
  });

  test('a second build fetches nothing and leaves the file as it was', async () => {
    const before = { requests: requests(), sha: sha256(out), mtime: statSync(out).mtimeMs };
    const r = await build();
    expectExit(r, 0);
    expect(r.stdout).toContain('fetched: 0 binaries, 0 image blobs, 0 packages');
    expect(requests()).toBe(before.requests);
    expect(sha256(out)).toBe(before.sha);
    expect(statSync(out).mtimeMs).toBe(before.mtime);
  }, 300_000);

  test('one flipped byte in a copy: verify fails and names the item', async () => {
    const copy = path.join(cwd, 'damaged.tar');
    copyFileSync(out, copy);
    const index = JSON.parse((await furrow(['bundle', 'ls', out, '--json'], { cwd })).stdout) as BundleIndex;
    const target = index.files.find((f) => f.path === 'bin/amd64/runc')!;
    const offset = await entryOffset(copy, target.path);
    const data = readFileSync(copy);
    data[offset + 1000] = data[offset + 1000]! ^ 0xff;
    writeFileSync(copy, data);
    const v = await furrow(['bundle', 'verify', copy], { cwd });
    expectExit(v, 1);
    expect(v.stderr).toContain('binary runc 1.1.5 amd64: bin/amd64/runc has sha256');
    expect(v.stderr).toContain(`bundle.json says ${target.sha256}`);
  });

  test('a wrong sha256 in the manifest fails the build naming the item and both digests; ' +
    'nothing half-written', async () => {
    const wrong = path.join(cwd, 'wrong.yml');
    const good = sha256(path.join(files, 'runc.amd64'));
    writeFileSync(wrong, readFileSync(manifestFile, 'utf8').replace(`sha256: ${good}`, `sha256: ${'f'.repeat(64)}`));
    const target = path.join(cwd, 'wrong.tar');
    const r = await furrow(['bundle', 'build', '-m', wrong, '-o', target], { cwd, env });
    expectExit(r, 2);
    expect(r.stderr).toContain(`${wrong}:`);
    expect(r.stderr).toContain('binary runc 1.1.5 amd64');
    expect(r.stderr).toContain(`has sha256 ${good}, the manifest says ${'f'.repeat(64)}`);
    expect(existsSync(target)).toBe(false);
    const leftovers = existsSync(`${target}.parts`)
      ? readdirSync(path.join(`${target}.parts`, 'bin', 'amd64')).filter((f) => f.startsWith('runc'))
      : [];
    expect(leftovers).toEqual([]);
    rmSync(`${target}.parts`, { recursive: true, force: true });
  }, 300_000);

  describe('preload on a 3-host lab with no route out', () => {
    beforeAll(async () => {
      labStarted = true;
      expectExit(
        await furrow(['lab', 'up', '--name', NAME, '--hosts', String(HOSTS.length)], { cwd, timeoutMs: 600_000 }),
        0,
      );
      expectExit(await furrow(['new', cluster, '--from-lab', NAME, '--no-bundle'], { cwd }), 0);
      // h1 and h2 run containerd (the default), h3 docker: both import paths are checked.
      mkdirSync(path.join(cluster, 'host_vars'));
      writeFileSync(path.join(cluster, 'host_vars', 'h3.yml'), 'CONTAINER_RUNTIME: docker\n');
      await hosts.connect(path.join(cluster, 'inventory.yml'), HOSTS, cwd);
    }, 600_000);

    test('a damaged bundle is refused before anything is unpacked or any host is touched', async () => {
      const r = await furrow(['bundle', 'preload', path.join(cwd, 'damaged.tar'), '-i', cluster], { cwd });
      expectExit(r, 1);
      expect(r.stderr).toContain('is damaged; nothing was unpacked or copied');
      expect(r.stderr).toContain('binary runc 1.1.5 amd64');
      expect(existsSync(path.join(cluster, 'bundle'))).toBe(false);
      expect(await on('h1', 'ls /opt/kube/bin 2>/dev/null | wc -l')).toBe('0');
    });

    test('preload unpacks into the cluster, installs binaries and the package repository; images wait ' +
      'for the runtime', async () => {
      const r = await furrow(['bundle', 'preload', out, '-i', cluster], { cwd, timeoutMs: 600_000 });
      expectExit(r, 0);
      const index = JSON.parse(readFileSync(path.join(cluster, 'bundle', 'bundle.json'), 'utf8')) as BundleIndex;
      for (const h of HOSTS) {
        for (const name of ['containerd', 'ctr', 'runc']) {
          const want = index.files.find((f) => f.path === `bin/amd64/${name}`)!.sha256;
          expect(await on(h, `sha256sum /opt/kube/bin/${name} | cut -d' ' -f1`)).toBe(want);
        }
        // The host has no route out: the package installs from the copy of the bundle's repository.
        expect(await on(h, 'ip route show default')).toBe('');
        await on(h, 'DEBIAN_FRONTEND=noninteractive apt-get install -y -q tree jq >/dev/null');
        expect(await on(h, "dpkg-query -W -f='${Status}\\n' tree jq")).toBe(
          'install ok installed\ninstall ok installed',
        );
        expect(await on(h, `echo '{"a":1}' | jq .a`)).toBe('1');
      }
      // No runtime runs yet: its images wait for step 03 (checked below), nothing failed here.
      expect(r.stdout).toMatch(/h1 bundle \| ok: Import the bundle's images into the container runtime/);
    }, 600_000);

    test('step 03 runtime runs containerd (h1, h2) and docker (h3) from the bundle and imports its images with ' +
      'the bundle digests', async () => {
      const r = await furrow(['deploy', 'runtime', '-i', cluster], { cwd, timeoutMs: 600_000 });
      expectExit(r, 0);
      const index = JSON.parse(readFileSync(path.join(cluster, 'bundle', 'bundle.json'), 'utf8')) as BundleIndex;
      expect(index.images).toHaveLength(images.refs.length + 1);
      for (const h of ['h1', 'h2']) {
        expect(await on(h, 'systemctl is-active containerd')).toBe('active');
        // REF TYPE DIGEST ...: each image under its name, with the digest the bundle recorded.
        const listed = new Map(
          (await on(h, '/opt/kube/bin/ctr -n k8s.io images ls'))
            .split('\n')
            .slice(1)
            .map((l) => l.split(/\s+/))
            .map((f) => [f[0], f[2]] as const),
        );
        for (const image of index.images) expect(listed.get(image.name)).toBe(image.digest);
      }
      // docker knows an image by its config digest (its ID): the amd64 platform's, from the bundle.
      expect(await on('h3', 'systemctl is-active docker')).toBe('active');
      const ids = new Map(
        (await on('h3', "/opt/kube/bin/docker images --no-trunc --format '{{.Repository}}:{{.Tag}} {{.ID}}'"))
          .split('\n')
          .map((l) => l.split(' ') as [string, string]),
      );
      for (const image of index.images)
        expect(ids.get(image.name)).toBe(image.platforms.find((p) => p.arch === 'amd64')!.config);
      for (const ref of images.refs) expect(index.images.find((i) => i.ref === ref)!.digest).toBe(images.digests[ref]);
    }, 600_000);

    test('a second preload transfers nothing and imports nothing', async () => {
      const before = await on('h1', '/opt/kube/bin/ctr -n k8s.io images ls -q | wc -l');
      const dockerBefore = await on('h3', '/opt/kube/bin/docker images -q | wc -l');
      const r = await furrow(['bundle', 'preload', out, '-i', cluster], { cwd, timeoutMs: 600_000 });
      expectExit(r, 0);
      expect(r.stdout).toContain('already holds this bundle');
      expect(changedCounts(r)).toEqual({ h1: 0, h2: 0, h3: 0 });
      expect(await on('h1', '/opt/kube/bin/ctr -n k8s.io images ls -q | wc -l')).toBe(before);
      expect(await on('h3', '/opt/kube/bin/docker images -q | wc -l')).toBe(dockerBefore);
    }, 600_000);
  });
});

/** Byte offset of an entry's data in an uncompressed tar (walking the 512-byte headers). */
async function entryOffset(file: string, name: string): Promise<number> {
  const data = readFileSync(file);
  let at = 0;
  while (at + 512 <= data.length) {
    const header = new tar.Header(data.subarray(at, at + 512));
    if (!header.path) break;
    const size = header.size ?? 0;
    if (header.path === name) return at + 512;
    at += 512 + Math.ceil(size / 512) * 512;
  }
  throw new Error(`${name} is not in ${file}`);
}
