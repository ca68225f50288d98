import { availableParallelism } from 'node:os';

/** One route: POST to `path` runs `processor` (a built-in name, or a path to the user's processor module). */
export interface RouteConfig {
  path: string;
  processor: string;
  /** Options for the processor, validated by it at boot. */
  options: Record<string, unknown>;
  /** Answer every request with the frame and its inferences drawn (image/jpeg) instead of JSON: the vendor's /annotate. */
  annotate?: boolean;
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
  /** Worker threads running decode + processors. 0 means one per core. */
  workers: number;
  /** Requests allowed to wait for a worker; one more is answered 503 + Retry-After. */
  maxQueuedRequests: number;
  routes: RouteConfig[];
  raw: RawDefaults;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** How long a graceful shutdown waits for requests in flight. */
  shutdownGraceMs: number;
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
  maxQueuedRequests: 64,
  routes: DEFAULT_ROUTES,
  raw: {},
  logLevel: 'info',
  shutdownGraceMs: 10_000,
};

export function effectiveWorkers(config: Pick<Config, 'workers'>): number {
  return config.workers > 0 ? config.workers : Math.max(1, availableParallelism());
}
