import cluster from 'node:cluster';
import { createRequire } from 'node:module';
import { type Logger, pino } from 'pino';
import type PinoPretty from 'pino-pretty';

/** Header and field names whose values never reach a log line. */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers["proxy-authorization"]',
  'headers.authorization',
  '*.password',
  '*.token',
  '*.headerValue',
];

/** Structured JSON logs (one line per event); readable colour output when stdout is a terminal. */
export function createLogger(level: string, options: { pretty?: boolean } = {}): Logger {
  // Several server processes (the `processes` setting) share one log stream: each line then says which one wrote it.
  const service = cluster.isWorker ? { service: 'httpextension', pid: process.pid } : { service: 'httpextension' };
  const base = { level, redact: { paths: REDACTED_PATHS, censor: '[redacted]' }, base: service };
  if (options.pretty ?? process.stdout.isTTY) {
    // Loaded only for a terminal: a server logging JSON (containers, tests) does not pay for it at every start.
    const pretty = createRequire(import.meta.url)('pino-pretty') as typeof PinoPretty;
    return pino(base, pretty({ colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,service' }));
  }
  return pino(base);
}
