#!/usr/bin/env node
// Static file server for the demo site (no dependencies; see static-server.mjs for what it
// refuses):   node scripts/serve.mjs [dir=www] [port=8080]   → http://127.0.0.1:<port>
// Port 0 picks a free port; the chosen URL is printed either way.
import path from 'node:path';
import { startStaticServer } from './static-server.mjs';

const dir = path.resolve(process.argv[2] ?? 'www');
const port = Number(process.argv[3] ?? process.env.PORT ?? 8080);
const { url } = await startStaticServer({ '/': dir }, { port });
console.log(`serving ${dir} on ${url}`);
