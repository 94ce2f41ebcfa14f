import { debSrcFromList, debSrcStanza, kubeVersionOf, parseShowsrcVersion } from '../../../src/lab/kubernetes.js';

describe('lab kubernetes: Debian source facts', () => {
  test("the Kubernetes version inside Debian's source version", () => {
    expect(kubeVersionOf('1.20.5+really1.20.2-1.1+deb12u1')).toBe('1.20.2');
    expect(kubeVersionOf('1.28.4-1')).toBe('1.28.4');
    expect(kubeVersionOf('1:1.25.0+ds-2')).toBe('1.25.0');
  });

  test('apt-cache showsrc: the first Version (the candidate)', () => {
    expect(
      parseShowsrcVersion(
        'Package: kubernetes\nBinary: kubernetes-client\nVersion: 1.20.5+really1.20.2-1.1+deb12u1\nMaintainer: ' +
          'x\n\nPackage: kubernetes\nVersion: 1.20.5+really1.20.2-1.1\n',
      ),
    ).toBe('1.20.5+really1.20.2-1.1+deb12u1');
    expect(parseShowsrcVersion('')).toBeUndefined();
  });

  test('a deb-src stanza from the main archive of deb822 sources (not security, first suite, Signed-By kept)', () => {
    const sources = `Types: deb
# http://snapshot.debian.org/archive/debian/20250520T000000Z
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
`;
    expect(debSrcStanza(sources)).toBe(
      'Types: deb-src\nURIs: http://deb.debian.org/debian\nSuites: bookworm\nComponents: main\nSigned-By: ' +
        '/usr/share/keyrings/debian-archive-keyring.gpg\n',
    );
    // Security first in the file: still the main archive.
    expect(debSrcStanza(sources.split('\n\n').reverse().join('\n\n'))).toContain(
      'URIs: http://deb.debian.org/debian\n',
    );
    expect(
      debSrcStanza('Types: deb\nURIs: http://deb.debian.org/debian-security\nSuites: bookworm-security\n'),
    ).toBeUndefined();
  });

  test('a deb-src stanza from one-line sources', () => {
    expect(
      debSrcFromList(
        '# x\ndeb http://security.debian.org/debian-security bookworm-security main\ndeb [signed-by=/k.gpg] ' +
          'http://mirror.example/debian bookworm main contrib\n',
      ),
    ).toBe(
      'Types: deb-src\nURIs: http://mirror.example/debian\nSuites: bookworm\nComponents: main\nSigned-By: /k.gpg\n',
    );
    expect(debSrcFromList('')).toBeUndefined();
  });
});
