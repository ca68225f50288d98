import { RAW_FORMAT_NAMES } from '../contract/pixel-format.js';

/*
 * The one description of the configuration. Each setting says here what it accepts (JSON Schema), its default, its
 * meaning, its HX_* variable and its flag; the Config type, the defaults, the environment mapping, the CLI flags and
 * their help, and the tables in README.md and docs/configuration.md (`npm run docs:config`) are all derived from it.
 *
 * Our own annotations next to the JSON Schema keywords (Ajv ignores them):
 * - `description`: the meaning, in the docs and in --help; a node with one is a row of the tables.
 * - `env`: its variable. On an array a comma-separated list (`envFormat: 'json'`: JSON); on an array's `items`, the
 *   first element.
 * - `flag`: its commander option spec. Integers parse as whole numbers, enums offer their choices, an array of enums
 *   takes a comma-separated list, the routes one PATH=PROCESSOR per flag, a boolean's flag is its `--no-` form.
 * - `defaultNote`: what the default amounts to, in words or units; `defaultText`: the default as the docs show it,
 *   where the value itself does not read well.
 */

const positiveInt = { type: 'integer', minimum: 1 } as const;
/** A Node timer holds at most a signed 32-bit delay; a longer one fires at once (TimeoutOverflowWarning). */
const TIMER_MAX_MS = 2 ** 31 - 1;
const ms = { type: 'integer', minimum: 1, maximum: TIMER_MAX_MS } as const;
const port = { type: 'integer', minimum: 0, maximum: 65535 } as const;
const authScheme = { enum: ['basic', 'digest', 'bearer', 'header'] } as const;
const schemes = { type: 'array', uniqueItems: true, items: authScheme } as const;
const strings = { type: 'array', items: { type: 'string', minLength: 1 } } as const;
const path = { type: 'string', minLength: 1 } as const;
const paths = { type: 'array', items: path } as const;
const execution = { enum: ['auto', 'workers', 'inline'] } as const;

const routeSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['path', 'processor'],
  properties: {
    path: { type: 'string', pattern: '^/[^?#\\s]*$', description: 'POST path, starting with `/`' },
    processor: {
      type: 'string',
      minLength: 1,
      description: 'a built-in processor name, or the path of your module (relative to the config file)',
    },
    options: { type: 'object', default: {}, description: 'options for the processor, validated by it at boot' },
    annotate: {
      type: 'boolean',
      description: 'answer with the frame and its inferences drawn (image/jpeg) instead of JSON',
    },
    auth: { ...schemes, description: "auth schemes for this route, overriding the server's (`[]` makes it open)" },
    execution: { ...execution, description: "where this route's frames run, overriding the server's `execution`" },
  },
} as const;

/** A route's own keys besides its path and processor: in `--route`, every other key is a processor option. */
export const ROUTE_KEYS: readonly string[] = Object.keys(routeSchema.properties).filter(
  (k) => !['path', 'processor', 'options'].includes(k),
);

/** The routes served when none are configured: one per built-in processor. */
export const DEFAULT_ROUTES = [
  { path: '/score', processor: 'colorIntensity', options: {} },
  { path: '/detect', processor: 'objectDetection', options: {} },
  { path: '/annotate', processor: 'objectDetection', options: {}, annotate: true },
  { path: '/motion', processor: 'motion', options: {} },
  { path: '/ocr', processor: 'ocr', options: {} },
];

/** JSON Schema of the whole configuration: unknown keys are rejected at every level. */
export const configSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    port: {
      ...port,
      default: 5001,
      description: 'TCP port to listen on; 0 picks a free one',
      env: 'HX_PORT',
      flag: '-p, --port <port>',
    },
    host: {
      type: 'string',
      minLength: 1,
      default: '0.0.0.0',
      description: 'listen address',
      env: 'HX_HOST',
      flag: '--host <host>',
    },
    workers: {
      type: 'integer',
      minimum: 0,
      maximum: 256,
      default: 0,
      description:
        'worker threads per process that decode frames and run processors; 0: the CPUs it may use (a cgroup quota counts) shared among the processes',
      env: 'HX_WORKERS',
      flag: '--workers <n>',
    },
    execution: {
      ...execution,
      default: 'auto',
      description:
        "where frames run: `auto`, processors that declare themselves cheap (colorIntensity, motion) on the event loop and the others on worker threads; `workers` or `inline` for every route; a route's own `execution` overrides it",
      env: 'HX_EXECUTION',
      flag: '--execution <mode>',
    },
    processes: {
      type: 'integer',
      minimum: 0,
      maximum: 64,
      default: 0,
      description:
        'server processes sharing the port, each with its own event loop and workers, supervised; 0: one per CPU it may use (a cgroup quota counts)',
      env: 'HX_PROCESSES',
      flag: '--processes <n>',
    },
    maxQueuedRequests: {
      type: 'integer',
      minimum: 0,
      default: 64,
      description: 'requests that may wait for a worker; one more is answered `503` + `Retry-After`',
      env: 'HX_MAX_QUEUED_REQUESTS',
      flag: '--max-queued-requests <n>',
    },
    maxBodyBytes: {
      ...positiveInt,
      default: 36 * 1024 * 1024,
      // Room for a 4096x2160 32-bit raw frame.
      defaultNote: '36 MiB',
      description: 'largest request body, counted while reading (`413` beyond)',
      env: 'HX_MAX_BODY_BYTES',
      flag: '--max-body-bytes <bytes>',
    },
    maxPixels: {
      ...positiveInt,
      default: 4096 * 2160,
      defaultNote: '4096x2160',
      description: 'largest image, read from its header before decoding (`413` beyond)',
      env: 'HX_MAX_PIXELS',
      flag: '--max-pixels <pixels>',
    },
    requestTimeoutMs: {
      ...ms,
      default: 10_000,
      description: 'deadline from the arrival of a request to its answer, queue wait included (`503` beyond)',
      env: 'HX_REQUEST_TIMEOUT_MS',
      flag: '--request-timeout-ms <ms>',
    },
    routes: {
      type: 'array',
      minItems: 1,
      items: routeSchema,
      default: DEFAULT_ROUTES,
      defaultText: DEFAULT_ROUTES.map((r) => `${r.path}=${r.processor}${r.annotate ? ',annotate' : ''}`),
      description:
        "POST path -> processor with its options (repeatable flag `PATH=PROCESSOR[,KEY=VALUE...]`: `annotate`, `auth`, `execution` are the route's, other keys options of the processor, values JSON or text; any route given replaces all the defaults)",
      env: 'HX_ROUTES',
      envFormat: 'json',
      flag: '--route <path=processor,key=value>',
    },
    raw: {
      type: 'object',
      additionalProperties: false,
      properties: {
        width: {
          ...positiveInt,
          description: 'width of `image/x-raw` bodies that do not state it',
          env: 'HX_RAW_WIDTH',
        },
        height: {
          ...positiveInt,
          description: 'height of `image/x-raw` bodies that do not state it',
          env: 'HX_RAW_HEIGHT',
        },
        format: {
          enum: [...RAW_FORMAT_NAMES],
          description: 'pixel format of `image/x-raw` bodies that do not state it',
          env: 'HX_RAW_FORMAT',
        },
        strideBytes: {
          ...positiveInt,
          description: 'bytes per row of `image/x-raw` bodies that state no stride (with `raw.width` and `raw.format`)',
          env: 'HX_RAW_STRIDE_BYTES',
        },
      },
    },
    logLevel: {
      enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'],
      default: 'info',
      description: 'log level',
      env: 'HX_LOG_LEVEL',
      flag: '--log-level <level>',
    },
    shutdownGraceMs: {
      ...ms,
      minimum: 0,
      default: 10_000,
      description: 'how long a graceful shutdown (SIGTERM) waits for requests in flight',
      env: 'HX_SHUTDOWN_GRACE_MS',
      flag: '--shutdown-grace-ms <ms>',
    },
    startupTimeoutMs: {
      ...ms,
      default: 300_000,
      description: 'processors (models) must have loaded within this after start, else `serve` exits 1',
      env: 'HX_STARTUP_TIMEOUT_MS',
      flag: '--startup-timeout-ms <ms>',
    },
    headersTimeoutMs: {
      ...ms,
      default: 10_000,
      description:
        'a client must send its headers within this (`408` beyond; a connection that sends no request at all is closed), counted from its first byte, and from the connection for its first request; a gRPC connection must open its first stream within it; at most `bodyTimeoutMs`',
      env: 'HX_HEADERS_TIMEOUT_MS',
    },
    bodyTimeoutMs: {
      ...ms,
      default: 30_000,
      description: 'a client must send its whole request within this (`408` beyond)',
      env: 'HX_BODY_TIMEOUT_MS',
    },
    keepAliveTimeoutMs: {
      ...ms,
      // Pipelines hold one connection per extension node and may send a frame every 5 s (0.2 fps).
      default: 65_000,
      description: 'an idle keep-alive connection is closed after this',
      env: 'HX_KEEP_ALIVE_TIMEOUT_MS',
    },
    maxConnections: {
      ...positiveInt,
      default: 1024,
      description:
        'open connections allowed at once on each listening port (HTTP, gRPC), shared among the processes of a group; a newcomer over it takes the slot of the oldest connection with no request (gRPC: stream) in progress, else of the oldest HTTP request whose body is still arriving, and is closed on arrival only when every connection has an accepted one',
      env: 'HX_MAX_CONNECTIONS',
    },
    maxConnectionsPerAddress: {
      ...positiveInt,
      default: 256,
      description:
        'open connections allowed at once from one remote address, with the same rule (shared among the processes too): one address cannot hold every slot',
      env: 'HX_MAX_CONNECTIONS_PER_ADDRESS',
    },
    processorFaultLimit: {
      ...positiveInt,
      default: 3,
      description:
        'a route whose processor faults its worker this many times in a row (crashes it, or raises an error no task caught) is paused: `503` `HX_ERR_CAPACITY_CIRCUIT_OPEN` + `Retry-After` while the other routes serve',
      env: 'HX_PROCESSOR_FAULT_LIMIT',
    },
    processorFaultBackoffMs: {
      ...ms,
      default: 1000,
      description:
        'the first pause of such a route; then one frame is tried, and the pause doubles (up to 60 s) while it faults',
      env: 'HX_PROCESSOR_FAULT_BACKOFF_MS',
    },
    workerMaxMemoryMb: {
      ...positiveInt,
      default: 4096,
      description:
        'a worker thread holding more than this after a task (JS heap plus buffers outside it) is replaced before its next task',
      env: 'HX_WORKER_MAX_MEMORY_MB',
    },
    maxHeaderBytes: {
      type: 'integer',
      minimum: 1024,
      default: 16 * 1024,
      description: 'largest request head (`431` beyond)',
      env: 'HX_MAX_HEADER_BYTES',
    },
    auth: {
      type: 'object',
      additionalProperties: false,
      properties: {
        schemes: {
          ...schemes,
          default: [],
          description: 'schemes a request may use: `basic`, `digest`, `bearer`, `header` (none: no authentication)',
          env: 'HX_AUTH',
          flag: '--auth <schemes>',
        },
        users: {
          type: 'array',
          default: [],
          description: 'Basic and Digest users (a password file may hold several passwords, one a line: rotation)',
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['username'],
            properties: {
              username: { type: 'string', minLength: 1, pattern: '^[^:]+$', env: 'HX_AUTH_USERNAME' },
              password: { type: 'string', minLength: 1, env: 'HX_AUTH_PASSWORD' },
              passwordFile: { ...path, env: 'HX_AUTH_PASSWORD_FILE' },
              passwords: strings,
            },
          },
        },
        tokens: { ...strings, default: [], description: 'Bearer tokens', env: 'HX_AUTH_TOKEN' },
        tokenFiles: {
          ...paths,
          default: [],
          description: 'files of Bearer tokens, one a line',
          env: 'HX_AUTH_TOKEN_FILE',
        },
        header: {
          type: 'object',
          additionalProperties: false,
          properties: {
            name: {
              type: 'string',
              pattern: "^[!#$%&'*+.^_`|~0-9A-Za-z-]+$",
              description: "a custom credential header (the pipeline's `HttpHeaderCredentials`)",
              env: 'HX_AUTH_HEADER_NAME',
            },
            values: {
              type: 'array',
              items: { type: 'string', minLength: 1, env: 'HX_AUTH_HEADER_VALUE' },
              default: [],
              description: 'values of that header that are accepted',
            },
            valueFiles: {
              ...paths,
              default: [],
              description: 'files of accepted header values, one a line',
              env: 'HX_AUTH_HEADER_VALUE_FILE',
            },
          },
        },
        realm: {
          type: 'string',
          pattern: '^[^"\\\\]+$',
          default: 'httpextension',
          description: 'realm in Basic and Digest challenges',
          env: 'HX_AUTH_REALM',
        },
        digest: {
          type: 'object',
          additionalProperties: false,
          properties: {
            algorithms: {
              type: 'array',
              minItems: 1,
              uniqueItems: true,
              items: { enum: ['SHA-256', 'MD5'] },
              default: ['SHA-256', 'MD5'],
              description: 'Digest algorithms offered, in this order',
            },
            nonceTtlMs: { ...ms, default: 300_000, description: 'how long a Digest nonce stays valid' },
          },
        },
      },
    },
    tls: {
      type: 'object',
      additionalProperties: false,
      properties: {
        certFile: {
          ...path,
          description: 'PEM certificate (with its chain) and, with `tls.keyFile`, serve HTTPS',
          env: 'HX_TLS_CERT',
          flag: '--tls-cert <file>',
        },
        keyFile: {
          ...path,
          description: 'PEM private key of that certificate',
          env: 'HX_TLS_KEY',
          flag: '--tls-key <file>',
        },
        caFile: {
          ...path,
          description: 'PEM CA bundle: clients must present a certificate it signed',
          env: 'HX_TLS_CA',
          flag: '--tls-ca <file>',
        },
        minVersion: {
          enum: ['TLSv1.2', 'TLSv1.3'],
          default: 'TLSv1.2',
          description: 'oldest TLS version accepted',
          env: 'HX_TLS_MIN_VERSION',
        },
        handshakeTimeoutMs: {
          ...ms,
          // Node's default is 120 s: long enough for idle sockets to hold every slot.
          default: 5000,
          description: 'a client must finish the TLS handshake within this, else the connection is closed',
          env: 'HX_TLS_HANDSHAKE_TIMEOUT_MS',
        },
      },
    },
    metrics: {
      type: 'object',
      additionalProperties: false,
      properties: {
        enabled: {
          type: 'boolean',
          default: true,
          description: 'serve Prometheus metrics at `/metrics`',
          env: 'HX_METRICS',
          flag: '--no-metrics',
        },
        port: {
          ...port,
          default: 0,
          description: 'serve `/metrics` alone on this port, in plain HTTP; 0: on the main port',
          env: 'HX_METRICS_PORT',
          flag: '--metrics-port <port>',
        },
        auth: {
          type: 'boolean',
          default: false,
          description: "put `/metrics` behind the server's auth schemes",
          env: 'HX_METRICS_AUTH',
        },
      },
    },
    console: {
      type: 'object',
      additionalProperties: false,
      properties: {
        enabled: {
          type: 'boolean',
          default: true,
          description:
            "serve the web console at `/` (routes, live figures, each stream's frames with their answers drawn), " +
            "behind the server's auth schemes",
          env: 'HX_CONSOLE',
          flag: '--no-console',
        },
      },
    },
    grpc: {
      type: 'object',
      additionalProperties: false,
      properties: {
        port: {
          ...port,
          description:
            'serve the gRPC extension contract (`MediaGraphExtension`, docs/grpc.md) on this port too, with the ' +
            'same routes, auth and TLS; 0: a free port; unset: off',
          env: 'HX_GRPC_PORT',
          flag: '--grpc-port <port>',
        },
        idleTimeoutMs: {
          ...ms,
          default: 300_000,
          description:
            'end a gRPC stream that has sent nothing for this long and has no frame in flight (a gated pipeline may ' +
            'pause for minutes: keep it long)',
          env: 'HX_GRPC_IDLE_TIMEOUT_MS',
        },
      },
    },
  },
} as const;
