import { RAW_FORMAT_NAMES } from '../inference/pixel-format.js';

const positiveInt = { type: 'integer', minimum: 1 } as const;
const schemes = { type: 'array', uniqueItems: true, items: { enum: ['basic', 'digest', 'bearer', 'header'] } } as const;
const strings = { type: 'array', items: { type: 'string', minLength: 1 } } as const;
const path = { type: 'string', minLength: 1 } as const;

/** JSON Schema of the whole configuration: unknown keys are rejected at every level. */
export const configSchema = {
  type: 'object',
  additionalProperties: false,
  required: [
    'host',
    'port',
    'maxBodyBytes',
    'maxPixels',
    'requestTimeoutMs',
    'workers',
    'execution',
    'processes',
    'maxQueuedRequests',
    'routes',
    'raw',
    'logLevel',
    'shutdownGraceMs',
    'startupTimeoutMs',
    'headersTimeoutMs',
    'bodyTimeoutMs',
    'keepAliveTimeoutMs',
    'maxConnections',
    'maxHeaderBytes',
    'auth',
    'tls',
    'metrics',
  ],
  properties: {
    host: { type: 'string', minLength: 1 },
    port: { type: 'integer', minimum: 0, maximum: 65535 },
    maxBodyBytes: positiveInt,
    maxPixels: positiveInt,
    requestTimeoutMs: positiveInt,
    workers: { type: 'integer', minimum: 0, maximum: 256 },
    execution: { enum: ['auto', 'workers', 'inline'] },
    processes: { type: 'integer', minimum: 0, maximum: 64 },
    maxQueuedRequests: { type: 'integer', minimum: 0 },
    routes: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['path', 'processor'],
        properties: {
          path: { type: 'string', pattern: '^/[^?#\\s]*$' },
          processor: { type: 'string', minLength: 1 },
          options: { type: 'object', default: {} },
          annotate: { type: 'boolean' },
          auth: schemes,
          execution: { enum: ['auto', 'workers', 'inline'] },
        },
      },
    },
    raw: {
      type: 'object',
      additionalProperties: false,
      properties: {
        width: positiveInt,
        height: positiveInt,
        format: { enum: [...RAW_FORMAT_NAMES] },
        strideBytes: positiveInt,
      },
    },
    logLevel: { enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] },
    shutdownGraceMs: { type: 'integer', minimum: 0 },
    startupTimeoutMs: { type: 'integer', minimum: 1 },
    headersTimeoutMs: positiveInt,
    bodyTimeoutMs: positiveInt,
    keepAliveTimeoutMs: positiveInt,
    maxConnections: positiveInt,
    maxHeaderBytes: { type: 'integer', minimum: 1024 },
    auth: {
      type: 'object',
      additionalProperties: false,
      required: ['schemes', 'realm', 'users', 'tokens', 'tokenFiles', 'header', 'digest'],
      properties: {
        schemes,
        realm: { type: 'string', pattern: '^[^"\\\\]+$' },
        users: {
          type: 'array',
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['username'],
            properties: {
              username: { type: 'string', minLength: 1, pattern: '^[^:]+$' },
              password: { type: 'string', minLength: 1 },
              passwordFile: path,
              passwords: strings,
            },
          },
        },
        tokens: strings,
        tokenFiles: { type: 'array', items: path },
        header: {
          type: 'object',
          additionalProperties: false,
          properties: {
            name: { type: 'string', pattern: "^[!#$%&'*+.^_`|~0-9A-Za-z-]+$" },
            values: strings,
            valueFiles: { type: 'array', items: path },
          },
        },
        digest: {
          type: 'object',
          additionalProperties: false,
          properties: {
            algorithms: { type: 'array', minItems: 1, uniqueItems: true, items: { enum: ['SHA-256', 'MD5'] } },
            nonceTtlMs: positiveInt,
          },
        },
      },
    },
    tls: {
      type: 'object',
      additionalProperties: false,
      properties: {
        certFile: path,
        keyFile: path,
        caFile: path,
        minVersion: { enum: ['TLSv1.2', 'TLSv1.3'] },
      },
    },
    metrics: {
      type: 'object',
      additionalProperties: false,
      properties: {
        enabled: { type: 'boolean' },
        port: { type: 'integer', minimum: 0, maximum: 65535 },
        auth: { type: 'boolean' },
      },
    },
  },
} as const;
