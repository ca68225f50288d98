import { RAW_FORMAT_NAMES } from '../inference/pixel-format.js';

const positiveInt = { type: 'integer', minimum: 1 } as const;

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
    'maxQueuedRequests',
    'routes',
    'raw',
    'logLevel',
    'shutdownGraceMs',
  ],
  properties: {
    host: { type: 'string', minLength: 1 },
    port: { type: 'integer', minimum: 0, maximum: 65535 },
    maxBodyBytes: positiveInt,
    maxPixels: positiveInt,
    requestTimeoutMs: positiveInt,
    workers: { type: 'integer', minimum: 0, maximum: 256 },
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
  },
} as const;
