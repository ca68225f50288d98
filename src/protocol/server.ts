import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { SecureContextOptions } from 'node:tls';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  LogController,
} from 'fastify';
import type { Logger } from 'pino';
import type { Config } from '../config/defaults.js';
import { HxError } from '../errors.js';
import type { InferenceEngine } from '../inference/engine.js';
import { type MediaInfo, probeEncoded, probeRaw, sniffKind } from '../inference/probe.js';
import { Metrics, STAGES } from '../observability/metrics.js';
import { Authenticator } from './auth/authenticator.js';
import { authSettings } from './auth/settings.js';
import type { AuthScheme } from './auth/types.js';
import { readBody } from './body.js';
import { toErrorResponse } from './error-response.js';
import { isSupportedDeclaredType, parseMediaType, RAW_MEDIA_TYPE } from './media-type.js';
import { taskExtras } from './task-extras.js';

export interface ServerDeps {
  config: Readonly<Config>;
  engine: InferenceEngine;
  logger: FastifyBaseLogger;
}

/** Per-request facts gathered along the stages, for the response, the log line and metrics. */
interface RequestState {
  startedAt: number;
  /** Counted in the in-flight total that a graceful shutdown waits for. */
  counted?: boolean;
  receiveMs?: number;
  bytes?: number;
  code?: string;
  processor?: string;
  timings?: { queueMs: number; decodeMs: number; processMs: number; encodeMs: number };
  inferences?: number;
}

declare module 'fastify' {
  interface FastifyRequest {
    hx: RequestState;
  }
}

const INFERENCE_METHODS_ALLOWED = 'POST';
const OTHER_METHODS = ['GET', 'HEAD', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'] as const;
const REQUEST_ID_HEADER = 'x-ms-client-request-id';
/** Ids are echoed into headers and logs: accept only short, visible ASCII. */
const SAFE_ID = /^[\x21-\x7e]{1,128}$/;

export interface HttpServer {
  app: FastifyInstance;
  metrics: Metrics;
  /** Stop taking new work: readiness turns 503 and new inference requests get 503 + Retry-After. */
  startDraining(): void;
  /** Resolves when no inference request is in flight (or after `timeoutMs`). */
  idle(timeoutMs: number): Promise<void>;
  /** Re-reads the TLS certificate, key and CA files; new connections use them, open ones keep theirs. */
  reloadTls(): void;
}

/**
 * Mozilla's "intermediate" profile: TLS 1.2 only with ECDHE key exchange (forward secrecy) and AEAD ciphers, no
 * static RSA and no CBC; TLS 1.3's suites listed too, since Node takes both from this one string.
 */
const TLS_CIPHERS = [
  'TLS_AES_128_GCM_SHA256',
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

/** PEM files read into the options Node's TLS layer takes. */
export function readTlsFiles(
  tls: Config['tls'],
): SecureContextOptions & { requestCert?: boolean; rejectUnauthorized?: boolean } {
  return {
    cert: readFileSync(tls.certFile!),
    key: readFileSync(tls.keyFile!),
    minVersion: tls.minVersion,
    ciphers: TLS_CIPHERS,
    ...(tls.caFile ? { ca: readFileSync(tls.caFile), requestCert: true, rejectUnauthorized: true } : {}),
  };
}

/** Builds the HTTP front end (not listening yet). It knows routes, limits and media types, not models. */
export async function buildServer(deps: ServerDeps): Promise<HttpServer> {
  const { config, engine } = deps;
  let draining = false;
  let inFlight = 0;
  const idleWaiters = new Set<() => void>();
  const authenticator = new Authenticator(authSettings(config.auth));
  const routeSchemes = new Map<string, readonly AuthScheme[]>(
    config.routes.map((route) => [route.path, route.auth ?? config.auth.schemes]),
  );
  const metricsPath = config.metrics.enabled && config.metrics.port === 0 ? '/metrics' : undefined;
  const metrics = new Metrics({
    queued: () => engine.pool.queued,
    busy: () => engine.pool.busy,
    size: () => engine.pool.size,
    ready: () => engine.ready && !draining,
  });
  const tlsEnabled = config.tls.certFile !== undefined;
  const serverOptions = {
    maxHeaderSize: config.maxHeaderBytes,
    headersTimeout: config.headersTimeoutMs,
    requestTimeout: config.bodyTimeoutMs,
    // How often Node checks the two timeouts above (its default, 30 s, would let a slow client linger).
    connectionsCheckingInterval: Math.min(1000, config.headersTimeoutMs),
  };

  const app = Fastify({
    ...(tlsEnabled ? { https: { ...readTlsFiles(config.tls), ...serverOptions } } : { http: serverOptions }),
    requestTimeout: config.bodyTimeoutMs,
    clientErrorHandler: answerClientError,
    loggerInstance: deps.logger,
    // One line per request is written by our onResponse hook, with stage timings and the error code.
    logController: new LogController({ disableRequestLogging: true }),
    // No per-request child logger (a pino child per frame is measurable at thousands of frames a second): the one
    // line per request below carries the request id itself.
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
  app.decorateRequest('hx', null as unknown as RequestState);
  app.server.maxConnections = config.maxConnections;

  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (request, payload, done) => {
    const t = performance.now();
    readBody(payload, config.maxBodyBytes).then(
      (body) => {
        request.hx.receiveMs = performance.now() - t;
        request.hx.bytes = body.byteLength;
        done(null, body);
      },
      (error: Error) => done(error, undefined),
    );
  });

  app.addHook('onRequest', async (request, reply) => {
    request.hx = { startedAt: performance.now() };
    reply.header(REQUEST_ID_HEADER, request.id);
    const path = request.routeOptions.url;
    const schemes = path === undefined ? undefined : path === metricsPath ? metricsSchemes() : routeSchemes.get(path);
    if (schemes !== undefined && schemes.length > 0) {
      // Checked on headers alone, before the body is read: an unauthenticated client cannot make us buffer a frame.
      const verdict = authenticator.check(
        { method: request.method, url: request.url, headers: request.headers },
        schemes,
      );
      if (!verdict.ok) {
        const code = verdict.missing ? 'HX_ERR_AUTH_REQUIRED' : 'HX_ERR_AUTH_INVALID';
        const headers: Record<string, string | string[]> = { 'www-authenticate': verdict.challenges };
        if (hasLargeBody(request.raw)) headers.connection = 'close';
        throw new HxError(code, undefined, { headers });
      }
    }
    if (routeSchemes.has(path ?? '')) {
      inFlight++;
      request.hx.counted = true;
    }
  });

  app.setErrorHandler((error, request, reply) => sendError(reply, request, error));
  app.setNotFoundHandler((request, reply) =>
    sendError(reply, request, new HxError('HX_ERR_HTTP_NOT_FOUND', `No route at ${request.url.split('?')[0]}`)),
  );

  const leave = (request: FastifyRequest): void => {
    if (request.hx?.counted !== true) return;
    request.hx.counted = false;
    inFlight--;
    if (inFlight === 0) for (const wake of idleWaiters) wake();
  };
  app.addHook('onRequestAbort', async (request) => leave(request));

  app.addHook('onResponse', async (request, reply) => {
    leave(request);
    const s = request.hx;
    if (s === null || s === undefined) return;
    const route = request.routeOptions.url ?? 'unmatched';
    metrics.observeRequest({
      route,
      method: request.method,
      status: reply.statusCode,
      durationSeconds: (performance.now() - s.startedAt) / 1000,
      code: s.code,
    });
    if (s.receiveMs !== undefined) metrics.observeStage('receive', s.processor ?? 'none', s.receiveMs / 1000);
    if (s.timings !== undefined) {
      const processor = s.processor ?? 'none';
      for (const stage of STAGES) {
        if (stage === 'receive') continue;
        metrics.observeStage(stage, processor, s.timings[`${stage}Ms`] / 1000);
      }
    }
    const level = reply.statusCode >= 500 ? 'error' : 'info';
    // At warn and above (the usual production setting under load) no line is written: do not build it either.
    if (!(deps.logger as unknown as Logger).isLevelEnabled(level)) return;
    const fields = {
      reqId: request.id,
      method: request.method,
      route: request.routeOptions.url ?? request.url.split('?')[0],
      status: reply.statusCode,
      bytes: s.bytes ?? 0,
      durationMs: round(performance.now() - s.startedAt),
      ...(s.processor ? { processor: s.processor } : {}),
      ...(s.code ? { code: s.code } : {}),
      ...(s.timings
        ? {
            stages: {
              receive: round(s.receiveMs ?? 0),
              queue: round(s.timings.queueMs),
              decode: round(s.timings.decodeMs),
              process: round(s.timings.processMs),
              encode: round(s.timings.encodeMs),
            },
          }
        : {}),
    };
    request.log[level](fields, level === 'error' ? 'request failed' : 'request');
  });

  if (metricsPath !== undefined) {
    app.get(metricsPath, async (_request, reply) => reply.type(metrics.contentType).send(await metrics.render()));
  }
  function metricsSchemes(): readonly AuthScheme[] {
    return config.metrics.auth ? config.auth.schemes : [];
  }

  // Health: never behind auth, never queued.
  app.get('/health/live', async (_request, reply) => reply.send({ status: 'live' }));
  app.get('/health/ready', async (request, reply) => {
    if (engine.ready && !draining) return reply.send({ status: 'ready' });
    const code = draining ? 'HX_ERR_CAPACITY_DRAINING' : 'HX_ERR_CAPACITY_NOT_READY';
    return sendError(reply, request, new HxError(code, undefined, { headers: { 'retry-after': '1' } }));
  });

  for (const route of config.routes) {
    app.post(route.path, (request, reply) => handleInference(request, reply, route.path));
    app.route({
      method: [...OTHER_METHODS],
      url: route.path,
      handler: (request, reply) =>
        sendError(
          reply,
          request,
          new HxError('HX_ERR_HTTP_METHOD_NOT_ALLOWED', `Use POST at ${route.path}`, {
            headers: { allow: INFERENCE_METHODS_ALLOWED },
          }),
        ),
    });
  }

  async function handleInference(request: FastifyRequest, reply: FastifyReply, key: string): Promise<FastifyReply> {
    const state = request.hx;
    state.processor = engine.processorOf(key);
    if (draining) {
      // Connection: close sends the client's next frame to another instance.
      throw new HxError('HX_ERR_CAPACITY_DRAINING', undefined, {
        headers: { 'retry-after': String(engine.pool.retryAfterSeconds()), connection: 'close' },
      });
    }
    const body = request.body instanceof Uint8Array ? request.body : new Uint8Array(0);
    if (body.byteLength === 0) throw new HxError('HX_ERR_MEDIA_EMPTY_BODY');
    const query = flattenQuery(request.query);
    const media = describeMedia(request, body, query);
    if (media.width * media.height > config.maxPixels) {
      throw new HxError(
        'HX_ERR_LIMIT_TOO_MANY_PIXELS',
        `The image is ${media.width}x${media.height} = ${media.width * media.height} pixels, over maxPixels ` +
          `(${config.maxPixels}): scale frames down in the pipeline or raise maxPixels`,
      );
    }
    const controller = new AbortController();
    reply.raw.once('close', () => {
      if (!reply.raw.writableFinished) controller.abort();
    });
    const outcome = await engine.infer({
      key,
      body,
      media,
      query,
      requestId: request.id,
      deadline: state.startedAt + config.requestTimeoutMs,
      signal: controller.signal,
      ...taskExtras(config.routes, key, request.headers, query),
    });
    state.timings = outcome.timings;
    state.inferences = outcome.inferenceCount;
    metrics.observeInferences(outcome.processor, outcome.labels);
    if (outcome.image !== undefined) {
      return reply.code(200).type(outcome.image.mediaType).send(Buffer.from(outcome.image.bytes));
    }
    if (outcome.json === undefined) return reply.code(204).send();
    return reply.code(200).type('application/json; charset=utf-8').send(outcome.json);
  }

  function describeMedia(request: FastifyRequest, body: Uint8Array, query: Record<string, string>): MediaInfo {
    const declared = parseMediaType(request.headers['content-type']);
    if (declared.essence === RAW_MEDIA_TYPE) {
      const h = request.headers;
      return probeRaw(body.byteLength, [
        declared.params,
        query,
        {
          width: header(h['x-raw-width']),
          height: header(h['x-raw-height']),
          format: header(h['x-raw-format']),
          stride: header(h['x-raw-stride']),
        },
        { ...config.raw, stride: config.raw.strideBytes },
      ]);
    }
    if (sniffKind(body) === undefined && !isSupportedDeclaredType(declared.essence)) {
      throw new HxError(
        'HX_ERR_MEDIA_UNSUPPORTED_TYPE',
        `Content-Type ${declared.essence} is not supported and the body is not a JPEG, PNG or BMP: send ` +
          'image/jpeg, image/png, image/bmp or image/x-raw',
      );
    }
    return probeEncoded(body);
  }

  function sendError(reply: FastifyReply, request: FastifyRequest, error: unknown): FastifyReply {
    const response = toErrorResponse(error, request.id);
    if (request.hx) request.hx.code = response.body.code;
    if (response.status >= 500 && response.body.code === 'HX_ERR_SERVER_INTERNAL') {
      request.log.error({ err: error, reqId: request.id }, 'internal error');
    }
    return reply.code(response.status).headers(response.headers).send(response.body);
  }

  engine.pool.on('worker-exit', ({ workerId, reason }) => app.log.error({ workerId, reason }, 'worker stopped'));
  engine.pool.on('task-error-detail', ({ requestId, code, detail }) =>
    app.log.error({ reqId: requestId, code, detail }, 'processor error'),
  );

  /** Node's own protocol errors (before a request exists): answered in our JSON shape, then the socket closes. */
  function answerClientError(error: NodeJS.ErrnoException, socket: Socket): void {
    if (error.code === 'ECONNRESET' || socket.destroyed) return;
    const code =
      error.code === 'HPE_HEADER_OVERFLOW'
        ? 'HX_ERR_HTTP_HEADERS_TOO_LARGE'
        : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? 'HX_ERR_HTTP_BODY_TIMEOUT'
          : 'HX_ERR_HTTP_BAD_REQUEST';
    const response = toErrorResponse(new HxError(code), randomUUID());
    metrics.observeRequest({
      route: 'unmatched',
      method: 'unknown',
      status: response.status,
      durationSeconds: 0,
      code,
    });
    const body = JSON.stringify(response.body);
    if (socket.writable) {
      socket.write(
        `HTTP/1.1 ${response.status} ${response.body.error}\r\nContent-Type: application/json; charset=utf-8\r\n` +
          `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      );
    }
    socket.destroy();
  }

  return {
    app,
    metrics,
    startDraining: () => {
      draining = true;
    },
    idle: (timeoutMs: number) =>
      new Promise<void>((resolve) => {
        if (inFlight === 0) return resolve();
        const done = (): void => {
          clearTimeout(timer);
          idleWaiters.delete(done);
          resolve();
        };
        const timer = setTimeout(done, timeoutMs);
        idleWaiters.add(done);
      }),
    reloadTls: () => {
      if (!tlsEnabled) return;
      (app.server as unknown as { setSecureContext(options: SecureContextOptions): void }).setSecureContext(
        readTlsFiles(config.tls),
      );
    },
  };
}

/** A body we would rather not read after refusing a request: closing is cheaper than draining it. */
function hasLargeBody(req: IncomingMessage): boolean {
  const length = Number(req.headers['content-length'] ?? 0);
  return req.headers['transfer-encoding'] !== undefined || length > 1024 * 1024;
}

function header(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function flattenQuery(query: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (query !== null && typeof query === 'object') {
    for (const [key, value] of Object.entries(query as Record<string, unknown>)) {
      const first = Array.isArray(value) ? value[0] : value;
      if (typeof first === 'string') out[key] = first;
    }
  }
  return out;
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
