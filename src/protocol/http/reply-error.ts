import type { FastifyReply, FastifyRequest } from 'fastify';
import { toErrorResponse } from '../error-response.js';

/** Sends any error as our JSON error body, notes its code for the request log, logs what a client must not see. */
export function replyError(reply: FastifyReply, request: FastifyRequest, error: unknown): FastifyReply {
  const response = toErrorResponse(error, request.id);
  if (request.hx) request.hx.code = response.body.code;
  if (response.status >= 500 && response.body.code === 'HX_ERR_SERVER_INTERNAL') {
    request.log.error({ err: error, reqId: request.id }, 'internal error');
  }
  return reply.code(response.status).headers(response.headers).send(response.body);
}
