import { InputError } from '../engine/errors.js';
import { didYouMean } from '../engine/playbook/problems.js';
import { findModule, moduleNames } from '../modules/index.js';
import { describeModule, type ModuleDoc } from './module-docs.js';
import { MODULE_SUMMARIES } from './module-summaries.js';

/** One module's reference, from the registry; an unknown name is bad input (exit 2). */
export function moduleDoc(name: string): ModuleDoc {
  const module = findModule(name);
  if (!module) {
    throw new InputError(
      undefined,
      `no module named '${name}'`,
      didYouMean(name, moduleNames()) ?? "'furrow modules' lists them all",
    );
  }
  const summary = MODULE_SUMMARIES[name];
  return describeModule({ ...module, ...(summary ? { summary } : {}) });
}

/** Every registered module's reference, by name. */
export function allModuleDocs(): ModuleDoc[] {
  return moduleNames().map(moduleDoc);
}
