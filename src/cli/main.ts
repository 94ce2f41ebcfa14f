#!/usr/bin/env node
import { Command } from 'commander';
import { exitCodeFor, FurrowError } from '../engine/errors.js';
import { registerExec } from './exec.js';
import { registerLab } from './lab.js';
import { registerDemo } from './demo.js';
import { registerRun } from './run.js';
import { registerDeploy } from './deploy.js';
import { registerCerts } from './certs.js';
import { registerCluster } from './cluster.js';
import { registerEtcd } from './etcd.js';
import { registerMaster, registerNode } from './node.js';
import { registerModules } from './modules.js';
import { registerBundle } from './bundle.js';

// A reader that closes early (`furrow modules | head -1`) is the user saying "enough": exit
// quietly like other CLIs do instead of dying on an unhandled EPIPE with a stack trace. A status
// already set (a failed run) is kept.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
    process.exit(process.exitCode ?? 0);
  });
}

const program = new Command('furrow')
  .description('Declarative, idempotent, parallel provisioning of Kubernetes from plain binaries, over SSH.')
  .version('0.1.0')
  .showHelpAfterError()
  // Commander's own usage errors are bad input too: exit 2, like every other input error.
  .exitOverride((err) => {
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help')
      process.exit(0);
    process.exit(2);
  });

registerLab(program);
registerExec(program);
registerRun(program);
registerDeploy(program);
registerCerts(program);
registerEtcd(program);
registerCluster(program);
registerNode(program);
registerMaster(program);
registerBundle(program);
registerModules(program);
registerDemo(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof FurrowError) {
    process.stderr.write(`furrow: ${err.message}\n`);
  } else {
    process.stderr.write(
      `furrow: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
  }
  process.exitCode = exitCodeFor(err);
}
