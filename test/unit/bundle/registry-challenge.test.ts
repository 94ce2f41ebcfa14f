import { parseChallenges } from '../../../src/bundle/registry/index.js';

describe('WWW-Authenticate challenges', () => {
  test('Bearer with realm, service and a scope that holds commas (docker hub, distribution)', () => {
    const h = [
      'Bearer realm="https://auth.docker.io/token"',
      'service="registry.docker.io"',
      'scope="repository:library/busybox:pull,push"',
    ].join(',');
    expect(parseChallenges(h)).toEqual([
      {
        scheme: 'bearer',
        params: {
          realm: 'https://auth.docker.io/token',
          service: 'registry.docker.io',
          scope: 'repository:library/busybox:pull,push',
        },
      },
    ]);
  });

  test('Bearer with an error and spaces around the separators', () => {
    const h =
      'Bearer realm="http://127.0.0.1:4000/token" , service="reg", scope="repository:a/b:pull", ' +
      'error="insufficient_scope"';
    expect(parseChallenges(h)[0]!.params).toEqual({
      realm: 'http://127.0.0.1:4000/token',
      service: 'reg',
      scope: 'repository:a/b:pull',
      error: 'insufficient_scope',
    });
  });

  test('Basic, as distribution htpasswd auth sends it; the scheme is case-insensitive', () => {
    expect(parseChallenges('Basic realm="basic-realm"')).toEqual([
      { scheme: 'basic', params: { realm: 'basic-realm' } },
    ]);
    expect(parseChallenges('BASIC realm=registry')).toEqual([{ scheme: 'basic', params: { realm: 'registry' } }]);
    expect(parseChallenges('basic')).toEqual([{ scheme: 'basic', params: {} }]);
  });

  test('several challenges in one header, quoted escapes, unquoted values', () => {
    const h = 'Basic realm="a \\"quoted\\" realm", Bearer realm=https://t.example/token,service=svc';
    expect(parseChallenges(h)).toEqual([
      { scheme: 'basic', params: { realm: 'a "quoted" realm' } },
      { scheme: 'bearer', params: { realm: 'https://t.example/token', service: 'svc' } },
    ]);
  });

  test('no header, or an empty one, is no challenge', () => {
    expect(parseChallenges(null)).toEqual([]);
    expect(parseChallenges('')).toEqual([]);
  });
});
