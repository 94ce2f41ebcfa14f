/**
 * The one place that imports the X.509 library. @peculiar/x509 needs a Reflect metadata polyfill
 * loaded before it (ESM evaluates these imports in order) and a WebCrypto provider: Node's own.
 */
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

export { x509, webcrypto };
