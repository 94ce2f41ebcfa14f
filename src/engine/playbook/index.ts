/** Playbooks and roles: loading, validation and static expansion into the model the planner uses. */
export { loadPlaybook, allTasks, type LoadOptions } from './loader.js';
export { findFile, fileCandidates, type FileKind } from './find-file.js';
export { roleSearchPaths } from './roles.js';
export { InputErrors } from './problems.js';
export * from './types.js';
