import { createReadStream } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { RepoError } from './tools.js';

export interface RepoServer {
  /** Base URL of the repository, with a trailing slash: http://10.213.7.1:40123/ */
  url: string;
  port: number;
  close(): Promise<void>;
}

const TYPES: Record<string, string> = {
  '.deb': 'application/vnd.debian.binary-package',
  '.gz': 'application/gzip',
};

/**
 * Maps a request path to a file under root, or undefined when it would leave root (`..`, encoded
 * slashes, NUL) or is not a file. Symlinks are resolved and checked too.
 */
export async function resolveRepoPath(root: string, urlPath: string): Promise<string | undefined> {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath.split('?')[0] ?? '');
  } catch {
    return undefined;
  }
  if (decoded.includes('\0') || decoded.includes('\\')) return undefined;
  const parts = decoded.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.some((p) => p === '..')) return undefined;
  const realRoot = await realpath(root);
  try {
    const file = await realpath(path.join(realRoot, ...parts));
    if (file !== realRoot && !file.startsWith(realRoot + path.sep)) return undefined;
    return (await stat(file)).isFile() ? file : undefined;
  } catch {
    return undefined;
  }
}

async function handle(root: string, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { Allow: 'GET, HEAD' }).end();
    return;
  }
  const file = await resolveRepoPath(root, req.url ?? '/');
  if (!file) {
    res.writeHead(404, { 'Content-Type': 'text/plain' }).end(req.method === 'HEAD' ? undefined : 'not found\n');
    return;
  }
  const info = await stat(file);
  res.writeHead(200, {
    'Content-Type': TYPES[path.extname(file)] ?? 'text/plain; charset=utf-8',
    'Content-Length': info.size,
    'Last-Modified': info.mtime.toUTCString(),
  });
  if (req.method === 'HEAD') return void res.end();
  createReadStream(file)
    .on('error', () => res.destroy())
    .pipe(res);
}

/** The URL a repository served on host:port has. */
export function repoUrl(host: string, port: number): string {
  return `http://${net.isIPv6(host) ? `[${host}]` : host}:${port}/`;
}

/**
 * Serves a repository folder read-only over HTTP, bound only to `host` (the lab bridge's address,
 * or loopback): never to every interface, since the repository is for the lab's hosts alone.
 * Port 0 picks a free port.
 */
export async function serveRepo(dir: string, opts: { host: string; port?: number }): Promise<RepoServer> {
  if (!net.isIP(opts.host) || opts.host === '0.0.0.0' || opts.host === '::') {
    throw new RepoError(
      `serveRepo: '${opts.host}' is not one address: give the lab bridge's address (e.g. 10.213.7.1) or 127.0.0.1`,
    );
  }
  const root = path.resolve(dir);
  const server = http.createServer((req, res) => {
    handle(root, req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500).end();
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) =>
      reject(
        new RepoError(`cannot serve the package repository on ${opts.host}:${opts.port ?? 0}: ${err.message}`, {
          cause: err,
        }),
      ),
    );
    server.listen(opts.port ?? 0, opts.host, resolve);
  });
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: repoUrl(opts.host, port),
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
