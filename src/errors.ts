import { STATUS_CODES } from 'node:http';
/**
 * The one error catalogue. Every error the server can answer with has a stable string code
 * (`HX_ERR_<AREA>_<WHAT>`), an HTTP status and a default message. Clients and tests match on `code`,
 * never on message text. `docs/errors.md` is generated from this table and a test keeps them in sync.
 */
export const ERRORS = {
  // Request framing and media (400/413/415)
  HX_ERR_MEDIA_UNSUPPORTED_TYPE: {
    status: 415,
    message: 'Content-Type is not supported: send image/jpeg, image/png, image/bmp or image/x-raw',
  },
  HX_ERR_MEDIA_UNDECODABLE: { status: 400, message: 'The body is not a decodable JPEG, PNG or BMP image' },
  HX_ERR_MEDIA_EMPTY_BODY: { status: 400, message: 'The request has no body: POST one image' },
  HX_ERR_MEDIA_RAW_PARAMS: {
    status: 400,
    message: 'image/x-raw needs width, height and format (Content-Type parameters, query, headers or config)',
  },
  HX_ERR_MEDIA_RAW_SIZE: { status: 400, message: 'The image/x-raw body length does not match its geometry' },
  HX_ERR_LIMIT_BODY_TOO_LARGE: { status: 413, message: 'The body is larger than maxBodyBytes' },
  HX_ERR_LIMIT_TOO_MANY_PIXELS: { status: 413, message: 'The image has more pixels than maxPixels' },
  HX_ERR_HTTP_BAD_REQUEST: { status: 400, message: 'The request is malformed' },
  HX_ERR_HTTP_BAD_QUERY: { status: 400, message: 'A query parameter is invalid (e.g. ?confidence= not from 0 to 1)' },
  HX_ERR_HTTP_BAD_STREAM: {
    status: 400,
    message: 'The stream id (?stream= or X-Stream-Id) must be 1 to 128 visible ASCII characters',
  },
  HX_ERR_HTTP_NOT_FOUND: { status: 404, message: 'No route at this path' },
  HX_ERR_HTTP_METHOD_NOT_ALLOWED: { status: 405, message: 'Method not allowed at this path' },
  HX_ERR_HTTP_BODY_TIMEOUT: { status: 408, message: 'The request (headers or body) did not arrive in time' },
  HX_ERR_HTTP_HEADERS_TOO_LARGE: { status: 431, message: 'The request headers are too large' },
  HX_ERR_CLIENT_GONE: { status: 400, message: 'The client closed the connection before the answer was ready' },
  // Authentication
  HX_ERR_AUTH_REQUIRED: { status: 401, message: 'Authentication is required' },
  HX_ERR_AUTH_INVALID: { status: 401, message: 'The credentials are not valid' },
  // Capacity (503 always carries Retry-After)
  HX_ERR_CAPACITY_QUEUE_FULL: { status: 503, message: 'The inference queue is full: retry after Retry-After seconds' },
  HX_ERR_CAPACITY_NOT_READY: { status: 503, message: 'The server is starting: retry after Retry-After seconds' },
  HX_ERR_CAPACITY_DRAINING: { status: 503, message: 'The server is shutting down: retry on another instance' },
  HX_ERR_CAPACITY_VIEWERS: {
    status: 503,
    message: 'The console has as many live viewers as it serves: close one, or retry after Retry-After seconds',
  },
  HX_ERR_CAPACITY_CIRCUIT_OPEN: {
    status: 503,
    message:
      "This route's processor keeps crashing its worker: it is paused; retry after Retry-After seconds (other routes serve)",
  },
  HX_ERR_CAPACITY_TIMEOUT: {
    status: 503,
    message: 'The request did not finish within requestTimeoutMs: retry after Retry-After seconds',
  },
  // Processing (500: never leaks internals)
  HX_ERR_PROCESSOR_FAILED: { status: 500, message: 'The processor failed on this frame' },
  HX_ERR_PROCESSOR_INVALID_OUTPUT: { status: 500, message: 'The processor returned inferences off the schema' },
  HX_ERR_WORKER_DIED: { status: 500, message: 'The worker processing this frame stopped; it has been replaced' },
  HX_ERR_SERVER_INTERNAL: { status: 500, message: 'Internal server error' },
  // Boot-time (never an HTTP answer; the process exits with them)
  HX_ERR_CONFIG_INVALID: { status: 500, message: 'The configuration is invalid' },
  HX_ERR_PROCESSOR_LOAD: { status: 500, message: 'A processor could not be loaded' },
  // gRPC front end (a stream's status: FAILED_PRECONDITION or INVALID_ARGUMENT)
  HX_ERR_GRPC_PROTOCOL: {
    status: 400,
    message: 'The gRPC stream broke the contract (descriptor first, then samples, sequence numbers from 1)',
  },
  HX_ERR_GRPC_SHARED_MEMORY: {
    status: 400,
    message: 'The shared memory file cannot be opened, or a ContentReference lies outside it',
  },
  HX_ERR_GRPC_IDLE: {
    status: 408,
    message: 'The gRPC stream sent nothing for grpc.idleTimeoutMs: reconnect to send more',
  },
  HX_ERR_GRPC_CONFIGURATION: {
    status: 400,
    message: 'extension_configuration is neither a route path nor a JSON object with a route and filters',
  },
  // Pipeline runner (`httpextension pipeline`; never an HTTP answer)
  HX_ERR_PIPELINE_TOPOLOGY: { status: 500, message: 'The pipeline topology is invalid' },
  HX_ERR_PIPELINE_UNSUPPORTED: { status: 500, message: 'The topology uses a node type the runner does not support' },
  HX_ERR_PIPELINE_PARAMETER: { status: 500, message: 'A topology parameter has no value' },
  HX_ERR_PIPELINE_SOURCE: { status: 500, message: 'The video source failed' },
  HX_ERR_PIPELINE_EXTENSION: {
    status: 500,
    message:
      'The extension refused the pipeline for good (HTTP 401 or 403, gRPC UNAUTHENTICATED or PERMISSION_DENIED): retrying cannot help',
  },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ERRORS;

/** An error answer's JSON body. */
export interface ErrorBody {
  statusCode: number;
  code: ErrorCode;
  error: string;
  message: string;
  requestId: string;
}

/** The plain shape that crosses worker threads (structured clone drops custom classes and their fields). */
export interface PlainError {
  code: ErrorCode;
  message: string;
}

export class HxError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  /** Extra response headers (e.g. Retry-After for 503, WWW-Authenticate for 401). */
  readonly headers: Readonly<Record<string, string | string[]>>;

  constructor(
    code: ErrorCode,
    message?: string,
    options?: { cause?: unknown; headers?: Record<string, string | string[]> },
  ) {
    super(message ?? ERRORS[code].message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'HxError';
    this.code = code;
    this.status = ERRORS[code].status;
    this.headers = options?.headers ?? {};
  }

  /**
   * The answer any front end sends for this error: the status, its headers and the JSON body (docs/errors.md). A 500
   * never says more than the catalogue does (the log has the detail).
   */
  answer(requestId: string): { status: number; headers: Record<string, string | string[]>; body: ErrorBody } {
    return {
      status: this.status,
      headers: { ...this.headers },
      body: {
        statusCode: this.status,
        code: this.code,
        error: STATUS_CODES[this.status] ?? 'Error',
        message:
          this.status >= 500 && this.code === 'HX_ERR_SERVER_INTERNAL'
            ? ERRORS.HX_ERR_SERVER_INTERNAL.message
            : this.message,
        requestId,
      },
    };
  }

  toPlain(): PlainError {
    return { code: this.code, message: this.message };
  }

  static fromPlain(plain: PlainError): HxError {
    return new HxError(isErrorCode(plain.code) ? plain.code : 'HX_ERR_SERVER_INTERNAL', plain.message);
  }
}

export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.hasOwn(ERRORS, code);
}

export function isHxError(error: unknown): error is HxError {
  return error instanceof HxError;
}
