import { randomUUID } from 'node:crypto';
import type { Socket } from 'node:net';
import { HxError } from '../../errors.js';
import type { Metrics } from '../../observability/metrics.js';
import { toErrorResponse } from '../error-response.js';

/**
 * Node's own protocol errors (malformed requests, headers too large, a body too slow), before a request exists:
 * answered in our JSON shape, counted, then the socket closes.
 */
export function clientErrorAnswerer(metrics: Metrics): (error: NodeJS.ErrnoException, socket: Socket) => void {
  return (error, socket) => {
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
  };
}
