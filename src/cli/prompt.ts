import { EXIT, InputError } from '../engine/errors.js';

/**
 * Reads a secret from the terminal without echoing it (Ansible's -k and -K). Standard input must
 * be a terminal: piped input or none (CI) is bad input, with the way around it.
 */
export async function readSecret(prompt: string, flag: string, variable: string): Promise<string> {
  const stdin = process.stdin;
  if (!stdin.isTTY) {
    throw new InputError(
      undefined,
      `${flag} asks for the password on a terminal, and standard input is not one`,
      `run it from a terminal, or set ${variable} in the inventory (kept out of version control)`,
    );
  }
  // Echo off before the prompt shows: a password typed the moment it appears is never echoed.
  stdin.setRawMode(true);
  process.stderr.write(prompt);
  stdin.resume();
  stdin.setEncoding('utf8');
  try {
    return await new Promise<string>((resolve, reject) => {
      let secret = '';
      const onData = (chunk: string) => {
        for (const ch of chunk) {
          if (ch === '\r' || ch === '\n' || ch === '\u0004') {
            stdin.off('data', onData);
            return resolve(secret);
          }
          if (ch === '\u0003') {
            stdin.off('data', onData);
            return reject(new InputError(undefined, `${flag}: interrupted at the password prompt`));
          }
          if (ch === '\u007f' || ch === '\b') secret = secret.slice(0, -1);
          else secret += ch;
        }
      };
      stdin.on('data', onData);
    });
  } finally {
    stdin.setRawMode(false);
    stdin.pause();
    process.stderr.write('\n');
  }
}

/** Asks on the terminal; true only for a typed 'yes'. */
export async function confirmed(question: string): Promise<boolean> {
  const { createInterface } = await import('node:readline/promises');
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return (await rl.question(question)).trim().toLowerCase() === 'yes';
  } finally {
    rl.close();
  }
}

/**
 * A command that asks before it changes anything (`command`: its name, as its messages start) must be able to ask:
 * without `--yes` and without a terminal it is bad input, before anything is touched. `file` is what the message
 * names; `fix` says how to go on without asking.
 */
export function requireConfirmable(command: string, yes: boolean, file: string, fix: string): void {
  if (!yes && !process.stdin.isTTY)
    throw new InputError(
      { file },
      `${command} asks for confirmation, and there is no terminal to ask on; nothing was touched`,
      fix,
    );
}

/**
 * True when the command may go on: `yes`, or 'yes' typed to `question`. Anything else says so and sets exit
 * status 1, with nothing touched.
 */
export async function confirmedOrRefused(command: string, yes: boolean, question: string): Promise<boolean> {
  if (yes || (await confirmed(question))) return true;
  process.stderr.write(`${command}: not confirmed; nothing was touched\n`);
  process.exitCode = EXIT.failed;
  return false;
}
