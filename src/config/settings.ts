import { configSchema } from './schema.js';

/** A node of the configuration schema as the walkers below read it: JSON Schema plus our annotations. */
export interface SchemaNode {
  type?: string;
  enum?: readonly unknown[];
  properties?: Readonly<Record<string, SchemaNode>>;
  items?: SchemaNode;
  required?: readonly string[];
  default?: unknown;
  minimum?: number;
  maximum?: number;
  minItems?: number;
  description?: string;
  env?: string;
  envFormat?: 'json';
  flag?: string;
  defaultNote?: string;
  defaultText?: readonly string[];
}

/** How an HX_* variable's text becomes a value: coerced by the schema, split at commas, or parsed as JSON. */
export type EnvKind = 'scalar' | 'list' | 'json';

export interface EnvVariable {
  name: string;
  /** Config path it sets; a numeric segment is an array index (the first user, the first header value). */
  path: readonly string[];
  kind: EnvKind;
}

/** One documented setting: a row of the configuration tables, and at most one CLI flag. */
export interface Setting {
  path: readonly string[];
  /** Dotted path, as the docs name it (`auth.schemes`). */
  key: string;
  node: SchemaNode;
  description: string;
  /** Its variables: one, or several for a list of objects (the user's name, password and password file). */
  env: EnvVariable[];
  flag: string | undefined;
}

const ROOT = configSchema as unknown as SchemaNode;

/** The default a node resolves to: its own, or for an object those of its properties; undefined when it has none. */
export function defaultsOf(node: SchemaNode): unknown {
  if ('default' in node) return structuredClone(node.default);
  if (node.type !== 'object' || node.properties === undefined) return undefined;
  const out: Record<string, unknown> = {};
  for (const [key, child] of Object.entries(node.properties)) {
    const value = defaultsOf(child);
    if (value !== undefined) out[key] = value;
  }
  return out;
}

function collectEnv(node: SchemaNode, path: readonly string[], out: EnvVariable[]): void {
  if (node.env !== undefined) {
    const kind: EnvKind = node.envFormat === 'json' ? 'json' : node.type === 'array' ? 'list' : 'scalar';
    out.push({ name: node.env, path, kind });
  }
  for (const [key, child] of Object.entries(node.properties ?? {})) collectEnv(child, [...path, key], out);
  if (node.items !== undefined) collectEnv(node.items, [...path, '0'], out);
}

function collectSettings(node: SchemaNode, path: readonly string[], out: Setting[]): void {
  if (node.description !== undefined) {
    const env: EnvVariable[] = [];
    collectEnv(node, path, env);
    out.push({ path, key: path.join('.'), node, description: node.description, env, flag: node.flag });
    return;
  }
  for (const [key, child] of Object.entries(node.properties ?? {})) collectSettings(child, [...path, key], out);
}

/** Every setting, in the schema's order. */
export const SETTINGS: readonly Setting[] = (() => {
  const out: Setting[] = [];
  collectSettings(ROOT, [], out);
  return out;
})();

/** The settings of one element of a list of objects (a route), for the docs. */
export function itemSettings(setting: Setting): Setting[] {
  const out: Setting[] = [];
  for (const [key, child] of Object.entries(setting.node.items?.properties ?? {})) {
    if (child.description !== undefined) collectSettings(child, [key], out);
  }
  return out;
}

/**
 * Environment variables and the config path each one sets. Secrets (passwords, tokens, header values) come from
 * here or from files, never from flags.
 */
export const ENV_VARIABLES: ReadonlyMap<string, EnvVariable> = new Map(
  SETTINGS.flatMap((s) => s.env).map((variable) => [variable.name, variable]),
);

/** The default as the docs and --help show it: values (empty: none) and what they amount to. */
export function describeDefault(node: SchemaNode): { values: string[]; note: string | undefined } {
  const value = defaultsOf(node);
  let values: string[];
  if (node.defaultText !== undefined) values = [...node.defaultText];
  else if (Array.isArray(value)) values = value.map(String);
  else if (value === undefined) values = [];
  else values = [typeof value === 'object' ? JSON.stringify(value) : String(value)];
  return { values, note: node.defaultNote };
}

const quoted = (values: readonly unknown[]): string => values.map((v) => `\`${String(v)}\``).join(', ');

/** What a node accepts, in words, for the reference table. */
export function describeType(node: SchemaNode): string {
  if (node.enum !== undefined) return `one of ${quoted(node.enum)}`;
  if (node.type === 'array') {
    const items = node.items ?? {};
    const what =
      items.enum !== undefined ? quoted(items.enum) : items.type === 'object' ? 'objects (below)' : `${items.type}s`;
    return `list of ${what}${node.minItems ? `, at least ${node.minItems}` : ''}`;
  }
  if (node.type === 'integer') {
    if (node.maximum !== undefined) return `integer ${node.minimum ?? 0} to ${node.maximum}`;
    return node.minimum === undefined ? 'integer' : `integer >= ${node.minimum}`;
  }
  return node.type ?? 'any';
}
