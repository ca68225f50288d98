import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { type RunningServer, startServer } from '../../src/cli/serve.js';
import { loadConfig } from '../../src/config/load.js';
import { assertError, gauge, post, releaseFile, until } from './http.js';

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

/**
 * The default routes without the AI models: a test server that never calls /detect or /ocr does not load CenterNet
 * and PaddleOCR (tests of those routes name them).
 */
const CHEAP_ROUTES = [
  { path: '/score', processor: 'colorIntensity', options: {} },
  { path: '/motion', processor: 'motion', options: {} },
];

/** Starts the real server on 127.0.0.1 with a free port, silent logs, and waits until every worker is ready. */
export async function startTestServer(
  flags: Record<string, unknown> = {},
  options: { waitReady?: boolean; env?: NodeJS.ProcessEnv } = {},
): Promise<TestServer> {
  const config = loadConfig({
    env: options.env ?? {},
    flags: { host: '127.0.0.1', port: 0, logLevel: 'silent', workers: 2, routes: CHEAP_ROUTES, ...flags },
  });
  const server = await startServer(config, { prettyLogs: false });
  if (options.waitReady !== false) await server.ready;
  return { ...server, at: (path: string) => `${server.url}${path}` };
}

/**
 * With one frame running and `maxQueuedRequests: 1` filled, the next request is refused 503 QUEUE_FULL with
 * Retry-After, and the accepted ones complete (the same contract for every execution mode). `server` runs the
 * `behave` double at /behave.
 */
export async function assertQueueFullContract(server: TestServer, body: Uint8Array): Promise<void> {
  const hold = releaseFile();
  const running = post(server.at(`/behave?do=hold&until=${hold.path}`), body);
  await until('the first frame running', async () => (await gauge(server.url, 'httpextension_workers_busy')) === 1);
  const queued = post(server.at('/behave'), body);
  await until('the second frame queued', async () => (await gauge(server.url, 'httpextension_queue_depth')) === 1);
  const refused = await post(server.at('/behave'), body);
  assertError(refused, 503, 'HX_ERR_CAPACITY_QUEUE_FULL');
  assert.ok(Number(refused.headers['retry-after']) >= 1);
  hold.release();
  assert.equal((await running).status, 200);
  assert.equal((await queued).status, 200);
}

/** A server for the back-pressure contracts: the `behave` double at /behave, a queue of one, 1.5 s deadlines. */
export function startBackPressureServer(flags: Record<string, unknown>): Promise<TestServer> {
  return startTestServer({
    maxQueuedRequests: 1,
    requestTimeoutMs: 1500,
    routes: [{ path: '/behave', processor: doubleUrl('behave'), options: {} }],
    ...flags,
  });
}
