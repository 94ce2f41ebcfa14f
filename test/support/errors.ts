import { InputError } from '../../src/engine/errors.js';

/** The InputError `work` throws, for assertions on its place and text; fails when it throws none. */
export function inputErrorOf(work: () => unknown): InputError {
  try {
    work();
  } catch (err) {
    if (err instanceof InputError) return err;
    throw err;
  }
  throw new Error('expected an InputError, nothing was thrown');
}
