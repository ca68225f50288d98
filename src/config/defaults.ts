import { availableParallelism } from 'node:os';
import { configSchema } from './schema.js';
import type { Resolved } from './schema-type.js';
import { defaultsOf } from './settings.js';

/** The resolved configuration: what src/config/schema.ts accepts, with its defaults filled in. */
export type Config = Resolved<typeof configSchema>;
/** One route: POST to `path` runs `processor` (a built-in name, or a path to the user's processor module). */
export type RouteConfig = Config['routes'][number];
/** Credentials: secrets come from env or files, never from flags. Several may be valid at once (rotation). */
export type AuthConfig = Config['auth'];

export { DEFAULT_ROUTES } from './schema.js';

/** Every default, read from the schema. */
export const DEFAULTS: Readonly<Config> = defaultsOf(configSchema) as Config;

/** `workers` 0: the cores shared among the processes, so that the group runs one model copy per core. */
export function effectiveWorkers(config: Pick<Config, 'workers' | 'processes'>): number {
  if (config.workers > 0) return config.workers;
  return Math.max(1, Math.round(cores() / effectiveProcesses(config)));
}

/**
 * Whether a process has cores beyond its event loop, so that handing a cheap frame to a worker under load gains
 * more than the hand-off costs (see EngineOptions.handOffUnderLoad).
 */
export function sparesCores(config: Pick<Config, 'processes'>): boolean {
  return effectiveProcesses(config) < cores();
}

const cores = (): number => Math.max(1, availableParallelism());

export function effectiveProcesses(config: Pick<Config, 'processes'>): number {
  return config.processes > 0 ? config.processes : cores();
}
