import cluster, { type Worker } from 'node:cluster';
import { mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AggregatorRegistry } from 'prom-client';
import type { Config } from '../config/defaults.js';
import { peerGroupEnv } from '../inference/peers.js';
import { createLogger } from '../observability/logger.js';
import { listenMetrics } from '../observability/metrics-server.js';
import { withServerHeapFlags } from './heap-flags.js';

/** What a server process tells its supervisor: it listens, its processors are ready, or it could not start. */
export type ChildMessage =
  | { type: 'hx-listening'; port: number }
  | { type: 'hx-ready' }
  | { type: 'hx-start-failed'; message: string };

/** What the supervisor tells its server processes: every process of the group has been ready once. */
export const GROUP_READY = 'hx-group-ready';

/** A process that restarts this soon after its start is crash-looping: wait before the next try. */
const QUICK_EXIT_MS = 5000;

/**
 * The supervisor of `processes` > 1: forks that many server processes, which share the listening port (node:cluster
 * hands connections out round-robin), and keeps them running. It serves no HTTP itself except, when `metrics.port` is
 * set, /metrics summed over every process. SIGTERM/SIGINT drain every process and exit 0 once all have; SIGHUP is
 * passed on (TLS reload). A process that dies after it started is replaced; one that cannot start stops them all
 * (a port in use or a model that will not load would fail the same way every time). Each process has an index, kept
 * by its replacement, and a unix socket in a folder of the supervisor's (mode 0700) on which it serves the streams of
 * stateful routes it owns to the other processes (src/inference/peers.ts).
 */
export async function supervise(config: Readonly<Config>, processes: number): Promise<void> {
  const logger = createLogger(config.logLevel, { pretty: process.stdout.isTTY === true });
  const metrics = new AggregatorRegistry();
  let stopping = false;
  let exitCode = 0;
  const startedAt = new Map<Worker, number>();
  const listening = new Set<Worker>();
  const ready = new Set<Worker>();
  // A group is ready once all its processes are: until then a readiness probe could reach one that is ready and
  // send traffic to a group that mostly is not. A replacement later is told at once (the others serve meanwhile).
  let groupReady = false;
  const indexOf = new Map<Worker, number>();
  // mkdtemp makes it 0700: only this user's processes can reach the sockets.
  const peersDir = mkdtempSync(join(tmpdir(), 'httpextension-'));
  process.on('exit', () => rmSync(peersDir, { recursive: true, force: true }));
  // Started as `node dist/src/cli/main.js` rather than by a launcher of ours, the server processes still get them.
  cluster.setupPrimary({ execArgv: withServerHeapFlags(process.execArgv) });

  // A process that exits meanwhile is not told (the callback takes the error): its replacement will be.
  const tellReady = (worker: Worker): void => {
    if (worker.isConnected()) worker.send({ type: GROUP_READY }, () => {});
  };
  const fork = (index: number): void => {
    const worker = cluster.fork(peerGroupEnv({ dir: peersDir, index, count: processes }));
    startedAt.set(worker, Date.now());
    indexOf.set(worker, index);
    worker.on('message', (message: ChildMessage) => {
      if (message?.type === 'hx-listening') listening.add(worker);
      else if (message?.type === 'hx-ready') {
        ready.add(worker);
        if (groupReady) tellReady(worker);
        else if (ready.size === processes) {
          groupReady = true;
          logger.info({ processes }, 'every server process is ready');
          for (const each of ready) tellReady(each);
        }
      } else if (message?.type === 'hx-start-failed' && !stopping) {
        logger.fatal({ pid: worker.process.pid, reason: message.message }, 'a server process could not start');
        exitCode = 1;
        stop('SIGTERM');
      }
    });
    worker.on('exit', (code, signal) => {
      const started = startedAt.get(worker) ?? 0;
      startedAt.delete(worker);
      const wasListening = listening.delete(worker);
      ready.delete(worker);
      if (stopping) {
        if (code !== 0) exitCode = 1;
        if (startedAt.size === 0) finish();
        return;
      }
      logger.error({ pid: worker.process.pid, code, signal }, 'server process stopped; starting another');
      if (!wasListening) {
        // It never served: the next one would fail the same way.
        exitCode = 1;
        stop('SIGTERM');
        return;
      }
      setTimeout(() => fork(indexOf.get(worker) ?? 0), Date.now() - started < QUICK_EXIT_MS ? 1000 : 0);
    });
  };

  let metricsServer: Server | undefined;
  const finish = (): void => {
    logger.info({ exitCode }, 'all server processes stopped');
    if (metricsServer) metricsServer.close();
    process.exit(exitCode);
  };

  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) {
      // A second Ctrl-C means "now".
      if (signal === 'SIGINT') {
        for (const worker of startedAt.keys()) worker.process.kill('SIGKILL');
        process.exit(1);
      }
      return;
    }
    stopping = true;
    logger.info({ signal }, 'draining every server process');
    for (const worker of startedAt.keys()) worker.process.kill('SIGTERM');
    if (startedAt.size === 0) finish();
    setTimeout(() => {
      for (const worker of startedAt.keys()) worker.process.kill('SIGKILL');
      process.exit(1);
    }, config.shutdownGraceMs + 10_000).unref();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGHUP', () => {
    for (const worker of startedAt.keys()) worker.process.kill('SIGHUP');
  });

  if (config.metrics.enabled && config.metrics.port !== 0) {
    const summed = { render: () => metrics.clusterMetrics(), contentType: metrics.contentType };
    metricsServer = await listenMetrics(summed, config.metrics.port, config.host);
  }
  logger.info({ processes, port: config.port }, 'starting server processes');
  for (let i = 0; i < processes; i++) fork(i);
}

/** In a server process of a supervised group: answer the supervisor's metrics requests from `registry`. */
export function reportMetricsToSupervisor(registry: import('prom-client').Registry): void {
  AggregatorRegistry.setRegistries([registry]);
  // Constructing one installs prom-client's listener for the supervisor's requests in this process.
  new AggregatorRegistry();
}

/** In a server process of a supervised group: resolves when the supervisor says every process has been ready. */
export function groupReadyFromSupervisor(): Promise<void> {
  return new Promise((resolve) => {
    const told = (message: unknown): void => {
      if ((message as { type?: unknown } | null)?.type !== GROUP_READY) return;
      process.off('message', told);
      resolve();
    };
    process.on('message', told);
  });
}
