// Static file serving that cannot leave its roots, shared by `make demo` (scripts/serve.mjs),
// the browser benchmark and the browser tests (tests/browser/harness.mjs). No dependencies.
//
// A request is answered from a file only when every step succeeds:
//   - method GET or HEAD (others: 405), origin-form target starting with "/" (else 400);
//   - the path (without query) is at most MAX_PATH bytes (else 414) and decodes as UTF-8
//     percent-escapes exactly once (malformed escapes: 400);
//   - the decoded path holds no NUL, no backslash and no "." or ".." segment (400);
//   - the joined path lies inside the mount's root (compared against `root + path.sep`), and so
//     does its real path after symlinks are resolved (else 403);
//   - it is a regular file (a directory serves its index.html; anything else: 404).
// Every failure is answered; nothing a client sends can throw out of the handler.
import { createServer } from 'node:http';
import { createReadStream } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import path from 'node:path';

export const MAX_PATH = 4096;

export const TYPES = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.mjs': 'text/javascript',
  '.css': 'text/css', '.wasm': 'application/wasm', '.json': 'application/json', '.svg': 'image/svg+xml',
  '.png': 'image/png', '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg', '.webp': 'image/webp', '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8', '.grafiqs': 'application/octet-stream', '.y4m': 'video/x-yuv4mpeg',
};

class Refusal extends Error {
  constructor(status, why) {
    super(why);
    this.status = status;
  }
}

const inside = (root, p) => p === root || p.startsWith(root.endsWith(path.sep) ? root : root + path.sep);

/**
 * Splits a request target into its decoded path segments, or throws a Refusal (status + why).
 * Exported for the tests.
 */
export function decodeTarget(target) {
  if (typeof target !== 'string' || !target.startsWith('/')) throw new Refusal(400, 'not an origin-form path');
  const raw = target.split(/[?#]/, 1)[0];
  if (raw.length > MAX_PATH) throw new Refusal(414, 'path too long');
  let decoded;
  try {
    decoded = decodeURIComponent(raw);
  } catch {
    throw new Refusal(400, 'malformed percent-escape');
  }
  if (decoded.includes('\0')) throw new Refusal(400, 'NUL in path');
  if (decoded.includes('\\')) throw new Refusal(400, 'backslash in path');
  const segments = decoded.split('/').filter((s) => s !== '');
  if (segments.some((s) => s === '.' || s === '..')) throw new Refusal(400, 'dot segment in path');
  return { segments, trailingSlash: decoded.endsWith('/') };
}

/**
 * The file a request path names under `root` (an absolute directory), or a Refusal.
 * Resolves symlinks and refuses any that leave the root.
 */
export async function resolveFile(root, segments) {
  const base = path.resolve(root);
  const joined = path.join(base, ...segments);
  if (!inside(base, joined)) throw new Refusal(403, 'outside the root');
  let real;
  let realRoot;
  try {
    realRoot = await realpath(base);
    real = await realpath(joined);
  } catch {
    throw new Refusal(404, 'not found');
  }
  if (!inside(realRoot, real)) throw new Refusal(403, 'symlink leaves the root');
  let s = await stat(real);
  if (s.isDirectory()) {
    const index = path.join(real, 'index.html');
    let realIndex;
    try {
      realIndex = await realpath(index);
    } catch {
      throw new Refusal(404, 'no index.html');
    }
    if (!inside(realRoot, realIndex)) throw new Refusal(403, 'symlink leaves the root');
    real = realIndex;
    s = await stat(real);
  }
  if (!s.isFile()) throw new Refusal(404, 'not a regular file');
  return { file: real, size: s.size };
}

/**
 * A request handler serving `mounts` ({ "/url/prefix/": directory }, longest prefix wins; every
 * prefix ends with "/"). `headers`: extra response headers; `onRequest(pathname)` is called for
 * every request that reaches the handler.
 */
export function staticHandler(mounts, { headers = {}, onRequest } = {}) {
  const table = Object.entries(mounts)
    .map(([prefix, dir]) => {
      if (!prefix.startsWith('/') || !prefix.endsWith('/')) throw new TypeError(`mount prefix must start and end with "/": ${prefix}`);
      return { prefix, segments: prefix.split('/').filter(Boolean), dir: path.resolve(dir) };
    })
    .sort((a, b) => b.segments.length - a.segments.length);
  return async (req, res) => {
    const refuse = (status, extra = {}) => {
      if (!res.headersSent) res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', ...extra });
      res.end(req.method === 'HEAD' ? undefined : `${status}\n`);
    };
    try {
      onRequest?.(String(req.url).split('?', 1)[0]);
      if (req.method !== 'GET' && req.method !== 'HEAD') return refuse(405, { allow: 'GET, HEAD' });
      const { segments } = decodeTarget(req.url);
      const mount = table.find((m) => m.segments.every((s, i) => segments[i] === s));
      if (!mount) throw new Refusal(404, 'no mount');
      const { file, size } = await resolveFile(mount.dir, segments.slice(mount.segments.length));
      res.writeHead(200, {
        'content-type': TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream',
        'content-length': size,
        'x-content-type-options': 'nosniff',
        ...headers,
      });
      if (req.method === 'HEAD') return res.end();
      const stream = createReadStream(file);
      stream.on('error', () => res.destroy());
      stream.pipe(res);
    } catch (e) {
      refuse(e instanceof Refusal ? e.status : 500);
    }
  };
}

/**
 * Starts a server for `mounts` on 127.0.0.1:`port` (0: any free port). Resolves to
 * `{ server, url, port, close() }`.
 */
export async function startStaticServer(mounts, { port = 0, host = '127.0.0.1', ...options } = {}) {
  const server = createServer(staticHandler(mounts, options));
  // Requests the HTTP parser rejects (bad request lines, oversized headers) get a 400 and
  // only their own connection is closed.
  server.on('clientError', (err, socket) => {
    if (socket.writable && !socket.writableEnded) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
    else socket.destroy();
  });
  server.on('connect', (req, socket) => socket.end('HTTP/1.1 405 Method Not Allowed\r\nallow: GET, HEAD\r\ncontent-length: 0\r\n\r\n'));
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  const actual = server.address().port;
  return {
    server,
    port: actual,
    url: `http://${host}:${actual}`,
    close: () =>
      new Promise((r) => {
        server.close(r);
        server.closeAllConnections?.();
      }),
  };
}
