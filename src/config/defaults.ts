import { availableParallelism } from 'node:os';

/** One route: POST to `path` runs `processor` (a built-in name, or a path to the user's processor module). */
export interface RouteConfig {
  path: string;
  processor: string;
  /** Options for the processor, validated by it at boot. */
  options: Record<string, unknown>;
  /** Answer every request with the frame and its inferences drawn (image/jpeg) instead of JSON: the vendor's /annotate. */
  annotate?: boolean;
  /** Auth schemes for this route, overriding the server's (`[]` makes it open). */
  auth?: AuthSchemeName[];
  /** Where this route's frames run, overriding the server's `execution`. */
  execution?: ExecutionMode;
}

/** 'workers': worker threads; 'inline': the event loop; 'auto': inline for processors that declare themselves cheap. */
export type ExecutionMode = 'auto' | 'workers' | 'inline';

export type AuthSchemeName = 'basic' | 'digest' | 'bearer' | 'header';

/** Credentials: secrets come from env or files, never from flags. Several may be valid at once (rotation). */
export interface AuthConfig {
  /** Schemes a request may use; empty means no authentication. */
  schemes: AuthSchemeName[];
  realm: string;
  /** Basic and Digest users. */
  users: Array<{ username: string; password?: string; passwordFile?: string; passwords?: string[] }>;
  /** Bearer tokens. */
  tokens: string[];
  tokenFiles: string[];
  /** A custom header and its accepted values (the pipeline's HttpHeaderCredentials). */
  header: { name?: string; values: string[]; valueFiles: string[] };
  digest: { algorithms: Array<'SHA-256' | 'MD5'>; nonceTtlMs: number };
}

export interface TlsConfig {
  /** PEM certificate (with its chain) and key; both or neither. */
  certFile?: string;
  keyFile?: string;
  /** PEM CA bundle: when set, clients must present a certificate it signed. */
  caFile?: string;
  minVersion: 'TLSv1.2' | 'TLSv1.3';
}

export interface MetricsConfig {
  enabled: boolean;
  /** 0 serves /metrics on the main port; another port serves it alone there (plain HTTP). */
  port: number;
  /** Put /metrics behind the server's auth schemes. */
  auth: boolean;
}

/** Geometry for image/x-raw bodies that do not state it themselves (see docs/protocol.md, "Raw frames"). */
export interface RawDefaults {
  width?: number;
  height?: number;
  format?: string;
  strideBytes?: number;
}

export interface Config {
  host: string;
  port: number;
  /** Largest request body accepted, counted while reading (413 beyond). 36 MiB holds a 4096x2160 32-bit raw frame. */
  maxBodyBytes: number;
  /** Largest image accepted, read from the image header before decoding (413 beyond). */
  maxPixels: number;
  /** Deadline for one request from its arrival to its answer, queue wait included (503 beyond). */
  requestTimeoutMs: number;
  /** Worker threads running decode + processors (per process). 0 means one per core. */
  workers: number;
  /**
   * Where frames run, for routes that do not say: 'auto' (the default: on the event loop for processors that
   * declare themselves cheap, colorIntensity and motion, where a thread hand-off costs as much as the work; on worker
   * threads for the others), 'workers' (isolation, a hung processor's worker is replaced) or 'inline'.
   */
  execution: ExecutionMode;
  /** Server processes sharing the port (node:cluster), each with its own workers; 0 means one per core. */
  processes: number;
  /** Requests allowed to wait for a worker; one more is answered 503 + Retry-After. */
  maxQueuedRequests: number;
  routes: RouteConfig[];
  raw: RawDefaults;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** How long a graceful shutdown waits for requests in flight. */
  shutdownGraceMs: number;
  /** Processors (models) must have loaded within this after start, else the server exits non-zero. */
  startupTimeoutMs: number;
  /** A client must finish sending its headers within this (408 beyond). */
  headersTimeoutMs: number;
  /** A client must finish sending its whole request within this (408 beyond). */
  bodyTimeoutMs: number;
  /** An idle keep-alive connection is closed after this. */
  keepAliveTimeoutMs: number;
  /** Open connections allowed at once; further ones are closed on arrival. */
  maxConnections: number;
  /** Largest request head (431 beyond). */
  maxHeaderBytes: number;
  auth: AuthConfig;
  tls: TlsConfig;
  metrics: MetricsConfig;
}

export const DEFAULT_ROUTES: RouteConfig[] = [
  { path: '/score', processor: 'colorIntensity', options: {} },
  { path: '/detect', processor: 'objectDetection', options: {} },
  { path: '/annotate', processor: 'objectDetection', options: {}, annotate: true },
  { path: '/motion', processor: 'motion', options: {} },
  { path: '/ocr', processor: 'ocr', options: {} },
];

export const DEFAULTS: Config = {
  host: '0.0.0.0',
  port: 5001,
  maxBodyBytes: 36 * 1024 * 1024,
  maxPixels: 4096 * 2160,
  requestTimeoutMs: 10_000,
  workers: 0,
  execution: 'auto',
  processes: 1,
  maxQueuedRequests: 64,
  routes: DEFAULT_ROUTES,
  raw: {},
  logLevel: 'info',
  shutdownGraceMs: 10_000,
  startupTimeoutMs: 300_000,
  headersTimeoutMs: 10_000,
  bodyTimeoutMs: 30_000,
  // Pipelines hold one connection per extension node and may send a frame every 5 s (0.2 fps).
  keepAliveTimeoutMs: 65_000,
  maxConnections: 1024,
  maxHeaderBytes: 16 * 1024,
  auth: {
    schemes: [],
    realm: 'httpextension',
    users: [],
    tokens: [],
    tokenFiles: [],
    header: { values: [], valueFiles: [] },
    digest: { algorithms: ['SHA-256', 'MD5'], nonceTtlMs: 300_000 },
  },
  tls: { minVersion: 'TLSv1.2' },
  metrics: { enabled: true, port: 0, auth: false },
};

export function effectiveWorkers(config: Pick<Config, 'workers'>): number {
  return config.workers > 0 ? config.workers : Math.max(1, availableParallelism());
}

export function effectiveProcesses(config: Pick<Config, 'processes'>): number {
  return config.processes > 0 ? config.processes : Math.max(1, availableParallelism());
}
