import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { Ajv } from 'ajv';
import { parse as parseYaml } from 'yaml';
import { HxError } from '../errors.js';
import { formatAjvError } from '../schema/validate.js';
import { type Config, DEFAULTS } from './defaults.js';
import { configSchema } from './schema.js';

type Layer = Record<string, unknown>;

/** Environment variables and the config path each one sets. Values are strings, coerced by the schema. */
export const ENV_KEYS: Readonly<Record<string, readonly string[]>> = {
  HX_HOST: ['host'],
  HX_PORT: ['port'],
  HX_MAX_BODY_BYTES: ['maxBodyBytes'],
  HX_MAX_PIXELS: ['maxPixels'],
  HX_REQUEST_TIMEOUT_MS: ['requestTimeoutMs'],
  HX_WORKERS: ['workers'],
  HX_MAX_QUEUED_REQUESTS: ['maxQueuedRequests'],
  HX_ROUTES: ['routes'],
  HX_RAW_WIDTH: ['raw', 'width'],
  HX_RAW_HEIGHT: ['raw', 'height'],
  HX_RAW_FORMAT: ['raw', 'format'],
  HX_RAW_STRIDE_BYTES: ['raw', 'strideBytes'],
  HX_LOG_LEVEL: ['logLevel'],
  HX_SHUTDOWN_GRACE_MS: ['shutdownGraceMs'],
};

/** Variables that are read elsewhere (not config keys) and so are not "unknown". */
const ENV_OTHER = new Set(['HX_CONFIG']);

export interface LoadOptions {
  /** Path of a JSON or YAML file (flag --config, else HX_CONFIG). */
  file?: string | undefined;
  env?: NodeJS.ProcessEnv;
  /** Values from command-line flags, already keyed by config path. */
  flags?: Layer;
}

/**
 * Resolves the configuration: defaults < file < environment (HX_*) < flags. Validated once; every problem is
 * reported together in one HX_ERR_CONFIG_INVALID; the result is deep-frozen and passed down explicitly.
 */
export function loadConfig(options: LoadOptions = {}): Readonly<Config> {
  const env = options.env ?? process.env;
  const problems: string[] = [];
  const file = options.file ?? env.HX_CONFIG;
  const fileLayer = file === undefined ? {} : readConfigFile(file, problems);
  const envLayer = envToLayer(env, problems);
  const merged = mergeLayers(structuredClone(DEFAULTS) as unknown as Layer, fileLayer, envLayer, options.flags ?? {});
  return validateConfig(merged, problems);
}

export function validateConfig(candidate: Layer, problems: string[] = []): Readonly<Config> {
  const ajv = new Ajv({ allErrors: true, coerceTypes: true, useDefaults: true, strict: false });
  const validate = ajv.compile(configSchema);
  if (!validate(candidate)) problems.push(...(validate.errors ?? []).map(describeConfigError));
  const config = candidate as unknown as Config;
  if (problems.length === 0) {
    const paths = new Set<string>();
    for (const route of config.routes) {
      if (paths.has(route.path)) problems.push(`routes: path ${route.path} appears twice`);
      paths.add(route.path);
      if (route.path.startsWith('/health/') || route.path === '/metrics') {
        problems.push(`routes: path ${route.path} is reserved`);
      }
    }
  }
  if (problems.length > 0) {
    throw new HxError('HX_ERR_CONFIG_INVALID', `Invalid configuration:\n  - ${problems.join('\n  - ')}`);
  }
  return deepFreeze(config);
}

function describeConfigError(error: Parameters<typeof formatAjvError>[0]): string {
  if (error.keyword === 'additionalProperties') {
    const key = (error.params as { additionalProperty: string }).additionalProperty;
    return `${error.instancePath || '/'}: unknown key "${key}"`;
  }
  if (error.keyword === 'enum') {
    const allowed = (error.params as { allowedValues: unknown[] }).allowedValues;
    return `${error.instancePath}: must be one of ${allowed.join(', ')}`;
  }
  return formatAjvError(error);
}

function readConfigFile(path: string, problems: string[]): Layer {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    problems.push(`config file ${path}: ${(error as Error).message}`);
    return {};
  }
  try {
    const ext = extname(path).toLowerCase();
    const parsed: unknown = ext === '.json' ? JSON.parse(text) : parseYaml(text);
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      problems.push(`config file ${path}: must hold an object`);
      return {};
    }
    return parsed as Layer;
  } catch (error) {
    problems.push(`config file ${path}: ${(error as Error).message}`);
    return {};
  }
}

function envToLayer(env: NodeJS.ProcessEnv, problems: string[]): Layer {
  const layer: Layer = {};
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith('HX_') || value === undefined) continue;
    const path = ENV_KEYS[name];
    if (path === undefined) {
      if (!ENV_OTHER.has(name)) problems.push(`environment: unknown variable ${name}`);
      continue;
    }
    let parsed: unknown = value;
    if (name === 'HX_ROUTES') {
      try {
        parsed = JSON.parse(value);
      } catch {
        problems.push(`environment: ${name} must be JSON (an array of routes)`);
        continue;
      }
    }
    setPath(layer, path, parsed);
  }
  return layer;
}

export function setPath(target: Layer, path: readonly string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (next === null || typeof next !== 'object' || Array.isArray(next)) node[key] = {};
    node = node[key] as Layer;
  }
  node[path[path.length - 1] as string] = value;
}

/** Later layers win; objects merge key by key, arrays and scalars replace. */
export function mergeLayers(...layers: Layer[]): Layer {
  const out: Layer = {};
  for (const layer of layers) mergeInto(out, layer);
  return out;
}

function mergeInto(target: Layer, source: Layer): void {
  for (const [key, value] of Object.entries(source)) {
    if (value === undefined) continue;
    const existing = target[key];
    if (isPlainObject(value) && isPlainObject(existing)) mergeInto(existing, value);
    else target[key] = isPlainObject(value) ? mergeLayers(value) : value;
  }
}

function isPlainObject(value: unknown): value is Layer {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}
