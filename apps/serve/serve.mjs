#!/usr/bin/env node
/**
 * A small static server for the built site (apps/site/dist) and deck (apps/slides/dist).
 * `pnpm start` runs it after building; the browser tests import `serveDir`.
 *
 *   node apps/serve/serve.mjs [--site-port 4321] [--slides-port 4322] [--host 127.0.0.1]
 */
import { createReadStream, existsSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.svg': 'image/svg+xml',
  '.ico': 'image/x-icon',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.ttf': 'font/ttf',
  '.bin': 'application/octet-stream',
  '.txt': 'text/plain; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
};

/** The file a URL path names inside root (directories serve their index.html), or null. */
function fileFor(root, urlPath) {
  let p;
  try {
    p = decodeURIComponent(urlPath.split('?')[0] ?? '/');
  } catch {
    return null;
  }
  const full = normalize(join(root, p));
  if (full !== root && !full.startsWith(root + sep)) return null; // no escaping the root
  if (existsSync(full) && statSync(full).isDirectory()) {
    const index = join(full, 'index.html');
    return existsSync(index) ? index : null;
  }
  if (existsSync(full)) return full;
  if (!extname(full) && existsSync(`${full}.html`)) return `${full}.html`;
  return null;
}

/**
 * Serves `dir` on `port` (0 = any free port). Resolves with the server and its URL.
 * Responses are never cached, so a rebuild shows at once.
 */
export function serveDir(dir, { port = 0, host = '127.0.0.1', name = 'app' } = {}) {
  const root = resolve(dir);
  if (!existsSync(join(root, 'index.html'))) {
    return Promise.reject(new Error(`${name}: ${root}/index.html not found. Build first: npx -y pnpm@10 build`));
  }
  const server = createServer((req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405).end();
      return;
    }
    const file = fileFor(root, req.url ?? '/');
    if (!file) {
      const notFound = join(root, '404.html');
      res.writeHead(404, { 'content-type': 'text/html; charset=utf-8' });
      if (existsSync(notFound)) createReadStream(notFound).pipe(res);
      else res.end('<!doctype html><title>Not found</title><p>Not found.</p>');
      return;
    }
    res.writeHead(200, {
      'content-type': TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream',
      'content-length': statSync(file).size,
      'cache-control': 'no-cache',
      'x-content-type-options': 'nosniff',
    });
    if (req.method === 'HEAD') res.end();
    else createReadStream(file).pipe(res);
  });
  return new Promise((ok, fail) => {
    server.once('error', fail);
    server.listen(port, host, () => {
      const addr = server.address();
      const shown = host === '0.0.0.0' || host === '::' ? 'localhost' : host;
      ok({ server, url: `http://${shown}:${addr.port}/`, close: () => new Promise((r) => server.close(() => r())) });
    });
  });
}

export const SITE_DIST = fileURLToPath(new URL('../site/dist', import.meta.url));
export const SLIDES_DIST = fileURLToPath(new URL('../slides/dist', import.meta.url));

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback;
}

/** Tries `port`, then the next few, so a second copy (or another app on 4321) does not stop the start. */
async function serveNear(dir, port, host, name) {
  for (let p = port; p < port + 20; p++) {
    try {
      return await serveDir(dir, { port: p, host, name });
    } catch (e) {
      if (e?.code !== 'EADDRINUSE') throw e;
    }
  }
  return serveDir(dir, { port: 0, host, name });
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const host = arg('host', process.env.HOST ?? '127.0.0.1');
  const sitePort = Number(arg('site-port', process.env.SITE_PORT ?? 4321));
  const slidesPort = Number(arg('slides-port', process.env.SLIDES_PORT ?? 4322));
  try {
    const site = await serveNear(SITE_DIST, sitePort, host, 'site');
    const slides = await serveNear(SLIDES_DIST, slidesPort, host, 'slides');
    console.log('');
    console.log(`  cnn-xai site:   ${site.url}`);
    console.log(`  cnn-xai slides: ${slides.url}   (speaker notes: press S; PDF: ${slides.url}?print-pdf)`);
    console.log('');
    console.log('  Press Ctrl+C to stop.');
    const stop = () => {
      void Promise.all([site.close(), slides.close()]).then(() => process.exit(0));
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  } catch (e) {
    console.error(`cnn-xai serve: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  }
}
