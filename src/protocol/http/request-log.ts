import { performance } from 'node:perf_hooks';
import type { FastifyBaseLogger, FastifyInstance, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { type Metrics, STAGES } from '../../observability/metrics.js';

/** Per-request facts gathered along the stages, for the response, the log line and metrics. */
export interface RequestState {
  startedAt: number;
  /** Where the request is, for a client that goes away: its body arriving, waiting for an executor, or running. */
  stage: 'receive' | 'queue' | 'process';
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

/**
 * Starts every request's state (first of the onRequest hooks) and ends it with one log line and its metrics: the
 * route, status, error code and stage timings.
 */
export function installRequestLog(app: FastifyInstance, metrics: Metrics, logger: FastifyBaseLogger): void {
  app.decorateRequest('hx', null as unknown as RequestState);
  app.addHook('onRequest', async (request, reply) => {
    request.hx = { startedAt: performance.now(), stage: 'receive' };
    // A client that closed its connection before its answer was written: logged and counted with its stage.
    reply.raw.once('close', () => {
      if (!reply.raw.writableFinished) clientGone(request);
    });
  });
  const clientGone = (request: FastifyRequest): void => {
    const s = request.hx;
    metrics.observeClientGone(s.stage);
    request.log.warn(
      {
        reqId: request.id,
        method: request.method,
        route: request.routeOptions.url ?? request.url.split('?')[0],
        stage: s.stage,
        code: 'HX_ERR_CLIENT_GONE',
        durationMs: round(performance.now() - s.startedAt),
      },
      'client gone',
    );
  };
  app.addHook('onResponse', async (request, reply) => {
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
    const processor = s.processor ?? 'none';
    if (s.receiveMs !== undefined) metrics.observeStage('receive', processor, s.receiveMs / 1000);
    if (s.timings !== undefined) {
      for (const stage of STAGES) {
        if (stage !== 'receive') metrics.observeStage(stage, processor, s.timings[`${stage}Ms`] / 1000);
      }
    }
    // A readiness 503 is the answer while starting or draining, not a failure of the server.
    const probe = request.routeOptions.url === '/health/ready';
    const level = reply.statusCode >= 500 && !probe ? 'error' : 'info';
    // At warn and above (the usual production setting under load) no line is written: do not build it either.
    if (!(logger as unknown as Logger).isLevelEnabled(level)) return;
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
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
