import { dirname } from 'node:path';
import type { Config } from '../config/defaults.js';
import { effectiveWorkers } from '../config/defaults.js';
import { InferenceEngine } from '../inference/engine.js';
import { createLogger } from '../observability/logger.js';
import { buildServer } from '../protocol/server.js';

export interface RunningServer {
  url: string;
  port: number;
  /** Graceful stop: drain, finish requests in flight (up to shutdownGraceMs), stop workers. */
  close(): Promise<void>;
  /** Resolves once every worker has loaded its processors. */
  ready: Promise<void>;
}

/** Starts the whole server: listens at once (health says not-ready until every worker is up). */
export async function startServer(
  config: Readonly<Config>,
  options: { configFile?: string | undefined; prettyLogs?: boolean } = {},
): Promise<RunningServer> {
  const logger = createLogger(config.logLevel, { pretty: options.prettyLogs ?? process.stdout.isTTY === true });
  const engine = await InferenceEngine.prepare({
    routes: config.routes.map((r) => ({ path: r.path, processor: r.processor, options: r.options ?? {} })),
    workers: effectiveWorkers(config),
    maxQueuedRequests: config.maxQueuedRequests,
    baseDir: options.configFile ? dirname(options.configFile) : process.cwd(),
  });
  const { app, startDraining } = await buildServer({ config, engine, logger });
  const ready = engine.start();
  ready.then(
    () => logger.info({ workers: engine.pool.size }, 'all workers ready'),
    (error: unknown) => logger.error({ err: error }, 'workers failed to start'),
  );
  await app.listen({ port: config.port, host: config.host });
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : config.port;
  logger.info(
    { port, host: config.host, routes: config.routes.map((r) => `${r.path} -> ${r.processor}`) },
    'httpextension listening',
  );
  let closing: Promise<void> | undefined;
  return {
    url: `http://${config.host === '0.0.0.0' ? '127.0.0.1' : config.host}:${port}`,
    port,
    ready,
    close: () => {
      closing ??= (async () => {
        startDraining();
        await app.close();
        await engine.close(config.shutdownGraceMs);
      })();
      return closing;
    },
  };
}
