import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { extname } from 'node:path';
import { createSecureContext } from 'node:tls';
import type { Options, ValidateFunction } from 'ajv';
import { HxError } from '../errors.js';
import { compileSchema } from '../schema/compile.js';
import { formatAjvError } from '../schema/validate.js';
import { type Config, DEFAULTS } from './defaults.js';
import { configSchema } from './schema.js';
import { ENV_VARIABLES } from './settings.js';

type Layer = Record<string, unknown>;

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

/** Compiled on first use: a supervisor and each server process validate once, tests many times. */
/** Types from strings (environment variables, flags), defaults written in, every problem at once. */
export const CONFIG_VALIDATION: Options = { allErrors: true, coerceTypes: true, useDefaults: true, strict: false };

let validate: ValidateFunction | undefined;

/**
 * The one validation of a configuration, for `serve` and `config` alike: the schema, then every rule that spans
 * settings or needs a file, so that `httpextension config` refuses what `serve` would.
 */
export function validateConfig(candidate: Layer, problems: string[] = []): Readonly<Config> {
  validate ??= compileSchema(configSchema, CONFIG_VALIDATION);
  if (!validate(candidate)) problems.push(...(validate.errors ?? []).map(formatAjvError));
  const config = candidate as unknown as Config;
  if (problems.length === 0) {
    resolveSecrets(config, problems);
    checkAuth(config, problems);
    checkTls(config.tls, problems);
    checkRoutes(config.routes, problems);
    checkListeners(config, problems);
  }
  if (problems.length > 0) {
    throw new HxError('HX_ERR_CONFIG_INVALID', `Invalid configuration:\n  - ${problems.join('\n  - ')}`);
  }
  return deepFreeze(config);
}

/** Non-empty trimmed lines: secret files hold one secret a line. */
function secretLines(text: string): string[] {
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean);
}

/** Reads secret files into the config (each read once, at boot); a missing file is a config problem. */
function resolveSecrets(config: Config, problems: string[]): void {
  const read = (file: string, what: string): string[] => {
    try {
      return secretLines(readFileSync(file, 'utf8'));
    } catch (error) {
      problems.push(`${what}: cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
      return [];
    }
  };
  const { auth } = config;
  for (const [i, user] of auth.users.entries()) {
    const passwords = [...(user.passwords ?? [])];
    if (user.password !== undefined) passwords.push(user.password);
    if (user.passwordFile !== undefined) passwords.push(...read(user.passwordFile, `auth.users[${i}].passwordFile`));
    user.passwords = passwords;
    delete user.password;
  }
  for (const file of auth.tokenFiles) auth.tokens.push(...read(file, 'auth.tokenFiles'));
  for (const file of auth.header.valueFiles) auth.header.values.push(...read(file, 'auth.header.valueFiles'));
}

function checkAuth(config: Config, problems: string[]): void {
  const { auth } = config;
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
}

/** The files must exist and make a usable TLS context (PEM that parses, a key that matches the certificate). */
function checkTls(tls: Config['tls'], problems: string[]): void {
  if ((tls.certFile === undefined) !== (tls.keyFile === undefined)) {
    problems.push('tls: certFile and keyFile go together (--tls-cert and --tls-key)');
  }
  if (tls.caFile !== undefined && tls.certFile === undefined) problems.push('tls: caFile needs certFile and keyFile');
  const pem: Partial<Record<'cert' | 'key' | 'ca', Buffer>> = {};
  for (const [name, file] of [
    ['cert', tls.certFile],
    ['key', tls.keyFile],
    ['ca', tls.caFile],
  ] as const) {
    if (file === undefined) continue;
    try {
      pem[name] = readFileSync(file);
    } catch (error) {
      problems.push(`tls: cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  }
  if (pem.cert === undefined || pem.key === undefined) return;
  try {
    createSecureContext({ ...pem, minVersion: tls.minVersion });
  } catch (error) {
    problems.push(`tls: ${tls.certFile} and ${tls.keyFile} cannot serve HTTPS (${(error as Error).message})`);
  }
}

function checkRoutes(routes: Config['routes'], problems: string[]): void {
  const paths = new Set<string>();
  for (const route of routes) {
    if (paths.has(route.path)) problems.push(`routes: path ${route.path} appears twice`);
    paths.add(route.path);
    if (route.path.startsWith('/health/') || route.path === '/metrics') {
      problems.push(`routes: path ${route.path} is reserved`);
    }
  }
}

/** Combinations Node's HTTP server or the second listener would refuse at start. */
function checkListeners(config: Config, problems: string[]): void {
  if (config.headersTimeoutMs > config.bodyTimeoutMs) {
    problems.push(
      `headersTimeoutMs (${config.headersTimeoutMs}) must not exceed bodyTimeoutMs (${config.bodyTimeoutMs})`,
    );
  }
  const { metrics } = config;
  if (metrics.enabled && metrics.port !== 0 && metrics.port === config.port) {
    problems.push(`metrics.port: ${metrics.port} is the main port (0 serves /metrics there)`);
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

/** The layer the HX_* variables make (unknown ones and malformed JSON are problems). */
export function envToLayer(env: NodeJS.ProcessEnv, problems: string[]): Layer {
  const layer: Layer = {};
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith('HX_') || value === undefined) continue;
    const key = ENV_VARIABLES.get(name);
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

/** The YAML parser, loaded only for a YAML file: most starts read none. */
function parseYaml(text: string): unknown {
  return (createRequire(import.meta.url)('yaml') as typeof import('yaml')).parse(text);
}
