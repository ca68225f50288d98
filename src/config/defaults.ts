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

export function effectiveWorkers(config: Pick<Config, 'workers'>): number {
  return config.workers > 0 ? config.workers : Math.max(1, availableParallelism());
}

export function effectiveProcesses(config: Pick<Config, 'processes'>): number {
  return config.processes > 0 ? config.processes : Math.max(1, availableParallelism());
}
