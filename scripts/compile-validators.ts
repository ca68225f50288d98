/**
 * Compiles, at build time (`npm run build`), a validator for every JSON Schema the package ships: the configuration,
 * the strict inference schema, model.json and each built-in processor's options. Each is written as standalone code
 * under dist/src/schema/validators/, named by its content (src/schema/compile.ts), so that no thread compiles one at
 * start. A schema missing here (a user's processor) is compiled when it is first used.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv, type Options } from 'ajv';
import standalone from 'ajv/dist/standalone/index.js';
import { CONFIG_VALIDATION } from '../src/config/load.js';
import { configSchema } from '../src/config/schema.js';
import { MODEL_JSON_VALIDATION, modelJsonSchema } from '../src/processors/onnx/model-config.js';
import { OPTIONS_VALIDATION } from '../src/processors/options.js';
import { BUILT_IN_PROCESSORS, loadProcessor, resolveProcessorUrl } from '../src/processors/registry.js';
import { PRECOMPILED_DIR, validatorKey } from '../src/schema/compile.js';
import { strictInferenceSchema } from '../src/schema/strict-schema.js';
import { INFERENCE_VALIDATION } from '../src/schema/validate.js';

export async function shippedSchemas(): Promise<Array<{ name: string; schema: object; options: Options }>> {
  const schemas: Array<{ name: string; schema: object; options: Options }> = [
    { name: 'configuration', schema: configSchema, options: CONFIG_VALIDATION },
    { name: 'inference', schema: strictInferenceSchema, options: INFERENCE_VALIDATION },
    { name: 'model.json', schema: modelJsonSchema, options: MODEL_JSON_VALIDATION },
  ];
  for (const name of BUILT_IN_PROCESSORS) {
    const definition = await loadProcessor(resolveProcessorUrl(name));
    if (definition.options !== undefined) {
      schemas.push({ name: `${name} options`, schema: definition.options, options: OPTIONS_VALIDATION });
    }
  }
  return schemas;
}

/** The standalone module of one schema: CommonJS, which `compileSchema` loads synchronously. */
export function validatorSource(schema: object, options: Options): string {
  const ajv = new Ajv({ ...options, code: { ...options.code, source: true } });
  return standalone.default(ajv, ajv.compile(schema));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  rmSync(PRECOMPILED_DIR, { recursive: true, force: true });
  mkdirSync(PRECOMPILED_DIR, { recursive: true });
  for (const { schema, options } of await shippedSchemas()) {
    writeFileSync(`${PRECOMPILED_DIR}${validatorKey(schema, options)}.cjs`, validatorSource(schema, options));
  }
}
