/**
 * put and get over exec, for both transports: no sftp subsystem needed, and become applies to
 * file transfers exactly as to commands.
 */
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { once } from 'node:events';
import { commandFailure } from '../command-failure.js';
import { FurrowError } from '../errors.js';
import { getCommand, installCommand, putCommand, receiveCommand, tempPathFor } from './remote-commands.js';
import { SESSION_INPUT_MAX, sessionInput } from './shell-session.js';
import type { ExecOptions, ExecResult, GetOptions, PutOptions, PutSource } from './types.js';

/** The most bytes whose base64 the shared shell carries (SESSION_INPUT_MAX). */
const SESSION_BINARY_MAX = (SESSION_INPUT_MAX / 4) * 3;

export type ExecFn = (command: string, opts?: ExecOptions) => Promise<ExecResult>;

/** A put or get that the host refused: names host, path, exit status and what stderr said. */
export class TransferError extends FurrowError {
  constructor(
    readonly host: string,
    readonly path: string,
    readonly operation: 'put' | 'get',
    readonly result: ExecResult,
  ) {
    super('module', commandFailure(host, `${operation} ${path}`, result));
  }
}

/** The become settings a transfer overrides, for its commands. */
function userOf(opts: PutOptions | GetOptions): ExecOptions {
  return {
    ...(opts.become !== undefined ? { become: opts.become } : {}),
    ...(opts.becomeUser !== undefined ? { becomeUser: opts.becomeUser } : {}),
  };
}

export async function putFile(
  exec: ExecFn,
  host: string,
  dest: string,
  source: PutSource,
  opts: PutOptions = {},
): Promise<void> {
  const asUser = userOf(opts);
  const check = (result: ExecResult): void => {
    if (result.code !== 0) throw new TransferError(host, dest, 'put', result);
  };
  if ('content' in source) {
    // Always on standard input, never inside the command: a command line is world-readable on the
    // host (/proc/PID/cmdline), the input stream is not. Small input still takes the connection's
    // shared shell (see SESSION_INPUT_MAX).
    const bytes = typeof source.content === 'string' ? Buffer.from(source.content, 'utf8') : source.content;
    // Small bytes that are not text (a .deb, a DER key) go as base64, which the shared shell can carry:
    // no channel of its own for each (the byte count checked is the decoded one).
    const base64 = bytes.length <= SESSION_BINARY_MAX && sessionInput(bytes) === undefined;
    const stdin = base64 ? bytes.toString('base64') : bytes;
    return check(await exec(putCommand(dest, { ...opts, size: bytes.length, base64 }), { ...asUser, stdin }));
  }
  if ('path' in source) {
    const { size } = await stat(source.path); // a missing local file fails here, before the host is touched
    const stream = createReadStream(source.path);
    try {
      return check(await exec(putCommand(dest, { ...opts, size }), { ...asUser, stdin: stream }));
    } finally {
      stream.destroy();
    }
  }
  const size = source.size;
  if (size !== undefined)
    return check(await exec(putCommand(dest, { ...opts, size }), { ...asUser, stdin: source.stream }));
  // Unknown length: receive first, then install only if the byte count matches what we sent.
  const tmp = tempPathFor(dest);
  const counter = new ByteCounter();
  source.stream.once('error', (err) => counter.destroy(err));
  check(await exec(receiveCommand(tmp), { ...asUser, stdin: source.stream.pipe(counter) as Readable }));
  check(await exec(installCommand(dest, tmp, { ...opts, size: counter.bytes }), asUser));
}

class ByteCounter extends Transform {
  bytes = 0;
  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.bytes += chunk.length;
    callback(null, chunk);
  }
}

/** Streams a remote file into a local temp file beside localPath, then renames it into place. */
export async function getFile(
  exec: ExecFn,
  host: string,
  src: string,
  localPath: string,
  opts: GetOptions = {},
): Promise<void> {
  await mkdir(dirname(localPath), { recursive: true });
  const tmp = join(dirname(localPath), `.${basename(localPath)}.furrow.${randomBytes(6).toString('hex')}`);
  const out = createWriteStream(tmp, { mode: 0o600 });
  try {
    await once(out, 'open');
    const result = await exec(getCommand(src), { ...userOf(opts), stdout: out });
    out.end();
    await once(out, 'finish');
    if (result.code !== 0) throw new TransferError(host, src, 'get', result);
    await rename(tmp, localPath);
  } catch (err) {
    out.destroy();
    await rm(tmp, { force: true });
    throw err;
  }
}
