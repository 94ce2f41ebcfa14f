import { InputError } from '../../../src/engine/errors.js';
import { displayUrl, Transport } from '../../../src/bundle/registry/transport.js';

const A = { username: 'a', password: 'pa' };
const M = { username: 'm', password: 'pm' };
const bases = (t: Transport, registry: string) =>
  t.endpoints(registry).map((e) => [e.base, e.mirror, e.auth?.username]);

describe('registry endpoints (no requests are made)', () => {
  test('docker.io is reached at https://registry-1.docker.io; loopback hosts over http, others over https', () => {
    const t = new Transport({});
    expect(bases(t, 'docker.io')).toEqual([['https://registry-1.docker.io', false, undefined]]);
    expect(bases(t, '127.0.0.1:5000')).toEqual([['http://127.0.0.1:5000', false, undefined]]);
    expect(bases(t, 'localhost:5000')).toEqual([['http://localhost:5000', false, undefined]]);
    expect(bases(t, 'registry.example:5000')).toEqual([['https://registry.example:5000', false, undefined]]);
  });

  test('insecure overrides the default either way', () => {
    const t = new Transport({ 'registry.lan': { insecure: true }, 'localhost:5000': { insecure: false } });
    expect(bases(t, 'registry.lan')).toEqual([['http://registry.lan', false, undefined]]);
    expect(bases(t, 'localhost:5000')).toEqual([['https://localhost:5000', false, undefined]]);
  });

  test(
    'mirrors first, in order, as containerd hosts: a path prefix is kept, a trailing slash or ' + '/v2 is not doubled',
    () => {
      const t = new Transport({
        'docker.io': {
          mirrors: [
            'https://mirror.example/',
            'http://127.0.0.1:5001/v2',
            'cache.example:8443/prefix',
            '127.0.0.1:5002',
          ],
          auth: A,
        },
        'cache.example:8443': { auth: M },
      });
      expect(bases(t, 'docker.io')).toEqual([
        ['https://mirror.example', true, 'a'],
        ['http://127.0.0.1:5001', true, 'a'],
        ['https://cache.example:8443/prefix', true, 'm'],
        ['http://127.0.0.1:5002', true, 'a'],
        ['https://registry-1.docker.io', false, 'a'],
      ]);
    },
  );

  test('a mirror that is not an http(s) URL is bad input, found when the client is made', () => {
    expect(() => new Transport({ 'docker.io': { mirrors: ['ftp://mirror.example'] } })).toThrow(InputError);
    expect(() => new Transport({ 'docker.io': { mirrors: ['https://user:pw@mirror.example'] } })).toThrow(/user info/);
    expect(() => new Transport({ 'docker.io': { mirrors: ['http://[bad'] } })).toThrow(/not a URL/);
  });

  test('URLs in messages lose their query (signed storage URLs) and user info', () => {
    expect(displayUrl('https://u:p@bucket.example/blobs/x?X-Amz-Signature=secret')).toBe(
      'https://bucket.example/blobs/x',
    );
  });
});
