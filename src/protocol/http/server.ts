import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { SecureContextOptions } from 'node:tls';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import type { Config } from '../../config/defaults.js';
import { HxError } from '../../errors.js';
import type { InferenceEngine } from '../../inference/engine.js';
import { Metrics } from '../../observability/metrics.js';
import { VERSION } from '../../version.js';
import { configuredSlotLimits } from '../connection-slots.js';
import { installAuth } from './auth-hook.js';
import { readBody } from './body.js';
import { clientErrorAnswerer } from './client-error.js';
import { HttpConnectionSlots } from './connection-slots.js';
import { CONSOLE_PATHS, installConsole, sendConsolePage, wantsPage } from './console.js';
import { flattenQuery, installInferenceRoutes, rawHintsOf } from './inference-route.js';
import { parseMediaType } from './media-type.js';
import { replyError } from './reply-error.js';
import { installRequestLog } from './request-log.js';
import { listenerOptions, readTlsFiles } from './tls.js';

export interface ServerDeps {
  config: Readonly<Config>;
  engine: InferenceEngine;
  logger: FastifyBaseLogger;
}

const REQUEST_ID_HEADER = 'x-ms-client-request-id';
/** Ids are echoed into headers and logs: accept only short, visible ASCII. */
const SAFE_ID = /^[\x21-\x7e]{1,128}$/;

export interface HttpServer {
  app: FastifyInstance;
  metrics: Metrics;
  slots: HttpConnectionSlots;
  /** Re-reads the TLS certificate, key and CA files; new connections use them, open ones keep theirs. */
  reloadTls(): void;
}

/**
 * The HTTP front end (not listening yet): routes, limits, auth, health, metrics and logs over the engine. Draining
 * and work in flight are the engine's: this front end only maps its answers and errors to HTTP.
 */
export async function buildServer(deps: ServerDeps): Promise<HttpServer> {
  const { config, engine } = deps;
  const metricsPath = config.metrics.enabled && config.metrics.port === 0 ? '/metrics' : undefined;
  const metrics = new Metrics({
    queued: () => engine.state().queued,
    busy: () => engine.state().busy,
    size: () => engine.state().workers,
    ready: () => engine.state().ready,
  });
  const app = Fastify({
    ...listenerOptions(config),
    requestTimeout: config.bodyTimeoutMs,
    clientErrorHandler: clientErrorAnswerer(metrics),
    loggerInstance: deps.logger,
    // One line per request is written by the request log, with stage timings and the error code.
    logController: new LogController({ disableRequestLogging: true }),
    // No per-request child logger (a pino child per frame is measurable at thousands of frames a second): the one
    // line per request carries the request id itself.
    childLoggerFactory: (logger) => logger,
    requestIdHeader: false,
    genReqId: (req: IncomingMessage) => {
      const id = req.headers[REQUEST_ID_HEADER];
      return typeof id === 'string' && SAFE_ID.test(id) ? id : randomUUID();
    },
    keepAliveTimeout: config.keepAliveTimeoutMs,
    return503OnClosing: false,
    forceCloseConnections: 'idle',
  });
  const slots = new HttpConnectionSlots(app.server, configuredSlotLimits(config), (reason) =>
    metrics.observeConnectionClosed('http', reason),
  );

  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (request, payload, done) => {
    const route = request.routeOptions.url;
    if (route !== undefined) {
      try {
        const declared = parseMediaType(request.headers['content-type']);
        const query = flattenQuery(request.query);
        engine.admitDeclared(route, declared.essence, rawHintsOf(request, declared.params, query));
      } catch (error) {
        done(error as Error, undefined);
        return;
      }
    }
    const t = performance.now();
    readBody(payload, config.maxBodyBytes).then(
      (body) => {
        request.hx.receiveMs = performance.now() - t;
        request.hx.stage = 'queue';
        request.hx.bytes = body.byteLength;
        done(null, body);
      },
      (error: Error) => done(error, undefined),
    );
  });

  installRequestLog(app, metrics, deps.logger);
  app.addHook('onRequest', async (request, reply) => {
    reply.header(REQUEST_ID_HEADER, request.id);
  });
  installAuth(app, config, metricsPath, config.console.enabled ? CONSOLE_PATHS : []);
  app.setErrorHandler((error, request, reply) => replyError(reply, request, error));
  const routePaths = new Set(config.routes.map((r) => r.path));
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0] ?? '';
    // A method Fastify routes no handler for (TRACE, PROPFIND, ...) at an inference route is 405, as at any other.
    const error = routePaths.has(path)
      ? new HxError('HX_ERR_HTTP_METHOD_NOT_ALLOWED', `Use POST at ${path}`, { headers: { allow: 'POST' } })
      : new HxError('HX_ERR_HTTP_NOT_FOUND', `No route at ${path}`);
    return replyError(reply, request, error);
  });

  if (metricsPath !== undefined) {
    app.get(metricsPath, async (_request, reply) => reply.type(metrics.contentType).send(await metrics.render()));
  }
  // Health: never behind auth, never queued.
  app.get('/health/live', async (_request, reply) => reply.send({ status: 'live', version: VERSION }));
  // What a person (or a probe) opening the server's address sees, rather than a bare 404.
  const index = {
    name: 'httpextension',
    version: VERSION,
    routes: config.routes.map((r) => ({
      path: r.path,
      processor: r.processor,
      ...(r.annotate ? { annotate: true } : {}),
    })),
    health: { live: '/health/live', ready: '/health/ready' },
    ...(metricsPath === undefined ? {} : { metrics: metricsPath }),
    ...(config.console.enabled ? { console: '/console/' } : {}),
  };
  if (!config.routes.some((r) => r.path === '/')) {
    app.get('/', async (request, reply) =>
      config.console.enabled && wantsPage(request.headers.accept) ? sendConsolePage(reply) : reply.send(index),
    );
  }
  app.get('/health/ready', async (request, reply) => {
    const state = engine.state();
    if (state.ready) return reply.send({ status: 'ready' });
    const code = state.draining ? 'HX_ERR_CAPACITY_DRAINING' : 'HX_ERR_CAPACITY_NOT_READY';
    return replyError(reply, request, new HxError(code, undefined, { headers: { 'retry-after': '1' } }));
  });
  // After auth: an overloaded server refuses a frame from its head, before reading (or buffering) the body; the
  // connection is closed since the unread body would otherwise have to be read to keep it.
  app.addHook('onRequest', async (request) => {
    const route = request.routeOptions.url;
    if (request.method !== 'POST' || route === undefined || !routePaths.has(route)) return;
    const refusal = engine.refusalBeforeBody(route);
    if (refusal !== undefined) {
      throw new HxError(refusal.code, refusal.message, { headers: { ...refusal.headers, connection: 'close' } });
    }
  });
  installInferenceRoutes(app, config, engine, metrics);
  if (config.console.enabled) installConsole(app, config, engine, metrics);

  engine.on('worker-exit', ({ workerId, reason }) => app.log.error({ workerId, reason }, 'worker stopped'));
  engine.on('processor-fault', ({ route, detail }) => app.log.error({ route, detail }, 'processor fault'));
  engine.on('circuit-open', ({ route, backoffMs }) =>
    app.log.error(
      { route, backoffMs, code: 'HX_ERR_CAPACITY_CIRCUIT_OPEN' },
      'route paused: its processor keeps faulting',
    ),
  );
  engine.on('task-error-detail', ({ requestId, code, detail }) =>
    app.log.error({ reqId: requestId, code, detail }, 'processor error'),
  );

  return {
    app,
    metrics,
    slots,
    reloadTls: () => {
      if (config.tls.certFile === undefined) return;
      (app.server as unknown as { setSecureContext(options: SecureContextOptions): void }).setSecureContext(
        readTlsFiles(config.tls),
      );
    },
  };
}
