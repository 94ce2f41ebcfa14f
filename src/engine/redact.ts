/**
 * What is never shown, wherever a diff goes (console with --diff, --json): the diff of a no_log
 * task, and any text that holds a PEM private key. Modules mask their own secret fields (cert,
 * copy with no_log); this is the net under all of them.
 */
import type { Diff } from './module.js';

const PRIVATE_KEY = /-----BEGIN [A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----/;

/** PEM private keys (PKCS#1/#8, EC, OpenSSH, PGP): guessing at `password=` lines is not attempted. */
export function holdsPrivateKey(text: unknown): boolean {
  return typeof text === 'string' && PRIVATE_KEY.test(text);
}

/** The diff as it may be shown: hidden whole under no_log, private keys replaced by a placeholder. */
export function shownDiff(diff: Diff | undefined, noLog: boolean): Diff | undefined {
  if (!diff) return undefined;
  if (noLog) return { hidden: 'diff hidden by no_log' };
  const values = diff.values?.map((v) =>
    holdsPrivateKey(v.before) || holdsPrivateKey(v.after) ? { ...v, before: '(secret)', after: '(secret changed)' } : v,
  );
  const unifiedSecret = holdsPrivateKey(diff.unified);
  if (!unifiedSecret && values?.every((v, i) => v === diff.values![i])) return diff;
  return {
    ...(unifiedSecret
      ? { hidden: 'content holds a private key: diff hidden' }
      : diff.unified !== undefined
        ? { unified: diff.unified }
        : {}),
    ...(values ? { values } : {}),
  };
}
