import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { shippedSchemas, validatorSource } from '../scripts/compile-validators.js';
import { compileSchema, PRECOMPILED_DIR, validatorKey } from '../src/schema/compile.js';

test('every schema the package ships has its validator compiled by the build, as the schema is now', async () => {
  const schemas = await shippedSchemas();
  assert.deepEqual(
    schemas.map((s) => s.name),
    [
      'configuration',
      'inference',
      'model.json',
      'colorIntensity options',
      'objectDetection options',
      'motion options',
      'onnx options',
      'ocr options',
    ],
  );
  for (const { name, schema, options } of schemas) {
    const file = `${PRECOMPILED_DIR}${validatorKey(schema, options)}.cjs`;
    assert.equal(readFileSync(file, 'utf8'), validatorSource(schema, options), name);
  }
});

test('a schema the build did not see (a user processor) is compiled when first used', () => {
  const schema = { type: 'object', additionalProperties: false, properties: { n: { type: 'integer', default: 3 } } };
  const validate = compileSchema(schema, { allErrors: true, useDefaults: true });
  const data: Record<string, unknown> = {};
  assert.equal(validate(data), true);
  assert.deepEqual(data, { n: 3 });
  assert.equal(validate({ m: 1 }), false);
  assert.deepEqual(
    validate.errors?.map((e) => [e.keyword, e.instancePath]),
    [['additionalProperties', '']],
  );
});
