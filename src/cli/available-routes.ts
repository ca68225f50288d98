import { isDeepStrictEqual } from 'node:util';
import type { Config } from '../config/defaults.js';
import { DEFAULT_ROUTES } from '../config/schema.js';
import { missingRuntime } from '../processors/registry.js';

/**
 * The default routes this installation can serve: a default route whose built-in processor lacks its optional
 * runtime (onnxruntime-node, when npm could not install it) is left out with one line saying why, so that a bare
 * `httpextension` still serves. Routes the user configured are kept as they are: a missing runtime fails their boot.
 */
export function withAvailableDefaults(config: Readonly<Config>, warn: (line: string) => void): Readonly<Config> {
  if (!isDeepStrictEqual(config.routes, DEFAULT_ROUTES)) return config;
  const routes = config.routes.filter((route) => {
    const missing = missingRuntime(route.processor);
    if (missing !== undefined)
      warn(`httpextension: not serving the default route ${route.path} (${route.processor}): ${missing}`);
    return missing === undefined;
  });
  return routes.length === config.routes.length ? config : { ...config, routes };
}
