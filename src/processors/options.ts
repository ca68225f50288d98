import type { Options, ValidateFunction } from 'ajv';
import type { ProcessorDefinition } from '../contract/processor.js';
import { compileSchema } from '../schema/compile.js';
import { formatAjvError } from '../schema/validate.js';

export const OPTIONS_VALIDATION: Options = { allErrors: true, useDefaults: true, strict: false };
const compiled = new WeakMap<object, ValidateFunction>();

/**
 * A route's raw options made into the options its processor is created with: validated against the processor's
 * JSON Schema (every problem at once, in the configuration's message format), defaults filled in, then the
 * processor's own `parseOptions` for what a schema cannot say. The same on the main thread at boot and in each
 * worker. Throws an Error listing every problem.
 */
export function processorOptions(definition: ProcessorDefinition, raw: Readonly<Record<string, unknown>>): unknown {
  // Defaults are written into a copy: the configuration keeps what the operator wrote.
  const options = structuredClone(raw) as Record<string, unknown>;
  if (definition.options !== undefined) {
    let validate = compiled.get(definition.options);
    if (validate === undefined) {
      validate = compileSchema(definition.options, OPTIONS_VALIDATION);
      compiled.set(definition.options, validate);
    }
    if (!validate(options)) throw new Error((validate.errors ?? []).map(formatAjvError).join('; '));
  } else if (definition.parseOptions === undefined && Object.keys(options).length > 0) {
    throw new Error(`${definition.name} takes no options (got ${Object.keys(options).join(', ')})`);
  }
  return definition.parseOptions === undefined ? options : definition.parseOptions(options);
}
