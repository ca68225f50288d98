import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { performance } from 'node:perf_hooks';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  LogController,
} from 'fastify';
import type { Config } from '../config/defaults.js';
import { HxError } from '../errors.js';
import type { InferenceEngine } from '../inference/engine.js';
import { type MediaInfo, probeEncoded, probeRaw, sniffKind } from '../inference/probe.js';
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
  /** Stop taking new work: readiness turns 503 and new inference requests get 503 + Retry-After. */
  startDraining(): void;
}

/** Builds the HTTP front end (not listening yet). It knows routes, limits and media types, not models. */
export async function buildServer(deps: ServerDeps): Promise<HttpServer> {
  const { config, engine } = deps;
  let draining = false;

  const app = Fastify({
    loggerInstance: deps.logger,
    // One line per request is written by our onResponse hook, with stage timings and the error code.
    logController: new LogController({ disableRequestLogging: true }),
    requestIdHeader: false,
    genReqId: (req: IncomingMessage) => {
      const id = req.headers[REQUEST_ID_HEADER];
      return typeof id === 'string' && SAFE_ID.test(id) ? id : randomUUID();
    },
    // Pipelines hold one connection per extension node and may send a frame every 5 s (0.2 fps).
    keepAliveTimeout: 65_000,
    return503OnClosing: false,
    forceCloseConnections: 'idle',
  });
  app.decorateRequest('hx', null as unknown as RequestState);

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
  });

  app.setErrorHandler((error, request, reply) => sendError(reply, request, error));
  app.setNotFoundHandler((request, reply) =>
    sendError(reply, request, new HxError('HX_ERR_HTTP_NOT_FOUND', `No route at ${request.url.split('?')[0]}`)),
  );

  app.addHook('onResponse', async (request, reply) => {
    const s = request.hx;
    if (s === null || s === undefined) return;
    const fields = {
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
    if (reply.statusCode >= 500) request.log.error(fields, 'request failed');
    else request.log.info(fields, 'request');
  });

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
      throw new HxError('HX_ERR_CAPACITY_DRAINING', undefined, {
        headers: { 'retry-after': String(engine.pool.retryAfterSeconds()) },
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
    if (response.status >= 500 && response.body.code === 'HX_ERR_INTERNAL') {
      request.log.error({ err: error, reqId: request.id }, 'internal error');
    }
    return reply.code(response.status).headers(response.headers).send(response.body);
  }

  engine.pool.on('worker-exit', ({ workerId, reason }) => app.log.error({ workerId, reason }, 'worker stopped'));
  engine.pool.on('task-error-detail', ({ requestId, code, detail }) =>
    app.log.error({ reqId: requestId, code, detail }, 'processor error'),
  );

  return {
    app,
    startDraining: () => {
      draining = true;
    },
  };
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
