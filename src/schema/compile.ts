import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { Options, ValidateFunction } from 'ajv';

const require = createRequire(import.meta.url);

/** Where the build writes the validators of every schema the package ships (scripts/compile-validators.ts). */
export const PRECOMPILED_DIR = fileURLToPath(new URL('./validators/', import.meta.url));

/** A schema and the ajv options it is compiled with, as one name: the same pair always finds the same file. */
export function validatorKey(schema: object, options: Options): string {
  return createHash('sha256')
    .update(JSON.stringify([options, schema]))
    .digest('hex')
    .slice(0, 32);
}

/**
 * A validator for `schema`: the one compiled at build time when the package ships the schema, else compiled now.
 * Compiling costs every thread that validates (the main thread and each worker) a tenth of a second or more at each
 * start; a file keyed by the schema's content cannot go stale, and a user's processor schema still just works.
 */
export function compileSchema(schema: object, options: Options): ValidateFunction {
  const file = `${PRECOMPILED_DIR}${validatorKey(schema, options)}.cjs`;
  if (existsSync(file)) return require(file) as ValidateFunction;
  const { Ajv } = require('ajv') as typeof import('ajv');
  return new Ajv(options).compile(schema);
}
