import { type ErrorBody, type ErrorCode, HxError, isErrorCode, isHxError } from '../errors.js';

export type { ErrorBody } from '../errors.js';

/** Fastify's and Node's own error codes, mapped into our catalogue. */
const FOREIGN_CODES: Readonly<Record<string, ErrorCode>> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'HX_ERR_LIMIT_BODY_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'HX_ERR_MEDIA_UNSUPPORTED_TYPE',
  FST_ERR_CTP_EMPTY_TYPE: 'HX_ERR_MEDIA_UNSUPPORTED_TYPE',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'HX_ERR_HTTP_BAD_REQUEST',
  FST_ERR_BAD_URL: 'HX_ERR_HTTP_BAD_REQUEST',
  FST_ERR_ASYNC_CONSTRAINT: 'HX_ERR_HTTP_BAD_REQUEST',
};

/**
 * The one place that turns any error into a response. HxErrors keep their code, status and headers; anything else
 * is a 500 whose message never leaks internals (the log has the detail).
 */
export function toErrorResponse(
  error: unknown,
  requestId: string,
): { status: number; headers: Record<string, string | string[]>; body: ErrorBody } {
  return normalise(error).answer(requestId);
}

function normalise(error: unknown): HxError {
  if (isHxError(error)) return error;
  const e = error as { code?: unknown; statusCode?: unknown; message?: unknown } | null;
  const code = typeof e?.code === 'string' ? e.code : undefined;
  if (code !== undefined && isErrorCode(code)) return new HxError(code, String(e?.message ?? ''));
  const mapped = code === undefined ? undefined : FOREIGN_CODES[code];
  if (mapped !== undefined) return new HxError(mapped, undefined, { cause: error });
  const status = typeof e?.statusCode === 'number' ? e.statusCode : 500;
  if (status === 413) return new HxError('HX_ERR_LIMIT_BODY_TOO_LARGE', undefined, { cause: error });
  if (status === 415) return new HxError('HX_ERR_MEDIA_UNSUPPORTED_TYPE', undefined, { cause: error });
  if (status >= 400 && status < 500) return new HxError('HX_ERR_HTTP_BAD_REQUEST', undefined, { cause: error });
  return new HxError('HX_ERR_SERVER_INTERNAL', undefined, { cause: error });
}
