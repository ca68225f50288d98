import { HxError } from '../errors.js';

/** A topology parameter declaration (`properties.parameters[]`). */
export interface ParameterDeclaration {
  name: string;
  type?: string;
  description?: string;
  default?: unknown;
}

const REFERENCE = /\$\{([^}]*)\}/g;

/**
 * Resolves every `${name}` in the topology's string values, as the vendor did when a live pipeline was activated:
 * the value given for the live pipeline wins over the declared default; a declared parameter with neither is an
 * error, and so is a reference to an undeclared one or a value given for an undeclared one (a typo would otherwise
 * silently run with the default). All problems are reported at once.
 */
export function substituteParameters<T>(
  tree: T,
  declarations: readonly ParameterDeclaration[],
  values: Readonly<Record<string, string>>,
): T {
  const declared = new Map(declarations.map((d) => [d.name, d]));
  const problems: string[] = [];
  for (const name of Object.keys(values)) {
    if (!declared.has(name)) {
      problems.push(`"${name}" is not a parameter of this topology (it has: ${[...declared.keys()].join(', ')})`);
    }
  }
  const resolved = new Map<string, string>();
  for (const d of declarations) {
    const value = values[d.name] ?? (d.default === undefined ? undefined : String(d.default));
    if (value !== undefined) resolved.set(d.name, value);
  }
  const missing = new Set<string>();
  const undeclared = new Set<string>();
  const walk = (node: unknown): unknown => {
    if (typeof node === 'string') {
      return node.replace(REFERENCE, (whole, name: string) => {
        // System variables (`${System.PipelineName}`, ...) belong to the nodes that use them, resolved at run time.
        if (name.startsWith('System.')) return whole;
        const value = resolved.get(name);
        if (value !== undefined) return value;
        if (declared.has(name)) missing.add(name);
        else undeclared.add(name);
        return whole;
      });
    }
    if (Array.isArray(node)) return node.map(walk);
    if (node !== null && typeof node === 'object') {
      const out: Record<string, unknown> = {};
      for (const [key, value] of Object.entries(node)) out[key] = walk(value);
      return out;
    }
    return node;
  };
  const result = walk(tree) as T;
  for (const name of missing) problems.push(`parameter "${name}" has no default: give it with --set ${name}=VALUE`);
  for (const name of undeclared) problems.push(`"\${${name}}" is used but not declared in properties.parameters`);
  if (problems.length > 0) throw new HxError('HX_ERR_PIPELINE_PARAMETER', problems.join('; '));
  return result;
}
