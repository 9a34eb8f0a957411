// The static server of `make demo`, the benchmark and these tests (scripts/static-server.mjs)
// against hostile requests: encoded and double-encoded traversal, backslashes, NUL, over-long
// paths, malformed escapes, absolute URLs, symlinks out of the root, HEAD and other methods.
// No request may return a file outside the root, and the server must keep serving after each.
// Runs without a browser or a wasm build.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, mkdir, writeFile, symlink } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as h from './harness.mjs';

const SECRET = 'SECRET-OUTSIDE-THE-ROOT';
let base;
let www;

before(async () => {
  base = await mkdtemp(path.join(tmpdir(), 'grafiqs-static-'));
  www = path.join(base, 'www');
  await mkdir(path.join(www, 'sub'), { recursive: true });
  await mkdir(path.join(base, 'www2'));
  await writeFile(path.join(www, 'index.html'), '<p>index</p>');
  await writeFile(path.join(www, 'a.txt'), 'inside');
  await writeFile(path.join(www, 'sub', 'b.txt'), 'inside too');
  await writeFile(path.join(www, '%2e%2e'), 'a file literally named %2e%2e');
  await writeFile(path.join(base, 'www2', 'x'), SECRET);
  await writeFile(path.join(base, 'secret.txt'), SECRET);
  await symlink(path.join(base, 'secret.txt'), path.join(www, 'link-out'));
  await symlink(path.join(base, 'www2'), path.join(www, 'dir-out'));
  await symlink('a.txt', path.join(www, 'link-in'));
});

/** Sends `raw` bytes on a fresh connection; resolves to { status, headers, body } (status 0: closed without a response). */
function rawRequest(port, raw) {
  return new Promise((resolve) => {
    const sock = connect(port, '127.0.0.1');
    const chunks = [];
    sock.on('data', (c) => chunks.push(c));
    const done = () => {
      const text = Buffer.concat(chunks).toString('latin1');
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(text);
      const split = text.indexOf('\r\n\r\n');
      resolve({ status: m ? Number(m[1]) : 0, head: text.slice(0, split), body: split >= 0 ? text.slice(split + 4) : '' });
    };
    sock.on('end', done);
    sock.on('error', done);
    sock.setTimeout(5000, () => sock.destroy());
    sock.write(raw);
  });
}

const get = (target, method = 'GET') => `${method} ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`;

// [description, raw request]; every one must fail to reach a file outside the root.
const HOSTILE = [
  ['encoded traversal into a sibling folder (www2 passes a startsWith(root) check)', get('/%2e%2e%2fwww2/x')],
  ['plain traversal', get('/../secret.txt')],
  ['traversal after a folder', get('/sub/../../secret.txt')],
  ['encoded dots', get('/%2e%2e/secret.txt')],
  ['encoded slash', get('/..%2fsecret.txt')],
  ['upper-case escapes', get('/%2E%2E%2Fwww2%2Fx')],
  ['double-encoded traversal', get('/%252e%252e%252fwww2/x')],
  ['double-encoded slash', get('/..%252fsecret.txt')],
  ['backslash traversal', get('/..\\secret.txt')],
  ['encoded backslash traversal', get('/..%5c..%5csecret.txt')],
  ['overlong UTF-8 dots', get('/%c0%ae%c0%ae/secret.txt')],
  ['NUL', get('/a.txt%00.html')],
  ['raw NUL', get('/a.txt\0')],
  ['over-long path', get('/' + 'a'.repeat(6000))],
  ['path over the header limit', get('/' + 'b'.repeat(20000))],
  ['malformed escape', get('/%zz')],
  ['truncated escape', get('/%')],
  ['truncated UTF-8 sequence', get('/%e0%a4%a')],
  ['lone surrogate', get('/%ed%a0%80')],
  ['absolute URL', get('http://127.0.0.1/../secret.txt')],
  ['absolute URL to another host', get('http://example.com/secret.txt')],
  ['protocol-relative', get('//../secret.txt')],
  ['asterisk target', get('*', 'OPTIONS')],
  ['symlink out of the root', get('/link-out')],
  ['symlinked folder out of the root', get('/dir-out/x')],
  ['POST', get('/a.txt', 'POST')],
  ['PUT', `PUT /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc`],
  ['DELETE', get('/a.txt', 'DELETE')],
  ['TRACE', get('/a.txt', 'TRACE')],
  ['CONNECT', 'CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: 127.0.0.1:22\r\n\r\n'],
  ['garbage request line', 'GARBAGE\r\n\r\n'],
  ['HTTP/0.9-style request', 'GET /../secret.txt\r\n\r\n'],
  ['header without a request', 'Host: x\r\n\r\n'],
];

async function assertServes(port, label) {
  const ok = await rawRequest(port, get('/a.txt'));
  assert.equal(ok.status, 200, `still serving after: ${label}`);
  assert.equal(ok.body, 'inside');
}

async function hostileRun(port) {
  const statuses = {};
  for (const [label, raw] of HOSTILE) {
    const r = await rawRequest(port, raw);
    statuses[label] = r.status;
    assert.ok(!r.body.includes(SECRET), `${label}: leaked a file outside the root`);
    assert.notEqual(r.status, 200, `${label}: answered 200`);
    await assertServes(port, label);
  }
  // Specific answers where the status matters.
  assert.equal(statuses['malformed escape'], 400);
  assert.equal(statuses['encoded traversal into a sibling folder (www2 passes a startsWith(root) check)'], 400);
  assert.equal(statuses['over-long path'], 414);
  assert.equal(statuses['POST'], 405);
  assert.equal(statuses['symlink out of the root'], 403);
  assert.equal(statuses['symlinked folder out of the root'], 403);
  assert.equal(statuses['absolute URL'], 400);

  // What must still work: HEAD, index.html, sub-folders, escapes that stay inside, in-root links.
  const head = await rawRequest(port, get('/a.txt', 'HEAD'));
  assert.equal(head.status, 200);
  assert.match(head.head, /content-length: 6/i);
  assert.equal(head.body, '');
  assert.match((await rawRequest(port, get('/'))).body, /index/);
  assert.equal((await rawRequest(port, get('/sub/b.txt'))).body, 'inside too');
  assert.equal((await rawRequest(port, get('/sub/b.txt?x=1'))).body, 'inside too');
  assert.equal((await rawRequest(port, get('/%61.txt'))).body, 'inside');
  assert.equal((await rawRequest(port, get('/link-in'))).body, 'inside');
  // Decoded once: a double-encoded name is a literal file name inside the root.
  assert.match((await rawRequest(port, get('/%252e%252e'))).body, /literally named/);
  assert.equal((await rawRequest(port, get('/missing'))).status, 404);
  return statuses;
}

test('the test harness server refuses hostile requests and keeps serving', async () => {
  const server = await h.serve({ '/': www, '/sub/': path.join(www, 'sub') });
  try {
    const statuses = await hostileRun(Number(new URL(server.url).port));
    console.log(`statuses: ${JSON.stringify(statuses)}`);
    // The recorded request list (used by the demo test) still sees the requests.
    assert.ok(server.requests.includes('/a.txt'));
  } finally {
    await server.close();
  }
});

test('scripts/serve.mjs (make demo) refuses hostile requests and keeps serving', async () => {
  const child = spawn(process.execPath, [path.join(h.root, 'scripts/serve.mjs'), www, '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  try {
    const port = await new Promise((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (d) => {
        out += d;
        const m = /http:\/\/127\.0\.0\.1:(\d+)/.exec(out);
        if (m) resolve(Number(m[1]));
      });
      child.on('exit', (code) => reject(new Error(`serve.mjs exited (${code}): ${stderr}`)));
    });
    await hostileRun(port);
    assert.equal(child.exitCode, null, 'the server process is still running');
    assert.equal(stderr, '', 'nothing on stderr');
  } finally {
    child.kill();
  }
});

after(() => {});
