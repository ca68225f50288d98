import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from '../../config/defaults.js';
import { HxError, isHxError } from '../../errors.js';
import { FILTER_KEYS, type InferenceEngine, type RawGeometrySource } from '../../inference/engine.js';
import type { Metrics } from '../../observability/metrics.js';
import { parseMediaType } from './media-type.js';
import { replyError } from './reply-error.js';
import { taskExtras } from './task-extras.js';

const OTHER_METHODS = ['GET', 'HEAD', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'] as const;

/**
 * The inference routes: POST hands the body and what the headers and query say about it to the engine and answers
 * its outcome (200 JSON, 200 image, 204 for no result); every other method is 405.
 */
/** The query as one string per key; a filter given twice is ambiguous, so refused. */
export function flattenQuery(query: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (query !== null && typeof query === 'object') {
    for (const [key, value] of Object.entries(query as Record<string, unknown>)) {
      if (Array.isArray(value) && value.length > 1 && FILTER_KEYS.some((k) => k === key)) {
        throw new HxError('HX_ERR_HTTP_BAD_QUERY', `?${key} is given ${value.length} times: give it once`);
      }
      const first = Array.isArray(value) ? value[0] : value;
      if (typeof first === 'string') out[key] = first;
    }
  }
  return out;
}

export function installInferenceRoutes(
  app: FastifyInstance,
  config: Readonly<Config>,
  engine: InferenceEngine,
  metrics: Metrics,
): void {
  for (const route of config.routes) {
    app.post(route.path, (request, reply) => infer(request, reply, route.path));
    app.route({
      method: [...OTHER_METHODS],
      url: route.path,
      handler: (request, reply) =>
        replyError(
          reply,
          request,
          new HxError('HX_ERR_HTTP_METHOD_NOT_ALLOWED', `Use POST at ${route.path}`, { headers: { allow: 'POST' } }),
        ),
    });
  }

  async function infer(request: FastifyRequest, reply: FastifyReply, path: string): Promise<FastifyReply> {
    const state = request.hx;
    state.processor = engine.processorOf(path);
    const body = request.body instanceof Uint8Array ? request.body : new Uint8Array(0);
    const query = flattenQuery(request.query);
    const declared = parseMediaType(request.headers['content-type']);
    const controller = new AbortController();
    reply.raw.once('close', () => {
      if (!reply.raw.writableFinished) controller.abort();
    });
    const extras = taskExtras(config.routes, path, request.headers, query);
    let outcome: Awaited<ReturnType<InferenceEngine['infer']>>;
    try {
      outcome = await engine.infer({
        route: path,
        body,
        mediaType: declared.essence,
        rawHints: rawHintsOf(request, declared.params, query),
        query,
        stream: extras.stream,
        origin: request.ip,
        output: extras.image ? 'image' : 'json',
        requestId: request.id,
        deadline: state.startedAt + config.requestTimeoutMs,
        signal: controller.signal,
        onStart: () => {
          state.stage = 'process';
        },
      });
    } catch (error) {
      // Connection: close sends a draining server's clients to another instance with their next frame.
      if (isHxError(error) && error.code === 'HX_ERR_CAPACITY_DRAINING') {
        throw new HxError(error.code, error.message, { headers: { ...error.headers, connection: 'close' } });
      }
      throw error;
    }
    state.timings = outcome.timings;
    state.inferences = outcome.inferenceCount;
    metrics.observeInferences(outcome.processor, outcome.labels);
    if (outcome.image !== undefined) {
      return reply.code(200).type(outcome.image.mediaType).send(Buffer.from(outcome.image.bytes));
    }
    if (outcome.json === undefined) return reply.code(204).send();
    return reply.code(200).type('application/json; charset=utf-8').send(outcome.json);
  }
}

/** Raw geometry from the request, in precedence order: Content-Type parameters, query, X-Raw-* headers. */
export function rawHintsOf(
  request: FastifyRequest,
  params: Readonly<Record<string, string>>,
  query: Readonly<Record<string, string>>,
): RawGeometrySource[] {
  const h = request.headers;
  return [
    params,
    query,
    {
      width: header(h['x-raw-width']),
      height: header(h['x-raw-height']),
      format: header(h['x-raw-format']),
      stride: header(h['x-raw-stride']),
    },
  ];
}

function header(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
