import { type RunningServer, startServer } from '../src/cli/serve.js';
import { loadConfig } from '../src/config/load.js';

/** The real server on 127.0.0.1, a free port, no logs, ready: what the benchmarks and fixture scripts drive. */
export async function startQuietServer(
  workers: number,
  routes: Array<{ path: string; processor: string; annotate?: boolean }>,
  flags: Record<string, unknown> = {},
): Promise<RunningServer> {
  const config = loadConfig({
    env: {},
    flags: { host: '127.0.0.1', port: 0, logLevel: 'silent', workers, routes, ...flags },
  });
  const server = await startServer(config, { prettyLogs: false });
  await server.ready;
  return server;
}
