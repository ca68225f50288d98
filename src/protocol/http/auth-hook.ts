import type { IncomingMessage } from 'node:http';
import type { FastifyInstance } from 'fastify';
import type { Config } from '../../config/defaults.js';
import { HxError } from '../../errors.js';
import { Authenticator } from '../auth/authenticator.js';
import { authSettings } from '../auth/settings.js';
import type { AuthScheme } from '../auth/types.js';

/**
 * Checks credentials on headers alone, before the body is read (an unauthenticated client cannot make us buffer a
 * frame): each inference route with its own schemes or the server's, /metrics when `metrics.auth` says so, the
 * console whenever any inference route is protected (it shows their frames), health never.
 */
export function installAuth(
  app: FastifyInstance,
  config: Readonly<Config>,
  metricsPath: string | undefined,
  consolePaths: readonly string[],
): void {
  const authenticator = new Authenticator(authSettings(config.auth));
  const schemesByPath = new Map<string, readonly AuthScheme[]>(
    config.routes.map((route) => [route.path, route.auth ?? config.auth.schemes]),
  );
  if (metricsPath !== undefined) schemesByPath.set(metricsPath, config.metrics.auth ? config.auth.schemes : []);
  // The server's schemes, or, when only some routes are protected, every scheme any of them takes.
  const consoleSchemes =
    config.auth.schemes.length > 0
      ? config.auth.schemes
      : [...new Set(config.routes.flatMap((route) => route.auth ?? []))];
  for (const path of consolePaths) schemesByPath.set(path, consoleSchemes);
  app.addHook('onRequest', async (request) => {
    const path = request.routeOptions.url;
    const schemes = path === undefined ? undefined : schemesByPath.get(path);
    if (schemes === undefined || schemes.length === 0) return;
    const verdict = authenticator.check(
      { method: request.method, url: request.url, headers: request.headers },
      schemes,
    );
    if (verdict.ok) return;
    const code = verdict.missing ? 'HX_ERR_AUTH_REQUIRED' : 'HX_ERR_AUTH_INVALID';
    const headers: Record<string, string | string[]> = { 'www-authenticate': verdict.challenges };
    if (hasLargeBody(request.raw)) headers.connection = 'close';
    throw new HxError(code, undefined, { headers });
  });
}

/** A body we would rather not read after refusing a request: closing is cheaper than draining it. */
function hasLargeBody(req: IncomingMessage): boolean {
  const length = Number(req.headers['content-length'] ?? 0);
  return req.headers['transfer-encoding'] !== undefined || length > 1024 * 1024;
}
