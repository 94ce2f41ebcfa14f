/** Key types Furrow issues. Apart from keys.ts so that naming them does not load the X.509 library. */
export type KeyType = 'rsa' | 'ecdsa';
export const KEY_TYPES: readonly KeyType[] = ['rsa', 'ecdsa'];
