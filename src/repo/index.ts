/** The package repository the controller builds and serves to hosts that have no route out. */
export { aptSourcesLine, buildDebRepo, type BuildDebRepoOptions, type DebRepo } from './deb-repo.js';
export { writeRepoIndex, type IndexedDeb } from './deb-index.js';
export { repoUrl, serveRepo, type RepoServer } from './serve.js';
export { RepoError, type RepoLog } from './tools.js';
