import { fileURLToPath } from 'node:url';
import { type RunningServer, startServer } from '../../src/cli/serve.js';
import { loadConfig } from '../../src/config/load.js';

/** The example plug-in, loaded by path as a user's processor is. */
export const EXAMPLE = fileURLToPath(new URL('../../../examples/average-color/processor.js', import.meta.url));

/** A test double processor by file name in test/doubles/ (compiled next to this file). */
export function doubleUrl(name: string): string {
  return new URL(`../doubles/${name}.js`, import.meta.url).href;
}

export interface TestServer extends RunningServer {
  /** URL of a route, e.g. at('/score'). */
  at(path: string): string;
}

/** Starts the real server on 127.0.0.1 with a free port, silent logs, and waits until every worker is ready. */
export async function startTestServer(
  flags: Record<string, unknown> = {},
  options: { waitReady?: boolean; env?: NodeJS.ProcessEnv } = {},
): Promise<TestServer> {
  const config = loadConfig({
    env: options.env ?? {},
    flags: { host: '127.0.0.1', port: 0, logLevel: 'silent', workers: 2, ...flags },
  });
  const server = await startServer(config, { prettyLogs: false });
  if (options.waitReady !== false) await server.ready;
  return { ...server, at: (path: string) => `${server.url}${path}` };
}
