import { apiHost, isLoopbackHost, parseImageRef } from '../../../src/bundle/registry/index.js';
import { inputErrorOf } from '../../support/errors.js';

const D = `sha256:${'ab'.repeat(32)}`;

describe('parseImageRef: docker.io normalisation', () => {
  test.each([
    [
      'busybox',
      { registry: 'docker.io', repository: 'library/busybox', tag: 'latest', name: 'docker.io/library/busybox:latest' },
    ],
    [
      'busybox:1.36',
      { registry: 'docker.io', repository: 'library/busybox', tag: '1.36', name: 'docker.io/library/busybox:1.36' },
    ],
    [
      'library/busybox:1.36',
      { registry: 'docker.io', repository: 'library/busybox', tag: '1.36', name: 'docker.io/library/busybox:1.36' },
    ],
    [
      'docker.io/busybox',
      { registry: 'docker.io', repository: 'library/busybox', tag: 'latest', name: 'docker.io/library/busybox:latest' },
    ],
    [
      'index.docker.io/library/busybox:1',
      { registry: 'docker.io', repository: 'library/busybox', tag: '1', name: 'docker.io/library/busybox:1' },
    ],
    [
      'calico/node:v3.28.0',
      { registry: 'docker.io', repository: 'calico/node', tag: 'v3.28.0', name: 'docker.io/calico/node:v3.28.0' },
    ],
    [
      'registry.k8s.io/pause:3.10',
      { registry: 'registry.k8s.io', repository: 'pause', tag: '3.10', name: 'registry.k8s.io/pause:3.10' },
    ],
    [
      'quay.io/cilium/cilium:v1.16.1',
      { registry: 'quay.io', repository: 'cilium/cilium', tag: 'v1.16.1', name: 'quay.io/cilium/cilium:v1.16.1' },
    ],
  ])('%s', (ref, want) => {
    expect(parseImageRef(ref)).toEqual(want);
  });

  test('the API host of docker.io is registry-1.docker.io; others are themselves', () => {
    expect(apiHost('docker.io')).toBe('registry-1.docker.io');
    expect(apiHost('127.0.0.1:5000')).toBe('127.0.0.1:5000');
    expect(apiHost('registry-1.docker.io')).toBe('registry-1.docker.io');
  });
});

describe('parseImageRef: hosts, ports and digests', () => {
  test.each([
    [
      '127.0.0.1:5000/test/busybox:1',
      { registry: '127.0.0.1:5000', repository: 'test/busybox', tag: '1', name: '127.0.0.1:5000/test/busybox:1' },
    ],
    ['localhost/app', { registry: 'localhost', repository: 'app', tag: 'latest', name: 'localhost/app:latest' }],
    [
      'localhost:5000/app',
      { registry: 'localhost:5000', repository: 'app', tag: 'latest', name: 'localhost:5000/app:latest' },
    ],
    ['[::1]:5000/app:v1', { registry: '[::1]:5000', repository: 'app', tag: 'v1', name: '[::1]:5000/app:v1' }],
    ['Registry/app', { registry: 'Registry', repository: 'app', tag: 'latest', name: 'Registry/app:latest' }],
    ['a.b/c/d/e:x_y-z.1', { registry: 'a.b', repository: 'c/d/e', tag: 'x_y-z.1', name: 'a.b/c/d/e:x_y-z.1' }],
  ])('%s', (ref, want) => {
    expect(parseImageRef(ref)).toEqual(want);
  });

  test('by digest only: no tag, the name carries the digest', () => {
    expect(parseImageRef(`busybox@${D}`)).toEqual({
      registry: 'docker.io',
      repository: 'library/busybox',
      digest: D,
      name: `docker.io/library/busybox@${D}`,
    });
    expect(parseImageRef(`127.0.0.1:5000/x@${D}`)).toEqual({
      registry: '127.0.0.1:5000',
      repository: 'x',
      digest: D,
      name: `127.0.0.1:5000/x@${D}`,
    });
  });

  test('tag and digest: both kept, the name has the tag, the digest pins what is pulled', () => {
    expect(parseImageRef(`registry.k8s.io/pause:3.10@${D}`)).toEqual({
      registry: 'registry.k8s.io',
      repository: 'pause',
      tag: '3.10',
      digest: D,
      name: 'registry.k8s.io/pause:3.10',
    });
  });

  test('a port is not taken for a tag', () => {
    expect(parseImageRef('myhost:5000/app').tag).toBe('latest');
    expect(parseImageRef('myhost:5000/app').registry).toBe('myhost:5000');
  });
});

describe('parseImageRef: bad references say what is wrong and how to write one', () => {
  test.each([
    ['', /empty/],
    [' busybox', /white space/],
    ['Busybox', /lowercase \('Busybox'\)/],
    ['docker.io/Library/busybox', /lowercase \('Library'\)/],
    ['busybox:', /'' is not a valid tag/],
    ['busybox:-x', /'-x' is not a valid tag/],
    [`busybox:${'a'.repeat(129)}`, /not a valid tag/],
    ['busybox@sha256:abc', /64 lowercase hex/],
    [`busybox@sha256:${'AB'.repeat(32)}`, /64 lowercase hex/],
    [`busybox@md5:${'ab'.repeat(16)}`, /algorithm 'md5' is not supported/],
    ['busybox@', /is not a digest/],
    ['host:5000/', /no repository name/],
    ['a//b', /not a valid repository path component/],
    ['bad_host:99999/x', /not a valid registry host/],
    ['-a/b', /not a valid repository path component/],
    ['a/b--', /not a valid repository path component/],
  ])('%j', (ref, problem) => {
    const err = inputErrorOf(() => parseImageRef(ref));
    expect(err.problem).toMatch(problem);
    expect(err.problem).toContain(`image reference '${ref}'`);
    expect(err.message).toMatch(/fix: /);
  });
});

test('loopback hosts get plain http by default, as docker does', () => {
  for (const host of ['localhost', 'localhost:5000', '127.0.0.1', '127.1.2.3:80', '[::1]:5000', '::1'])
    expect([host, isLoopbackHost(host)]).toEqual([host, true]);
  for (const host of ['docker.io', '10.0.0.1:5000', '128.0.0.1', 'localhost.example', '[::2]:5000'])
    expect([host, isLoopbackHost(host)]).toEqual([host, false]);
});
