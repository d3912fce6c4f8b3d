import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';
import { ROOT } from '../../lib/paths';

/** Where the console's own files are (index.html, app modules, css). */
export const CONSOLE_DIR = path.join(ROOT, 'console');

/** The libraries the console imports, served from node_modules under fixed names (nothing else of node_modules is reachable). */
const VENDOR: Record<string, [string, string]> = {
  'preact.mjs': ['preact/dist/preact.mjs', 'text/javascript'],
  'preact-hooks.mjs': ['preact/hooks/dist/hooks.mjs', 'text/javascript'],
  'htm.mjs': ['htm/dist/htm.mjs', 'text/javascript'],
  'uplot.mjs': ['uplot/dist/uPlot.esm.js', 'text/javascript'],
  'uplot.css': ['uplot/dist/uPlot.min.css', 'text/css'],
};

/**
 * The import map is the one inline script of index.html (browsers take no external import
 * maps), so the policy allows exactly it by its hash and nothing else inline.
 */
function contentSecurityPolicy(): string {
  const html = readFileSync(path.join(CONSOLE_DIR, 'index.html'), 'utf8');
  const map = /<script type="importmap">([\s\S]*?)<\/script>/.exec(html)?.[1];
  const hash = map === undefined ? '' : ` 'sha256-${createHash('sha256').update(map).digest('base64')}'`;
  return [
    "default-src 'self'", `script-src 'self'${hash}`, "style-src 'self'", "img-src 'self' data:", "connect-src 'self'",
    "object-src 'none'", "base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'",
  ].join('; ');
}

/** The web console at / (static files; every call it makes goes to the REST API with the key the person pasted). */
export async function consoleRoutes(app: FastifyInstance): Promise<void> {
  const csp = contentSecurityPolicy();
  // Encapsulated: these hooks touch the console's routes only.
  app.addHook('onRoute', (route) => {
    route.config = { ...route.config, public: true };
    route.schema = { ...route.schema, hide: true };
  });
  app.addHook('onSend', async (_request, reply) => {
    reply.header('Content-Security-Policy', csp);
    reply.header('X-Content-Type-Options', 'nosniff');
    reply.header('Referrer-Policy', 'no-referrer');
    if (!reply.hasHeader('Cache-Control')) reply.header('Cache-Control', 'no-cache');
  });
  for (const [name, [file, type]] of Object.entries(VENDOR)) {
    const body = readFileSync(path.join(ROOT, 'node_modules', file));
    app.get(`/vendor/${name}`, async (_request, reply) =>
      reply.type(`${type}; charset=utf-8`).header('Cache-Control', 'public, max-age=3600').send(body));
  }
  // Only the files there at start-up get routes (no wildcard), so unknown paths stay the API's 404s.
  // no-cache: a browser revalidates (ETag) so a new version of the console shows at once.
  await app.register(fastifyStatic, { root: CONSOLE_DIR, wildcard: false, decorateReply: false, cacheControl: false });
}
