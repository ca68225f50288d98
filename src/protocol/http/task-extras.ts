import type { IncomingHttpHeaders } from 'node:http';
import type { RouteConfig } from '../../config/defaults.js';
import { HxError } from '../../errors.js';

/** The header a client may use instead of `?stream=` to say which video stream a frame belongs to. */
export const STREAM_HEADER = 'x-stream-id';
const SAFE_STREAM = /^[\x21-\x7e]{1,128}$/;

/**
 * What the front end adds to an inference task beyond the frame: the stream key (for stateful processors such as
 * motion) and whether to answer the annotated image instead of JSON (an `annotate` route, or an Accept header that
 * prefers image/jpeg to application/json).
 */
export function taskExtras(
  routes: readonly RouteConfig[],
  key: string,
  headers: IncomingHttpHeaders,
  query: Readonly<Record<string, string>>,
): { stream: string; image: boolean } {
  const header = headers[STREAM_HEADER];
  const named = query.stream ?? (Array.isArray(header) ? header[0] : header) ?? '';
  // Refused, not merged into the shared stream: two cameras' frames would be compared with each other.
  if (named !== '' && !SAFE_STREAM.test(named)) throw new HxError('HX_ERR_HTTP_BAD_STREAM');
  const stream = named;
  const route = routes.find((r) => r.path === key);
  return { stream, image: route?.annotate === true || prefersJpeg(headers.accept) };
}

/** RFC 9110 §12.5.1 content negotiation reduced to the two types we can answer: true if image/jpeg wins. */
export function prefersJpeg(accept: string | undefined): boolean {
  if (accept === undefined || accept.trim() === '') return false;
  let jpeg = 0;
  let json = 0;
  for (const part of accept.split(',')) {
    const [range = '', ...params] = part.split(';').map((s) => s.trim().toLowerCase());
    const qParam = params.find((p) => p.startsWith('q='));
    const q = qParam === undefined ? 1 : Number(qParam.slice(2)) || 0;
    if (range === 'image/jpeg' || range === 'image/*') jpeg = Math.max(jpeg, q);
    if (range === 'application/json' || range === 'application/*') json = Math.max(json, q);
    if (range === '*/*') {
      jpeg = Math.max(jpeg, q * 0.999);
      json = Math.max(json, q);
    }
  }
  return jpeg > json;
}
