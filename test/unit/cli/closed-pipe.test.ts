import { spawn } from 'node:child_process';
import path from 'node:path';

const CLI = path.resolve('dist/cli/furrow.js');

/**
 * Runs the built CLI with its stdout a pipe whose reading end is closed before the CLI writes a
 * byte (as `furrow ... | head -1` does once head has its line): every write gets EPIPE.
 */
function runIntoClosedPipe(args: string[]): Promise<{ status: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.destroy();
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stderr }));
  });
}

describe('writing to a closed pipe', () => {
  test.each([[['modules']], [['modules', 'copy']], [['deploy', '--help']]])(
    'furrow %j exits 0 with no EPIPE stack',
    async (args) => {
      const { status, stderr } = await runIntoClosedPipe(args);
      expect(stderr).not.toMatch(/EPIPE| {4}at /);
      expect(stderr).toBe('');
      expect(status).toBe(0);
    },
  );
});
