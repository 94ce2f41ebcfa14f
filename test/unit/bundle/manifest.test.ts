import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { InputError } from '../../../src/engine/errors.js';
import { loadManifest } from '../../../src/bundle/manifest.js';

const SHA_A = 'a'.repeat(64);
const SHA_B = 'b'.repeat(64);

describe('bundle manifest', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'furrow-manifest-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  let n = 0;
  const write = (text: string) => {
    const file = path.join(dir, `m${n++}.yml`);
    writeFileSync(file, text);
    return file;
  };
  async function errorOf(file: string, arches?: string[], env: NodeJS.ProcessEnv = {}): Promise<InputError> {
    try {
      await loadManifest(file, arches, env);
    } catch (err) {
      if (err instanceof InputError) return err;
      throw err;
    }
    throw new Error('expected an InputError');
  }

  test('versions live in one place; URLs and file names are filled in per arch', async () => {
    const m = await loadManifest(
      write(`name: test
arch: [amd64, arm64]
versions: {etcd: 3.5.16, pause: "3.10"}
binaries:
  - name: etcd
    url: https://example.invalid/etcd-v{{version}}-linux-{{arch}}.tar.gz
    sha256: {amd64: ${SHA_A}, arm64: ${SHA_B}}
    files: ["etcd-v{{version}}-linux-{{arch}}/etcd", {from: "etcd-v{{version}}-linux-{{arch}}/etcdctl", to: etcdctl}]
    hosts: etcd
  - name: runc
    version: 1.1.12
    url: file:///srv/runc.{{arch}}
    sha256: ${SHA_A}
    arch: [amd64]
images:
  - registry.k8s.io/pause:{{versions.pause}}
  - {ref: "127.0.0.1:5000/only-amd64:1", arch: [amd64]}
  - {ref: "furrow.lab/pause:1", layout: "file:///var/lib/furrow/lab-bundle/images"}
packages:
  debian: [chrony, socat]
`),
    );
    expect(m.arches).toEqual(['amd64', 'arm64']);
    expect(m.binaries.map((b) => `${b.name} ${b.version} ${b.arch} ${b.url} ${b.checksum.hex.slice(0, 1)}`)).toEqual([
      'etcd 3.5.16 amd64 https://example.invalid/etcd-v3.5.16-linux-amd64.tar.gz a',
      'etcd 3.5.16 arm64 https://example.invalid/etcd-v3.5.16-linux-arm64.tar.gz b',
      'runc 1.1.12 amd64 file:///srv/runc.amd64 a',
    ]);
    expect(m.binaries[1]!.files).toEqual([
      { from: 'etcd-v3.5.16-linux-arm64/etcd', to: 'etcd' },
      { from: 'etcd-v3.5.16-linux-arm64/etcdctl', to: 'etcdctl' },
    ]);
    expect(m.binaries[0]!.hosts).toBe('etcd');
    expect(m.binaries[2]!.hosts).toBe('all');
    expect(m.images.map((i) => `${i.ref} ${i.arches.join(',')}`)).toEqual([
      'registry.k8s.io/pause:3.10 amd64,arm64',
      '127.0.0.1:5000/only-amd64:1 amd64',
      'furrow.lab/pause:1 amd64,arm64',
    ]);
    // An image made on the build machine comes from its OCI layout, not a registry.
    expect(m.images.map((i) => i.layout)).toEqual([undefined, undefined, 'file:///var/lib/furrow/lab-bundle/images']);
    expect(m.packages).toEqual([{ family: 'debian', names: ['chrony', 'socat'] }]);
  });

  test('--arch overrides the manifest; a missing sha256 for a requested arch names the place', async () => {
    const file = write(
      `binaries:\n  - name: kubectl\n    version: 1.31.4\n    url: https://example.invalid/{{arch}}/kubectl\n    ` +
        `sha256: {amd64: ${SHA_A}}\n`,
    );
    expect((await loadManifest(file, ['amd64'])).binaries).toHaveLength(1);
    const err = await errorOf(file, ['amd64', 'arm64']);
    expect(err.message).toContain(`${file}:5:13`);
    expect(err.message).toContain("binary 'kubectl' has no sha256 for arm64");
  });

  test(
    'sha512 instead of sha256 (Kubernetes publishes sha512 for its release tarballs); one of the ' + 'two is required',
    async () => {
      const sha512 = 'c'.repeat(128);
      const file = write(
        `binaries:\n  - name: kubernetes-server\n    version: 1.31.0\n    url: ` +
          `https://example.invalid/{{arch}}.tar.gz\n    ` +
          `sha512: {amd64: ${sha512}}\n    files: [kubernetes/server/bin/kube-apiserver]\n`,
      );
      expect((await loadManifest(file, ['amd64'])).binaries.map((b) => b.checksum)).toEqual([
        { algorithm: 'sha512', hex: sha512 },
      ]);
      const neither = write(`binaries:\n  - name: x\n    version: 1\n    url: https://example.invalid/x\n`);
      expect((await errorOf(neither)).message).toMatch(/must have required property 'sha256'|sha256/);
      const short = write(
        `binaries:\n  - name: x\n    version: 1\n    url: https://example.invalid/x\n    sha512: ${'c'.repeat(64)}\n`,
      );
      expect((await errorOf(short)).message).toContain('128 lowercase hex digits');
    },
  );

  test('a download is checked against its sha512', async () => {
    const { downloadVerified } = await import('../../../src/bundle/download.js');
    const src = write('payload');
    const dest = `${src}.out`;
    const hex = createHash('sha512').update(readFileSync(src)).digest('hex');
    await expect(
      downloadVerified(`file://${src}`, { algorithm: 'sha512', hex }, dest, 'binary t', { file: 'm.yml' }),
    ).resolves.toBe(readFileSync(src).length);
    const wrong = await downloadVerified(
      `file://${src}`,
      { algorithm: 'sha512', hex: '0'.repeat(128) },
      `${dest}2`,
      'binary t',
      {
        file: 'm.yml',
      },
    ).catch((e: Error) => e);
    expect(String(wrong)).toContain(
      `binary t: the download from file://${src} has sha512 ${hex}, the manifest says ${'0'.repeat(128)}`,
    );
  });

  test('schema errors: every problem with file:line:column', async () => {
    const file = write(
      `binaries:\n  - name: etcd\n    url: ftp://x/etcd\n    sha256: nothex\nimages: [{ref: a, tags: b}]\npackages: ` +
        `{debian: [Chrony]}\n`,
    );
    const err = await errorOf(file);
    expect(err.message).toContain('problems in the bundle manifest');
    expect(err.message).toMatch(new RegExp(`${file}:3:10: .*http://, https:// or file://`));
    expect(err.message).toMatch(new RegExp(`${file}:4:13: .*64 lowercase hex digits`));
    expect(err.message).toContain(`${file}:5:19: unknown key 'tags'`);
    expect(err.message).toMatch(new RegExp(`${file}:6:21: .*Debian package name`));
  });

  test('undefined template names, a binary without a version, two binaries writing one file', async () => {
    const file = write(`versions: {etcd: 1}
binaries:
  - {name: a, url: "https://x/{{versions.nope}}", sha256: ${SHA_A}, version: 1}
  - {name: b, url: "https://x/b", sha256: ${SHA_A}}
  - {name: c, url: "https://x/c", sha256: ${SHA_A}, version: 1, files: [x/a]}
`);
    const err = await errorOf(file);
    expect(err.message).toContain(`${file}:3:`);
    expect(err.message).toContain('cannot fill in "https://x/{{versions.nope}}"');
    expect(err.message).toContain("binary 'b' has no version");
    expect(err.message).toContain("bin/amd64/a would come from two binaries ('a' and 'c')");
  });

  test('registry passwords come from the environment; a missing one is an input error', async () => {
    const file = write(
      `registries:\n  127.0.0.1:5000:\n    insecure: true\n    mirrors: [http://127.0.0.1:5001]\n    auth: ` +
        `{username: u, password_env: REG_PW}\n`,
    );
    expect((await loadManifest(file, undefined, { REG_PW: 's3cret' })).registries).toEqual({
      '127.0.0.1:5000': {
        insecure: true,
        mirrors: ['http://127.0.0.1:5001'],
        auth: { username: 'u', password: 's3cret' },
      },
    });
    const err = await errorOf(file);
    expect(err.message).toContain('registry 127.0.0.1:5000: no password');
    expect(err.message).toContain('set the environment variable REG_PW');
    expect(err.message).not.toContain('s3cret');
  });

  test("Furrow's default manifest is valid and lists every binary for amd64 and arm64", async () => {
    const file = path.resolve('bundle/manifest.yml');
    expect(existsSync(file)).toBe(true);
    const m = await loadManifest(file, ['amd64', 'arm64']);
    const names = new Set(m.binaries.map((b) => b.name));
    for (const name of ['etcd', 'containerd', 'runc', 'crictl', 'cni-plugins', 'kubernetes-server', 'kubernetes-node'])
      expect(names).toContain(name);
    // The Kubernetes set is one version, from the release tarballs, checked by their published sha512.
    const k8s = m.binaries.filter((b) => b.name.startsWith('kubernetes-') && b.arch === 'amd64');
    expect(k8s.flatMap((b) => b.files!.map((f) => f.to)).sort()).toEqual([
      'kube-apiserver',
      'kube-controller-manager',
      'kube-proxy',
      'kube-scheduler',
      'kubectl',
      'kubelet',
    ]);
    expect(new Set(k8s.map((b) => `${b.version} ${b.checksum.algorithm}`))).toEqual(new Set(['1.31.0 sha512']));
    for (const name of names)
      expect(
        m.binaries
          .filter((b) => b.name === name)
          .map((b) => b.arch)
          .sort(),
      ).toEqual(['amd64', 'arm64']);
    expect(m.images.length).toBeGreaterThan(0);
  });
});
