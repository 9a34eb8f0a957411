// Importing the package where there is no browser (Node, server-side rendering) must not throw:
// nothing touches window, navigator, document or the network at import time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import * as h from './harness.mjs';

test('the package imports in Node without a browser global', async () => {
  assert.equal(typeof globalThis.window, 'undefined');
  assert.equal(typeof globalThis.document, 'undefined');
  const fetched = [];
  const realFetch = globalThis.fetch;
  globalThis.fetch = (...a) => {
    fetched.push(String(a[0]));
    return realFetch(...a);
  };
  try {
    const m = await import(pathToFileURL(path.join(h.pkgDir, 'grafiqs.js')).href);
    for (const f of ['createScorer', 'createAssessor', 'initialize', 'defaultModelUrl', 'wasmSimdAvailable', 'webGpuAvailable']) {
      assert.equal(typeof m[f], 'function', f);
    }
    assert.match(m.defaultModelUrl().href, /\/foamliu-mobilefacenet\.grafiqs$/);
    const w = await import(pathToFileURL(path.join(h.pkgDir, 'worker-client.js')).href);
    assert.equal(typeof w.createWorkerScorer, 'function');
  } finally {
    globalThis.fetch = realFetch;
  }
  assert.deepEqual(fetched, [], 'nothing is fetched at import time');
});
