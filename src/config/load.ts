import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { Ajv } from 'ajv';
import { parse as parseYaml } from 'yaml';
import { HxError } from '../errors.js';
import { formatAjvError } from '../schema/validate.js';
import { type Config, DEFAULTS } from './defaults.js';
import { configSchema } from './schema.js';

type Layer = Record<string, unknown>;

type EnvKind = 'scalar' | 'list' | 'json';

/**
 * Environment variables and the config path each one sets. Scalars are strings coerced by the schema; lists are
 * comma-separated. Secrets (passwords, tokens, header values) come from here or from files, never from flags.
 */
export const ENV_KEYS: Readonly<Record<string, { path: readonly string[]; kind: EnvKind }>> = {
  HX_HOST: { path: ['host'], kind: 'scalar' },
  HX_PORT: { path: ['port'], kind: 'scalar' },
  HX_MAX_BODY_BYTES: { path: ['maxBodyBytes'], kind: 'scalar' },
  HX_MAX_PIXELS: { path: ['maxPixels'], kind: 'scalar' },
  HX_REQUEST_TIMEOUT_MS: { path: ['requestTimeoutMs'], kind: 'scalar' },
  HX_WORKERS: { path: ['workers'], kind: 'scalar' },
  HX_EXECUTION: { path: ['execution'], kind: 'scalar' },
  HX_PROCESSES: { path: ['processes'], kind: 'scalar' },
  HX_MAX_QUEUED_REQUESTS: { path: ['maxQueuedRequests'], kind: 'scalar' },
  HX_ROUTES: { path: ['routes'], kind: 'json' },
  HX_RAW_WIDTH: { path: ['raw', 'width'], kind: 'scalar' },
  HX_RAW_HEIGHT: { path: ['raw', 'height'], kind: 'scalar' },
  HX_RAW_FORMAT: { path: ['raw', 'format'], kind: 'scalar' },
  HX_RAW_STRIDE_BYTES: { path: ['raw', 'strideBytes'], kind: 'scalar' },
  HX_LOG_LEVEL: { path: ['logLevel'], kind: 'scalar' },
  HX_SHUTDOWN_GRACE_MS: { path: ['shutdownGraceMs'], kind: 'scalar' },
  HX_STARTUP_TIMEOUT_MS: { path: ['startupTimeoutMs'], kind: 'scalar' },
  HX_HEADERS_TIMEOUT_MS: { path: ['headersTimeoutMs'], kind: 'scalar' },
  HX_BODY_TIMEOUT_MS: { path: ['bodyTimeoutMs'], kind: 'scalar' },
  HX_KEEP_ALIVE_TIMEOUT_MS: { path: ['keepAliveTimeoutMs'], kind: 'scalar' },
  HX_MAX_CONNECTIONS: { path: ['maxConnections'], kind: 'scalar' },
  HX_MAX_HEADER_BYTES: { path: ['maxHeaderBytes'], kind: 'scalar' },
  HX_AUTH: { path: ['auth', 'schemes'], kind: 'list' },
  HX_AUTH_REALM: { path: ['auth', 'realm'], kind: 'scalar' },
  HX_AUTH_USERNAME: { path: ['auth', 'users', '0', 'username'], kind: 'scalar' },
  HX_AUTH_PASSWORD: { path: ['auth', 'users', '0', 'password'], kind: 'scalar' },
  HX_AUTH_PASSWORD_FILE: { path: ['auth', 'users', '0', 'passwordFile'], kind: 'scalar' },
  HX_AUTH_TOKEN: { path: ['auth', 'tokens'], kind: 'list' },
  HX_AUTH_TOKEN_FILE: { path: ['auth', 'tokenFiles'], kind: 'list' },
  HX_AUTH_HEADER_NAME: { path: ['auth', 'header', 'name'], kind: 'scalar' },
  HX_AUTH_HEADER_VALUE: { path: ['auth', 'header', 'values', '0'], kind: 'scalar' },
  HX_AUTH_HEADER_VALUE_FILE: { path: ['auth', 'header', 'valueFiles'], kind: 'list' },
  HX_TLS_CERT: { path: ['tls', 'certFile'], kind: 'scalar' },
  HX_TLS_KEY: { path: ['tls', 'keyFile'], kind: 'scalar' },
  HX_TLS_CA: { path: ['tls', 'caFile'], kind: 'scalar' },
  HX_TLS_MIN_VERSION: { path: ['tls', 'minVersion'], kind: 'scalar' },
  HX_METRICS: { path: ['metrics', 'enabled'], kind: 'scalar' },
  HX_METRICS_PORT: { path: ['metrics', 'port'], kind: 'scalar' },
  HX_METRICS_AUTH: { path: ['metrics', 'auth'], kind: 'scalar' },
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
  if (!validate(candidate)) problems.push(...(validate.errors ?? []).map(formatAjvError));
  const config = candidate as unknown as Config;
  if (problems.length === 0) {
    resolveSecrets(config, problems);
    checkAuthAndTls(config, problems);
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

/** Reads secret files into the config (each read once, at boot); a missing file is a config problem. */
function resolveSecrets(config: Config, problems: string[]): void {
  const read = (file: string, what: string): string | undefined => {
    try {
      return readFileSync(file, 'utf8').trim();
    } catch (error) {
      problems.push(`${what}: cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
      return undefined;
    }
  };
  const { auth } = config;
  for (const [i, user] of auth.users.entries()) {
    const passwords = [...(user.passwords ?? [])];
    if (user.password !== undefined) passwords.push(user.password);
    if (user.passwordFile !== undefined) {
      const secret = read(user.passwordFile, `auth.users[${i}].passwordFile`);
      if (secret)
        passwords.push(
          ...secret
            .split('\n')
            .map((line) => line.trim())
            .filter(Boolean),
        );
    }
    user.passwords = passwords;
    delete user.password;
  }
  for (const file of auth.tokenFiles) {
    const secret = read(file, 'auth.tokenFiles');
    if (secret)
      auth.tokens.push(
        ...secret
          .split('\n')
          .map((line) => line.trim())
          .filter(Boolean),
      );
  }
  auth.header.values ??= [];
  for (const file of auth.header.valueFiles ?? []) {
    const secret = read(file, 'auth.header.valueFiles');
    if (secret)
      auth.header.values.push(
        ...secret
          .split('\n')
          .map((line) => line.trim())
          .filter(Boolean),
      );
  }
}

function checkAuthAndTls(config: Config, problems: string[]): void {
  const { auth, tls } = config;
  const used = new Set([...auth.schemes, ...config.routes.flatMap((r) => r.auth ?? [])]);
  if ((used.has('basic') || used.has('digest')) && auth.users.length === 0) {
    problems.push('auth: basic/digest need a user (HX_AUTH_USERNAME with HX_AUTH_PASSWORD or HX_AUTH_PASSWORD_FILE)');
  }
  for (const [i, user] of auth.users.entries()) {
    if ((user.passwords ?? []).length === 0) problems.push(`auth.users[${i}] (${user.username}) has no password`);
  }
  if (used.has('bearer') && auth.tokens.length === 0) {
    problems.push('auth: bearer needs a token (HX_AUTH_TOKEN or HX_AUTH_TOKEN_FILE)');
  }
  if (used.has('header') && (auth.header.name === undefined || auth.header.values.length === 0)) {
    problems.push('auth: header needs HX_AUTH_HEADER_NAME and HX_AUTH_HEADER_VALUE (or HX_AUTH_HEADER_VALUE_FILE)');
  }
  if ((tls.certFile === undefined) !== (tls.keyFile === undefined)) {
    problems.push('tls: certFile and keyFile go together (--tls-cert and --tls-key)');
  }
  if (tls.caFile !== undefined && tls.certFile === undefined) problems.push('tls: caFile needs certFile and keyFile');
  for (const file of [tls.certFile, tls.keyFile, tls.caFile]) {
    if (file === undefined) continue;
    try {
      readFileSync(file);
    } catch (error) {
      problems.push(`tls: cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  }
}

const REDACTED = '[redacted]';

/** The config with every secret replaced, for `httpextension config` and the start-up log line. */
export function redactConfig(config: Readonly<Config>): unknown {
  const copy = structuredClone(config) as Config;
  copy.auth.users = copy.auth.users.map((user) => ({
    username: user.username,
    ...(user.passwordFile ? { passwordFile: user.passwordFile } : {}),
    passwords: (user.passwords ?? []).map(() => REDACTED),
  }));
  copy.auth.tokens = copy.auth.tokens.map(() => REDACTED);
  copy.auth.header.values = copy.auth.header.values.map(() => REDACTED);
  return copy;
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
    const key = ENV_KEYS[name];
    if (key === undefined) {
      if (!ENV_OTHER.has(name)) problems.push(`environment: unknown variable ${name}`);
      continue;
    }
    let parsed: unknown = value;
    if (key.kind === 'list') {
      parsed = value
        .split(',')
        .map((item) => item.trim())
        .filter(Boolean);
    } else if (key.kind === 'json') {
      try {
        parsed = JSON.parse(value);
      } catch {
        problems.push(`environment: ${name} must be JSON`);
        continue;
      }
    }
    setPath(layer, key.path, parsed);
  }
  return layer;
}

/** Sets a value at a path; a numeric segment makes (or indexes) an array, e.g. ['auth','users','0','username']. */
export function setPath(target: Layer, path: readonly string[], value: unknown): void {
  let node: Layer | unknown[] = target;
  for (const [i, key] of path.slice(0, -1).entries()) {
    const wantArray = /^\d+$/.test(path[i + 1] as string);
    const container = node as Record<string, unknown>;
    const next = container[key];
    const ok = wantArray ? Array.isArray(next) : next !== null && typeof next === 'object' && !Array.isArray(next);
    if (!ok) container[key] = wantArray ? [] : {};
    node = container[key] as Layer | unknown[];
  }
  (node as Record<string, unknown>)[path[path.length - 1] as string] = value;
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
