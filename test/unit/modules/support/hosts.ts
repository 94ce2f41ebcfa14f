import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { connectionSpecFromVars, LocalConnection } from '../../../../src/engine/connections/index.js';
import type { Connection, ExecResult } from '../../../../src/engine/connections/types.js';

/**
 * Two stand-ins for a host in module tests: a canned one that answers every command with fixed
 * output (for pure plan decisions, and to count round trips), and the controller itself through
 * LocalConnection, working in a temp folder.
 */
const spec = () =>
  connectionSpecFromVars(
    'localhost',
    { ansible_connection: 'local' },
    { knownHostsFile: '/dev/null', strictHostKeys: false, sshConfigFile: false },
  );

export interface CannedConnection extends Connection {
  commands: string[];
}

/** A file's content as the probe sends it (see facts/files.ts): base64 lines, then an empty line. */
export function probeContent(text: string): string {
  const b64 = Buffer.from(text, 'utf8').toString('base64').replace(/.{76}/g, '$&\n').replace(/\n$/, '');
  return `content\n${b64 ? `${b64}\n` : ''}\n`;
}

export function cannedConnection(stdout: string | Buffer, code = 0): CannedConnection {
  const commands: string[] = [];
  const fail = async (): Promise<never> => {
    throw new Error('a plan must not write');
  };
  return {
    spec: { ...spec(), name: 'h1' },
    commands,
    open: async () => undefined,
    close: async () => undefined,
    exec: async (command: string): Promise<ExecResult> => {
      commands.push(command);
      return {
        code,
        stdout: Buffer.isBuffer(stdout) ? stdout : Buffer.from(stdout),
        stderr: Buffer.from(code ? 'boom\n' : ''),
        timedOut: false,
      };
    },
    put: fail,
    get: fail,
    tunnel: fail,
  };
}

export function localConnection(): Connection {
  return new LocalConnection(spec());
}

/** A fresh temp folder per test file; removed by the returned cleanup. */
export function tempDir(prefix: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), `furrow-${prefix}-`));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
