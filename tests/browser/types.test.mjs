// The hand-written type declarations (pkg-config/*.d.ts) are checked, so they cannot drift:
// tests/types/usage.ts uses the whole API as an application would and must type-check with
// `tsc --noEmit --strict` (declaration files included) when `grafiqs` resolves through the
// package's own `exports`, under both `bundler` and `nodenext` module resolution; its
// `@ts-expect-error` lines make tsc fail when a misuse stops being rejected. The values the
// module exports at run time must be exactly those declared.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import * as h from './harness.mjs';

const tsc = path.join(h.here, 'node_modules/typescript/bin/tsc');
const config = path.join(h.root, 'pkg-config');

/** A scratch project with `grafiqs` installed from pkg-config/ (package.json and the .d.ts). */
async function project() {
  const dir = await mkdtemp(path.join(tmpdir(), 'grafiqs-types-'));
  const mod = path.join(dir, 'node_modules/grafiqs');
  await mkdir(mod, { recursive: true });
  const pkg = JSON.parse((await readFile(path.join(config, 'package.json'), 'utf8')).replace('@VERSION@', '0.0.0'));
  await writeFile(path.join(mod, 'package.json'), JSON.stringify(pkg));
  for (const f of pkg.files.filter((f) => f.endsWith('.d.ts') && !f.startsWith('grafiqs_wasm'))) {
    await copyFile(path.join(config, f), path.join(mod, f));
  }
  await copyFile(path.join(h.root, 'tests/types/usage.ts'), path.join(dir, 'usage.ts'));
  await writeFile(path.join(dir, 'package.json'), JSON.stringify({ name: 'types-check', private: true, type: 'module' }));
  return dir;
}

function check(dir, resolution) {
  const options = {
    strict: true,
    noEmit: true,
    skipLibCheck: false,
    noUnusedLocals: false,
    target: 'es2022',
    lib: ['es2022', 'dom', 'dom.iterable'],
    types: [],
    ...(resolution === 'bundler' ? { module: 'esnext', moduleResolution: 'bundler' } : { module: 'nodenext', moduleResolution: 'nodenext' }),
  };
  const file = path.join(dir, `tsconfig.${resolution}.json`);
  return writeFile(file, JSON.stringify({ compilerOptions: options, files: ['usage.ts'] })).then(() => {
    try {
      execFileSync(process.execPath, [tsc, '-p', file], { cwd: dir, encoding: 'utf8', stdio: 'pipe' });
    } catch (e) {
      assert.fail(`tsc (${resolution}) found errors:\n${e.stdout}${e.stderr}`);
    }
  });
}

test('tests/types/usage.ts type-checks against the declarations (bundler and nodenext resolution)', async () => {
  const dir = await project();
  await check(dir, 'bundler');
  await check(dir, 'nodenext');
});

test('a misuse of the API fails the check', async () => {
  // The check itself must be able to fail: one wrong line makes tsc report it.
  const dir = await project();
  const usage = path.join(dir, 'usage.ts');
  await writeFile(usage, `${await readFile(usage, 'utf8')}\nexport const wrong: string = (await createScorer()).info.parameters;\n`);
  await assert.rejects(check(dir, 'bundler'), /info\.parameters|not assignable to type 'string'/);
});

/** Names of the values (`export declare const|function|class`) a declaration file exports. */
async function declared(file) {
  const src = await readFile(path.join(config, file), 'utf8');
  return [...src.matchAll(/^export declare (?:const|function|class) (\w+)/gm)].map((m) => m[1]).sort();
}

test('the module exports exactly the values its declarations name', async () => {
  const m = await import(pathToFileURL(path.join(h.pkgDir, 'grafiqs.js')).href);
  assert.deepEqual(Object.keys(m).sort(), await declared('grafiqs.d.ts'));
  const w = await import(pathToFileURL(path.join(h.pkgDir, 'worker-client.js')).href);
  assert.deepEqual(Object.keys(w).sort(), await declared('worker-client.d.ts'));
});
