import cluster from 'node:cluster';
import type { Server } from 'node:http';
import { dirname } from 'node:path';
import type { Config } from '../config/defaults.js';
import { effectiveWorkers, sparesCores } from '../config/defaults.js';
import { redactConfig } from '../config/load.js';
import { HxError } from '../errors.js';
import { InferenceEngine } from '../inference/engine.js';
import { jpegTurbo } from '../inference/jpeg-native.js';
import { peerGroupFromEnv } from '../inference/peers.js';
import { createLogger } from '../observability/logger.js';
import { listenMetrics } from '../observability/metrics-server.js';
import type { GrpcFrontEnd } from '../protocol/grpc/server.js';
import { buildServer } from '../protocol/http/server.js';
import { groupReadyFromSupervisor, reportMetricsToSupervisor } from './cluster.js';
import { missingServerHeapFlags } from './heap-flags.js';

export interface RunningServer {
  url: string;
  port: number;
  /** Port of the separate /metrics listener, when metrics.port is set. */
  metricsPort: number | undefined;
  /** Port of the gRPC extension front end, when grpc.port is set. */
  grpcPort: number | undefined;
  /**
   * Graceful stop: report not-ready, answer new requests 503 + Retry-After, let every request in flight finish
   * (up to shutdownGraceMs), then stop listening and end the workers.
   */
  close(): Promise<void>;
  /** Re-reads TLS files (SIGHUP): new connections get the new certificate, open ones are not dropped. */
  reloadTls(): void;
  /**
   * Resolves once every executor has loaded its processors; rejects with the reason when one cannot, or when they
   * are not ready within startupTimeoutMs. The server cannot serve then: the caller should stop it.
   */
  ready: Promise<void>;
  /** Resolves when the engine can no longer serve (a worker kept failing to start after it stopped). */
  fatal: Promise<Error>;
}

function engineRoutes(config: Readonly<Config>) {
  return config.routes.map((r) => ({
    path: r.path,
    processor: r.processor,
    options: r.options ?? {},
    execution: r.execution,
  }));
}

function baseDirOf(configFile: string | undefined): string {
  return configFile ? dirname(configFile) : process.cwd();
}

/** What `httpextension config` checks: every processor imported, its options validated, created once. */
export function checkProcessors(config: Readonly<Config>, configFile: string | undefined): Promise<void> {
  return InferenceEngine.check(engineRoutes(config), baseDirOf(configFile));
}

/** Starts the whole server: listens at once (health says not-ready until every worker is up). */
export async function startServer(
  config: Readonly<Config>,
  options: { configFile?: string | undefined; prettyLogs?: boolean } = {},
): Promise<RunningServer> {
  const logger = createLogger(config.logLevel, { pretty: options.prettyLogs ?? process.stdout.isTTY === true });
  const peers = cluster.isWorker ? peerGroupFromEnv() : undefined;
  // The processes this one is part of, as started (not as configured: an embedder's or a test's startServer is one
  // process whatever `processes` says): the CPUs are shared among them.
  const started = { workers: config.workers, processes: peers?.count ?? 1 };
  const engine = await InferenceEngine.prepare({
    routes: engineRoutes(config),
    workers: effectiveWorkers(started),
    execution: config.execution,
    maxQueuedRequests: config.maxQueuedRequests,
    maxPixels: config.maxPixels,
    raw: { ...config.raw, stride: config.raw.strideBytes },
    hungAfterMs: config.requestTimeoutMs,
    faultLimit: config.processorFaultLimit,
    faultBackoffMs: config.processorFaultBackoffMs,
    workerMaxMemoryMb: config.workerMaxMemoryMb,
    handOffUnderLoad: sparesCores(started),
    peers,
    groupReady: peers === undefined ? undefined : groupReadyFromSupervisor(),
    baseDir: baseDirOf(options.configFile),
  });
  // The connection caps are the group's: the supervisor hands connections out in turn, so each process holds its share.
  const share = (n: number) => (peers === undefined ? n : Math.max(1, Math.ceil(n / peers.count)));
  const served: Readonly<Config> = {
    ...config,
    maxConnections: share(config.maxConnections),
    maxConnectionsPerAddress: share(config.maxConnectionsPerAddress),
  };
  const http = await buildServer({ config: served, engine, logger });
  const { app } = http;
  logger.debug({ config: redactConfig(config) }, 'configuration');
  const fatal = new Promise<Error>((resolve) => engine.once('fatal', resolve));
  const ready = withTimeout(
    engine.start(),
    config.startupTimeoutMs,
    () =>
      new HxError(
        'HX_ERR_PROCESSOR_LOAD',
        `The processors did not become ready within startupTimeoutMs (${config.startupTimeoutMs} ms)`,
      ),
  );
  ready.then(
    () => logger.info({ workers: engine.state().workers, lanes: engine.lanes() }, 'all processors ready'),
    (error: unknown) => logger.error({ err: error }, 'processors failed to start'),
  );
  await app.listen({ port: config.port, host: config.host });
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : config.port;

  let metricsServer: Server | undefined;
  // In a supervised group the supervisor serves metrics.port, summed over every process.
  if (cluster.isWorker) reportMetricsToSupervisor(http.metrics.registry);
  else if (config.metrics.enabled && config.metrics.port !== 0) {
    metricsServer = await listenMetrics(http.metrics, config.metrics.port, config.host);
  }
  const grpc: GrpcFrontEnd | undefined =
    config.grpc.port === undefined
      ? undefined
      : // Loaded only when asked for: grpc-js and protobufjs are most of a start's module loading.
        await (await import('../protocol/grpc/server.js')).startGrpcServer({
          config: served,
          engine,
          metrics: http.metrics,
          logger,
        });
  const metricsAddress = metricsServer?.address();
  const metricsPort = typeof metricsAddress === 'object' && metricsAddress !== null ? metricsAddress.port : undefined;

  const scheme = config.tls.certFile ? 'https' : 'http';
  logger.info(
    {
      port,
      host: config.host,
      tls: scheme === 'https',
      routes: config.routes.map((r) => `${r.path} -> ${r.processor}`),
    },
    'httpextension listening',
  );
  // npm shows an install script's output only when it fails, so the binding's absence is said here, once.
  if (jpegTurbo() === undefined) {
    logger.info(
      'JPEGs are decoded by sharp: the optional libjpeg-turbo binding (2-3x cheaper) was not built; install your ' +
        "system's libjpeg-turbo headers and a C compiler, then `npm rebuild httpextension`",
    );
  }
  const missing = missingServerHeapFlags();
  if (missing.length > 0) {
    logger.info(
      { missing },
      'started without the server heap flags: run node with them (as npm start and the container do) for shorter ' +
        'latency tails under load; see docs/operations.md',
    );
  }
  let closing: Promise<void> | undefined;
  return {
    url: `${scheme}://${config.host === '0.0.0.0' ? '127.0.0.1' : config.host}:${port}`,
    port,
    metricsPort,
    grpcPort: grpc?.port,
    ready,
    fatal,
    reloadTls: () => {
      try {
        http.reloadTls();
        grpc?.reloadTls();
        logger.info('TLS certificate reloaded');
      } catch (error) {
        // A bad new certificate must not take the server down: it keeps serving with the old one.
        logger.error({ err: error }, 'TLS reload failed; keeping the current certificate');
      }
    },
    close: () => {
      closing ??= (async () => {
        // Streams stop taking samples first, so none is refused by the draining engine after it was accepted.
        const grpcClosed = grpc?.close();
        engine.drain();
        // Connections without an accepted request (idle, half-open, a body still arriving) hold nothing: closed now.
        http.slots.drain();
        await engine.idle(config.shutdownGraceMs);
        const httpClosed = app.close();
        // Those that connected during the drain and sent nothing yet.
        http.slots.drain();
        await Promise.all([grpcClosed, httpClosed]);
        await new Promise<void>((resolve) => (metricsServer ? metricsServer.close(() => resolve()) : resolve()));
        await engine.close();
        logger.info('stopped');
      })();
      return closing;
    },
  };
}

function withTimeout<T>(promise: Promise<T>, ms: number, error: () => Error): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(error()), ms);
    timer.unref();
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (reason: unknown) => {
        clearTimeout(timer);
        reject(reason);
      },
    );
  });
}
